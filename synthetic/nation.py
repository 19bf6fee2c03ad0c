"""A simulated nation: any municipality's city at a scale, and many of them laid out for the many-cities flow.

A city laid out here is `generate_city` with the municipality's 団体コード in its file names and its
都道府県名 + 市区町村名 in the records; its towns stay the project's town list (data/reference/towns.csv).
"""

from __future__ import annotations

import datetime
import os
import re
import secrets
import time
from pathlib import Path
from typing import Callable

import yaml

import schemas
from schemas.change_file import town_names
from synthetic.city import generate_city

MIN_RESIDENTS = 40  # a city smaller than this has too few households for every kind of day to happen
SUBSCRIBERS_YAML = Path(schemas.__file__).parent / "subscribers.yaml"
KEY_ENV = re.compile(r"^(\s*key_env:\s*)JUKI_(\w+)\s*$", re.MULTILINE)


class LayoutError(ValueError):
    """A municipality or a folder the layout cannot use."""


def _reference():
    from schemas import municipalities

    return municipalities


def residents_for(population: int, scale: float) -> int:
    """The city's size at a scale: its population × scale, at least MIN_RESIDENTS."""
    return max(round(population * scale), MIN_RESIDENTS)


def full_name(m) -> str:
    """都道府県名 + 市区町村名, as a 本籍 in the municipality is written (e.g. 埼玉県川口市)."""
    return f"{m.prefecture}{m.name}"


def city_seed(code: str, seed: int) -> int:
    """A city's own seed: the same city whichever others are laid out beside it."""
    return seed * 1_000_000 + int(code)


def find(code: str):
    """The municipality (not a 区 of a designated city: its register is the city's) of a 団体コード."""
    try:
        m = _reference().municipality(str(code).strip())
    except (KeyError, LookupError, ValueError):
        m = None
    if m is None:
        raise LayoutError(f"{code} is not a 団体コード of data/reference/municipalities.csv")
    if m.kind == "ward":
        raise LayoutError(f"{code} ({full_name(m)}) is a 区 of {m.parent_code}: lay out the designated city")
    return m


def generate_municipality(out_dir: str | Path, code: str, scale: float = 1.0, residents: int | None = None,
                          days: int = 20, start: datetime.date = datetime.date(2026, 4, 1), seed: int = 1,
                          progress: Callable[[str], None] | None = None,
                          pool_seed: int | None = None) -> list[Path]:
    """The municipality's city (population × scale residents, or `residents`) as change files in out_dir."""
    m = find(code)
    size = residents if residents is not None else residents_for(m.population, scale)
    return generate_city(out_dir, residents=size, days=days, start=start, seed=seed, progress=progress,
                         municipality_code=m.municipality_code, city_name=full_name(m), pool_seed=pool_seed)


def choose(cities: int | None = None, codes: list[str] | None = None, prefecture: str | None = None) -> list:
    """The municipalities to lay out, by 団体コード: the listed codes, else a prefecture's, else all 1,741;
    `cities` N takes N of them spread over the prefectures (the largest of each prefecture, then the second
    largest of each, …; ties by code)."""
    every = [m for m in _reference().municipalities() if m.kind != "ward"]
    if codes:
        chosen = [find(c) for c in dict.fromkeys(codes)]
    elif prefecture:
        chosen = [m for m in every if m.prefecture_code == str(prefecture).zfill(2)]
        if not chosen:
            raise LayoutError(f"no municipality has the prefecture code {prefecture}")
    else:
        chosen = every
    if cities is not None:
        if cities < 1:
            raise LayoutError("--cities must be at least 1")
        by_prefecture: dict[str, list] = {}
        for m in sorted(chosen, key=lambda m: (-m.population, m.municipality_code)):
            by_prefecture.setdefault(m.prefecture_code, []).append(m)
        rounds = max(len(ms) for ms in by_prefecture.values())
        spread = [ms[i] for i in range(rounds) for _p, ms in sorted(by_prefecture.items()) if i < len(ms)]
        chosen = spread[:cities]
    return sorted(chosen, key=lambda m: m.municipality_code)


def ward_blocks(towns: list[str], wards: list[tuple[str, int]]) -> list[tuple[str, str]]:
    """(town_code, ward_code): the towns in order split into contiguous blocks, one per ward in order, sized in
    proportion to the wards' populations (every ward at least one town while there are towns enough)."""
    total = sum(max(p, 1) for _w, p in wards)
    n, k = len(towns), len(wards)
    out, start, cumulative = [], 0, 0
    for i, (ward, population) in enumerate(wards):
        cumulative += max(population, 1)
        end = round(n * cumulative / total)
        if n >= k:
            end = min(max(end, start + 1), n - (k - i - 1))
        out.extend((t, ward) for t in towns[start:end])
        start = end
    return out


