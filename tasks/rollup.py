"""The national roll-up: every city's statistics files for a date, checked, summed and laid out as the survey's tables.

Pure functions on frames (read, check, aggregate, lay out); flows/rollup.py wires them. The rules of the period
and of the balance are in docs/decisions.md ("National roll-up").
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import fsspec
import polars as pl

from juki_core.cities import CitiesError, load_cities as read_cities_file
from tasks.stats_report import age_rows, movement_rows

NATION = ("000000", "全国", "")
KEYS = ("nationality_group", "sex")
GROUPS = ("japanese", "foreign")
ADDITIONS = ("moved_in_domestic", "moved_in_abroad", "births", "other_additions")
REMOVALS = ("moved_out_domestic", "moved_out_abroad", "deaths", "other_removals")
# the movement table's columns (movements.sql), as movement_rows reads them
MOVEMENTS = (*ADDITIONS, "additions", *REMOVALS, "removals", "net_change", "natural_change", "social_change",
             "moves_within")
BALANCE_COLUMNS = (*KEYS, "period_from", "period_to", "residents_before", *MOVEMENTS, "sex_only_changes",
                   "residents_after")
SUMMED = (*MOVEMENTS, "sex_only_changes")
STATUS_COLUMN = "集計状況"
REPORTED, MISSING, FAILING = "reported", "missing", "failing"
READERS = 8  # files are read in threads: the time goes in waiting for storage, not in Python


CitiesFileError = CitiesError  # refused with the error many-cities refuses a cities file with


@dataclass(frozen=True)
class CityFiles:
    """Where one city's statistics are: its stats/ URI and, for a 政令指定都市, its town -> ward CSV."""

    name: str
    municipality_code: str
    stats: str
    wards: str | None = None


@dataclass
class CityResult:
    """One expected municipality after reading and checking: its status and, when reported, its summed frames."""

    code: str
    status: str
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    period_from: dt.date | None = None
    population: pl.DataFrame | None = None  # unit_code, sex, age_group, nationality_group, residents
    households: pl.DataFrame | None = None  # unit_code, household_type, households
    balance: pl.DataFrame | None = None  # one row per key over the period: residents_before, SUMMED, residents_after


def load_cities(path: str | Path) -> list[CityFiles]:
    """The cities of a cities YAML (`cities: [{name, municipality_code, store, stats?, wards?}, …]`)."""
    cities, seen = [], set()
    for i, entry in enumerate(read_cities_file(path), 1):
        code, name = str(entry.get("municipality_code") or ""), str(entry.get("name") or "")
        if not (len(code) == 6 and code.isdigit()):
            raise CitiesFileError(f"{path}: city {i} ({name or 'no name'}): municipality_code must be 6 digits, "
                                  f"not {code!r}")
        if code in seen:
            raise CitiesFileError(f"{path}: municipality_code {code} is listed twice")
        seen.add(code)
        if entry.get("stats"):
            stats = str(entry["stats"])
        elif entry.get("store"):
            stats = str(Path(str(entry["store"])).parent / "stats")
        else:
            raise CitiesFileError(f"{path}: city {i} ({code}) has neither `stats` nor `store`")
        cities.append(CityFiles(name or code, code, stats, str(entry["wards"]) if entry.get("wards") else None))
    return cities


# --- reading -------------------------------------------------------------------------------------------------

def _read_parquet(fs, path: str) -> pl.DataFrame:
    with fs.open(path, "rb") as f:
        return pl.read_parquet(f)