def subscribers_text(code: str) -> str:
    """schemas/subscribers.yaml with the city's own key variables (JUKI_<code>_<SUBSCRIBER>_KEY)."""
    text = SUBSCRIBERS_YAML.read_text(encoding="utf-8")
    listed = (yaml.safe_load(text) or {}).get("subscribers") or {}
    renamed, count = KEY_ENV.subn(lambda m: f"{m.group(1)}JUKI_{code}_{m.group(2)}", text)
    if count != len(listed):  # a subscriber without key_env would share the default variable across cities
        raise LayoutError(f"{SUBSCRIBERS_YAML.name}: every subscriber needs a key_env to lay out cities")
    return f"# {code}'s subscribers: schemas/subscribers.yaml with the city's own key variables\n" + renamed


def key_variables(subscribers_yaml: str) -> list[str]:
    """The key variables a subscribers YAML names."""
    return [f"JUKI_{m.group(2)}" for m in KEY_ENV.finditer(subscribers_yaml)]


def _write_private(path: Path, text: str) -> None:
    """A new file only its owner can read (it holds keys)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(text)


def layout(out_dir: str | Path, municipalities: list, scale: float = 0.0001, days: int = 5,
           start: datetime.date = datetime.date(2026, 4, 1), seed: int = 1,
           progress: Callable[[str], None] | None = None) -> dict:
    """Lay out the municipalities under out_dir for the many-cities flow: cities.yaml, keys.env and per city
    <code>/inbox/ (its generated files), <code>/subscribers.yaml and, for a designated city, <code>/wards.csv."""
    say = progress or (lambda _msg: None)
    out = Path(out_dir)
    if (out / "cities.yaml").exists() or (out / "keys.env").exists():
        raise LayoutError(f"{out} already holds a layout (cities.yaml or keys.env): choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    every = _reference().municipalities()
    towns = sorted(town_names())
    began = last_said = time.monotonic()
    entries, keys, residents_total, files_total = [], [], 0, 0
    for k, m in enumerate(municipalities, 1):
        code = m.municipality_code
        residents = residents_for(m.population, scale)
        paths = generate_city(out / code / "inbox", residents=residents, days=days, start=start,
                              seed=city_seed(code, seed), municipality_code=code, city_name=full_name(m),
                              pool_seed=seed)
        subscribers = subscribers_text(code)
        (out / code / "subscribers.yaml").write_text(subscribers, encoding="utf-8")
        keys.extend(key_variables(subscribers))
        entry = {"name": full_name(m), "municipality_code": code, "city_name": full_name(m),
                 "store": f"{code}/registry.duckdb", "inbox": f"{code}/inbox",
                 "subscribers": f"{code}/subscribers.yaml", "stats": f"{code}/stats"}
        wards = sorted(((w.municipality_code, w.population) for w in every
                        if w.kind == "ward" and w.parent_code == code))
        if m.kind == "designated_city" and wards:
            rows = ward_blocks(towns, wards)
            (out / code / "wards.csv").write_text("town_code,ward_code\n" + "".join(f"{t},{w}\n" for t, w in rows),
                                                 encoding="utf-8")
            entry["wards"] = f"{code}/wards.csv"
        entries.append(entry)
        residents_total += residents
        files_total += len(paths)
        now = time.monotonic()
        if k == len(municipalities) or now - last_said >= 2 or k == 1:
            say(f"[{k}/{len(municipalities)}] {code} {full_name(m)}: {residents:,} residents, "
                f"{len(paths)} files ({now - began:.0f} s)")
            last_said = now
    header = (f"# juki nation layout: {len(entries)} municipalities at scale {scale} ({residents_total:,} residents), "
              f"{days} days from {start}, seed {seed}\n# paths are relative to this file's folder; the keys are in "
              "keys.env beside it\n")
    (out / "cities.yaml").write_text(header + yaml.safe_dump({"cities": entries}, allow_unicode=True,
                                                             sort_keys=False), encoding="utf-8")
    _write_private(out / "keys.env", "# AES-256 keys of the cities' subscribers (64 hex digits each); "
                                     "`set -a; . ./keys.env; set +a` to use them in a shell\n"
                   + "".join(f"{name}={secrets.token_hex(32)}\n" for name in keys))
    return {"cities": len(entries), "residents": residents_total, "files": files_total,
            "seconds": round(time.monotonic() - began, 1)}