def balance_dates(fs, root: str, date_from: dt.date, date_to: dt.date) -> list[dt.date]:
    """The statistics dates in date_from..date_to that have a balance file (each file's period ends on its date)."""
    if date_from == date_to:
        return [date_to] if fs.exists(f"{root}/{date_to.isoformat()}/balance.parquet") else []
    # one listing of the date folders, then a look into those of the period only: a glob of */balance.parquet
    # walks every date folder of the city's history (~240 a year: 18 ms a city on a local disk, 31 s a nation)
    try:
        folders = fs.ls(root, detail=False)
    except FileNotFoundError:
        return []
    found = []
    for path in folders:
        try:
            day = dt.date.fromisoformat(path.rstrip("/").rsplit("/", 1)[-1])
        except ValueError:
            continue
        if date_from <= day <= date_to and fs.exists(f"{root}/{day.isoformat()}/balance.parquet"):
            found.append(day)
    return sorted(found)


def read_city(city: CityFiles, date_to: dt.date, date_from: dt.date | None = None,
              ward_names: dict[str, str] | None = None) -> CityResult:
    """Read and check one city's statistics for date_from..date_to; never raises for what its files hold."""
    date_from = date_from or date_to
    code = city.municipality_code
    try:
        fs, root = fsspec.core.url_to_fs(city.stats.rstrip("/"))
        root = root.rstrip("/")
        day = f"{root}/{date_to.isoformat()}"
        absent = [name for name in ("population", "households") if not fs.exists(f"{day}/{name}.parquet")]
    except Exception as exc:  # storage that cannot be reached (a protocol not installed, credentials, network)
        return CityResult(code, MISSING, f"cannot reach {city.stats} ({type(exc).__name__})")
    if absent:
        return CityResult(code, MISSING, f"no {' or '.join(f'{n}.parquet' for n in absent)} "
                                         f"in {city.stats.rstrip('/')}/{date_to.isoformat()}/")
    current = f"{day}/population.parquet"
    try:
        population = _read_parquet(fs, current)
        current = f"{day}/households.parquet"
        households = _read_parquet(fs, current)
        dates = balance_dates(fs, root, date_from, date_to)
        balances = []
        for d in dates:
            current = f"{root}/{d.isoformat()}/balance.parquet"
            balances.append(_read_parquet(fs, current))
        wards = None
        if city.wards:
            current = city.wards
            with fsspec.open(city.wards, "rb") as f:
                wards = pl.read_csv(f, schema_overrides={"town_code": pl.String, "ward_code": pl.String})
    except Exception as exc:  # a file the city wrote cannot be read: the city fails, the others go on
        return CityResult(code, FAILING, f"cannot read {current.rsplit('/', 1)[-1]} "
                                         f"({type(exc).__name__})")
    if not balances:
        return CityResult(code, FAILING, f"no balance.parquet for {date_to}: a date up to the last BASELINE has "
                                         f"none, nor does a closed day's date first written after a later date "
                                         f"(its days are in that date's file)")
    summed, period_from, problems = check_city(balances, population, date_from, date_to)
    units, ward_problems = town_units(population, households, code, wards, ward_names)
    problems += ward_problems
    if problems:
        return CityResult(code, FAILING, "; ".join(problems), period_from=period_from)
    notes = []
    if city.wards is None and ward_names:
        notes.append("no wards file: its 区 rows are not written")
    return CityResult(code, REPORTED, notes=notes, period_from=period_from, population=units[0],
                      households=units[1], balance=summed)


def read_cities(cities: list[CityFiles], date_to: dt.date, date_from: dt.date | None = None,
                ward_names: dict[str, dict[str, str]] | None = None) -> dict[str, CityResult]:
    """read_city for every city, a few at a time; municipality code -> result."""
    ward_names = ward_names or {}
    with ThreadPoolExecutor(READERS) as pool:
        results = pool.map(lambda c: read_city(c, date_to, date_from, ward_names.get(c.municipality_code)), cities)
        return {r.code: r for r in results}


# --- checking ------------------------------------------------------------------------------------------------

def _key(row: dict) -> str:
    return f"({row['nationality_group']}, sex {row['sex']})"


def file_problems(rows: list[dict]) -> list[str]:
    """Rows of one balance file that break its own identities (before + net = after; the sums of the parts)."""
    problems = []
    for row in rows:
        additions, removals = sum(row[c] for c in ADDITIONS), sum(row[c] for c in REMOVALS)
        for broken, text in ((row["residents_before"] + row["net_change"] != row["residents_after"],
                              "before + net_change ≠ after"),
                             (additions != row["additions"], "additions ≠ the sum of its parts"),
                             (removals != row["removals"], "removals ≠ the sum of its parts"),
                             (row["additions"] - row["removals"] != row["net_change"],
                              "additions − removals ≠ net_change")):
            if broken:
                problems.append(f"balance of {row['period_to']} {_key(row)}: {text}")
    return problems


def _by_key(rows: list[dict], column: str) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row["nationality_group"], row["sex"])
        out[key] = out.get(key, 0) + (row[column] or 0)
    return out


def _differ(left: dict, right: dict) -> list[tuple[tuple[str, str], int, int]]:
    """Keys whose values differ, a key absent on one side counting 0; in key order."""
    return [(k, left.get(k, 0), right.get(k, 0)) for k in sorted(set(left) | set(right))
            if left.get(k, 0) != right.get(k, 0)]


def _key_text(key: tuple[str, str]) -> str:
    return f"({key[0]}, sex {key[1]})"


def check_city(balances: list[pl.DataFrame], population: pl.DataFrame, date_from: dt.date,
               date_to: dt.date) -> tuple[pl.DataFrame, dt.date | None, list[str]]:
    """Check a city's balance files (in date order) for the period and sum them; (summed, period start, problems).

    The files must chain: each period starts the day after the previous one ends, the first starts on or before
    date_from, the last ends on date_to, and each file's residents_before is the previous file's residents_after
    (else an earlier date's files were rewritten after a later date's were written, e.g. by a second file for
    that date: a chain break). The period's residents_after must be the
    population file's residents by key."""
    # a file is a few rows (one per key): checked in Python, not by a polars query per condition
    files = [b.to_dicts() for b in balances]
    problems: list[str] = []
    periods = []
    for rows in files:
        found = {(str(r["period_from"]), str(r["period_to"])) for r in rows}
        if len(found) != 1:
            return _NO_BALANCE, None, [f"a balance file holds {len(found)} periods, not one"]
        start, end = found.pop()
        periods.append((dt.date.fromisoformat(start), dt.date.fromisoformat(end)))
        problems += file_problems(rows)
    period_from = periods[0][0]
    if period_from > date_from:
        problems.append(f"the balance files start on {period_from}, after {date_from}: "
                        f"{date_from}..{period_from - dt.timedelta(days=1)} is in none of them")
    if periods[-1][1] != date_to:
        problems.append(f"the last balance file ends on {periods[-1][1]}, not {date_to}")
    breaks = []
    for (_, end), (start, later), before, after in zip(periods, periods[1:], files, files[1:]):
        if start <= end:  # a date's file written after the next date's took days that file had counted
            problems.append(f"the balance files overlap: the {later} file's period starts on {start}, not after "
                            f"the {end} file's, which ends on {end} (its days counted twice)")
            continue
        if start != end + dt.timedelta(days=1):
            problems.append(f"the balance files leave a gap: {end + dt.timedelta(days=1)}.."
                            f"{start - dt.timedelta(days=1)} is in none of them")
            continue
        breaks += [(later, end, key, published, restated) for key, published, restated
                   in _differ(_by_key(before, "residents_after"), _by_key(after, "residents_before"))]
    if breaks:
        later, end, key, published, restated = breaks[0]
        dates = sorted({b[0].isoformat() for b in breaks})
        problems.append(f"{len(breaks)} chain break(s) in the files of {', '.join(dates[:5])}"
                        f"{' …' if len(dates) > 5 else ''} (an earlier date was rewritten after a later one was "
                        f"written), first: the {later} file's residents_before {_key_text(key)} {restated} ≠ "
                        f"the {end} file's residents_after {published}")
    first, last = _by_key(files[0], "residents_before"), _by_key(files[-1], "residents_after")
    sums = {c: _by_key([r for rows in files for r in rows], c) for c in SUMMED}
    keys = sorted(set(first) | set(last) | {k for v in sums.values() for k in v})
    summed = pl.DataFrame([{"nationality_group": k[0], "sex": k[1], "residents_before": first.get(k, 0),
                            **{c: sums[c].get(k, 0) for c in SUMMED}, "residents_after": last.get(k, 0)}
                           for k in keys], schema=_NO_BALANCE.schema)
    for key, expected, after in ([] if breaks else  # a break is named once, not again as the period's sum
                                 _differ({k: first.get(k, 0) + sums["net_change"].get(k, 0) for k in keys}, last)):
        problems.append(f"{date_from}..{date_to} {_key_text(key)}: residents_before + Σ net_change = {expected} ≠ "
                        f"residents_after {after}")
    counted = {(g, s): int(n) for g, s, n in population.group_by(KEYS).agg(pl.col("residents").sum()).iter_rows()}
    for key, after, residents in _differ(last, counted):
        problems.append(f"{date_to} {_key_text(key)}: balance residents_after {after} ≠ population.parquet "
                        f"residents {residents}")
    return summed, period_from, problems


_NO_BALANCE = pl.DataFrame(schema={"nationality_group": pl.String, "sex": pl.String, "residents_before": pl.Int64}
                           | {c: pl.Int64 for c in SUMMED} | {"residents_after": pl.Int64})


def town_units(population: pl.DataFrame, households: pl.DataFrame, code: str, wards: pl.DataFrame | None,
               ward_names: dict[str, str] | None) -> tuple[tuple[pl.DataFrame, pl.DataFrame], list[str]]:
    """Population and households by unit (the city, or each 区 by the wards file), without towns; and problems."""
    if wards is None:
        return ((population.group_by("sex", "age_group", "nationality_group").agg(pl.col("residents").sum())
                 .with_columns(unit_code=pl.lit(code)),
                 households.group_by("household_type").agg(pl.col("households").sum())
                 .with_columns(unit_code=pl.lit(code))), [])
    problems = []
    if set(wards.columns) < {"town_code", "ward_code"}:
        return (population, households), ["the wards file has no town_code,ward_code columns"]
    if wards["town_code"].is_duplicated().any():
        problems.append("the wards file maps a town to more than one ward")
    if ward_names is not None:
        strays = sorted(set(wards["ward_code"]) - set(ward_names))
        if strays:
            problems.append(f"the wards file names {', '.join(strays)}, not a 区 of {code} in the reference list")
    mapping = wards.select("town_code", unit_code="ward_code").unique("town_code")
    towns = set(population["town_code"]) | set(households["town_code"])
    unmapped = sorted(towns - set(mapping["town_code"]))
    if unmapped:
        problems.append(f"town(s) {', '.join(unmapped[:5])}{' …' if len(unmapped) > 5 else ''} "
                        f"in no ward of the wards file")
    pop = (population.join(mapping, on="town_code", how="left")
           .group_by("unit_code", "sex", "age_group", "nationality_group").agg(pl.col("residents").sum()))
    hh = (households.join(mapping, on="town_code", how="left")
          .group_by("unit_code", "household_type").agg(pl.col("households").sum()))
    return (pop, hh), problems


# --- laying out ----------------------------------------------------------------------------------------------

def expected_codes(reference: list, cities: list[CityFiles], expect: str) -> list[str]:
    """The municipalities that must report: every one of the reference list (nation) or those listed."""
    known = {m.municipality_code: m for m in reference}
    strangers = [c.municipality_code for c in cities if c.municipality_code not in known]
    if strangers:
        raise CitiesFileError(f"municipality_code {', '.join(strangers)} is not in the reference list "
                              f"(data/reference/municipalities.csv)")
    wards = [c.municipality_code for c in cities if known[c.municipality_code].kind == "ward"]
    if wards:
        raise CitiesFileError(f"{', '.join(wards)} is a 区 of a 政令指定都市: list the city, with its wards file")
    if expect == "nation":
        return sorted(m.municipality_code for m in reference if m.kind != "ward")
    return sorted(c.municipality_code for c in cities)


def ward_names(reference: list) -> dict[str, dict[str, str]]:
    """Designated city code -> {ward code: name} from the reference list."""
    out: dict[str, dict[str, str]] = {}
    for m in reference:
        if m.kind == "ward":
            out.setdefault(m.parent_code, {})[m.municipality_code] = m.name
    return out


def _state(missing: int, failing: int) -> str:
    return "完了" if not (missing or failing) else f"不完全（未報告{missing}・不整合{failing}）"


def _empty(rows: list[dict]) -> list[dict]:
    """The same rows with every figure empty (a municipality whose figures are not added)."""
    keep = ("団体コード", "都道府県名", "市区町村名", "区分", "性別")
    return [{k: (v if k in keep else None) for k, v in row.items()} for row in rows]


def _area(results: list[CityResult]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame | None, dict, dict]:
    """The summed frames of reported cities: population, households, movements, before and sex-only by group."""
    done = [r for r in results if r.status == REPORTED]
    population = pl.concat([r.population.select("sex", "age_group", "nationality_group", "residents")
                            for r in done]) if done else _NO_POPULATION
    households = pl.concat([r.households.select("household_type", "households") for r in done]) if done \
        else _NO_HOUSEHOLDS
    balance = pl.concat([r.balance for r in done]) if done else None
    if balance is None:
        return population, households, _NO_MOVEMENTS, dict.fromkeys(GROUPS, 0), dict.fromkeys(GROUPS, 0)
    by_group = balance.group_by("nationality_group").agg(pl.col("residents_before", "sex_only_changes").sum())
    before = dict.fromkeys(GROUPS, 0) | {g: int(b) for g, b, _ in by_group.iter_rows()}
    sex_only = dict.fromkeys(GROUPS, 0) | {g: int(s) for g, _, s in by_group.iter_rows()}
    return population, households, balance.select(*KEYS, *MOVEMENTS), before, sex_only


_NO_POPULATION = pl.DataFrame(schema={"sex": pl.String, "age_group": pl.String, "nationality_group": pl.String,
                                      "residents": pl.Int64})
_NO_HOUSEHOLDS = pl.DataFrame(schema={"household_type": pl.String, "households": pl.Int64})
_NO_MOVEMENTS = pl.DataFrame(schema={"nationality_group": pl.String, "sex": pl.String}
                             | {c: pl.Int64 for c in MOVEMENTS})


@dataclass
class Tables:
    """The roll-up's outputs as frames."""

    movements: pl.DataFrame
    ages: pl.DataFrame
    status: pl.DataFrame
    nation_population: pl.DataFrame
    missing: list[str]
    failing: list[str]


def lay_out(reference: list, prefectures: dict, expected: list[str], results: dict[str, CityResult],
            date_to: dt.date) -> Tables:
    """The survey's rows for the nation, each prefecture, each expected municipality and each 区, and the status."""
    known = {m.municipality_code: m for m in reference}
    wards = ward_names(reference)
    for code in expected:
        results.setdefault(code, CityResult(code, MISSING, "not in the cities file"))
    by_prefecture: dict[str, list[str]] = {}
    for code in expected:
        by_prefecture.setdefault(known[code].prefecture_code, []).append(code)
    main_rows, age_table, status_rows = [], [], []

    def add(where, group: list[CityResult], state: str, unit: str | None = None, own: CityResult | None = None):
        if own is not None and own.status != REPORTED:
            rows = _empty(movement_rows(where, _NO_POPULATION, _NO_HOUSEHOLDS, None, None, {}))
            ages = _empty(age_rows(where, _NO_POPULATION))
        elif unit is not None:  # a 区: population and households by its towns; movements are kept per city only
            pop = own.population.filter(pl.col("unit_code") == unit)
            hh = own.households.filter(pl.col("unit_code") == unit)
            rows, ages = movement_rows(where, pop, hh, None, None, {}), age_rows(where, pop)
        else:
            population, households, movements, before, sex_only = _area(group)
            what = f"{where[0]} {where[1]}{where[2]}"
            rows = movement_rows(where, population, households, movements, before, sex_only, what)
            ages = age_rows(where, population)
        main_rows.extend(r | {STATUS_COLUMN: state} for r in rows)
        age_table.extend(r | {STATUS_COLUMN: state} for r in ages)

    def state_of(group: list[CityResult]) -> str:
        return _state(sum(r.status == MISSING for r in group), sum(r.status == FAILING for r in group))

    everyone = [results[c] for c in expected]
    add(NATION, everyone, state_of(everyone))
    nation_population = _area(everyone)[0].group_by("sex", "age_group", "nationality_group").agg(
        pl.col("residents").sum()).sort("sex", "age_group", "nationality_group")
    for prefecture_code in sorted(by_prefecture):
        group = [results[c] for c in by_prefecture[prefecture_code]]
        prefecture_code_6, prefecture_name = prefectures[prefecture_code]
        add((prefecture_code_6, prefecture_name, ""), group, state_of(group))
        for code in by_prefecture[prefecture_code]:
            m, result = known[code], results[code]
            add((code, m.prefecture, m.name), [result], state_of([result]), own=result)
            if result.status == REPORTED and code in wards and (result.population["unit_code"] != code).any():
                for ward_code, ward_name in sorted(wards[code].items()):
                    add((ward_code, m.prefecture, ward_name), [result], state_of([result]), unit=ward_code,
                        own=result)
            status_rows.append({"団体コード": code, "都道府県名": m.prefecture, "市区町村名": m.name,
                                "status": result.status,
                                "period_from": result.period_from.isoformat() if result.period_from else None,
                                "period_to": date_to.isoformat(), "reason": result.reason or None,
                                "notes": "; ".join(result.notes) or None})
    return Tables(pl.DataFrame(main_rows, infer_schema_length=None), pl.DataFrame(age_table, infer_schema_length=None),
                  pl.DataFrame(status_rows, infer_schema_length=None), nation_population,
                  [c for c in expected if results[c].status == MISSING],
                  [c for c in expected if results[c].status == FAILING])


def write_outputs(tables: Tables, png: bytes, out: str | Path, date_to: dt.date) -> list[str]:
    """The tables as CSV (UTF-8 with BOM, as `stats report` writes them) and the nation's pyramid, into out."""
    folder = str(out).rstrip("/")
    fs, root = fsspec.core.url_to_fs(folder)
    fs.makedirs(root, exist_ok=True)
    d = date_to.isoformat()
    files = ((f"{d}_人口動態及び世帯数.csv", b"\xef\xbb\xbf" + tables.movements.write_csv().encode("utf-8")),
             (f"{d}_年齢階級別人口.csv", b"\xef\xbb\xbf" + tables.ages.write_csv().encode("utf-8")),
             (f"{d}_報告状況.csv", b"\xef\xbb\xbf" + tables.status.write_csv().encode("utf-8")),
             (f"{d}_人口ピラミッド.png", png))
    paths = []
    for name, data in files:
        with fs.open(f"{root}/{name}", "wb") as f:
            f.write(data)
        paths.append(f"{folder}/{name}")
    return paths


def reference() -> tuple[list, dict]:
    """The reference list of municipalities and the prefectures (schemas/municipalities.py)."""
    from schemas.municipalities import municipalities, prefectures

    return municipalities(), prefectures()
