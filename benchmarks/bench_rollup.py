"""Benchmark (not a test): `juki rollup` over simulated statistics files of the whole nation at real size.

Writes, for every municipality of data/reference/municipalities.csv (kind != ward), stats/<D>/population.parquet,
households.parquet and balance.parquet directly as files (no registers): its real population spread over its real
number of towns (the `towns` column) × sex × 5-year age group × nationality group, households by town and type, and
balance files for --days statistics dates ending on D that chain and balance. A 政令指定都市 gets a wards.csv over its
区. Then times `juki rollup --date D [--from F] --cities … --expect nation` as a child process (the Prefect flow, an
ephemeral API unless PREFECT_API_URL is set) and prints wall, CPU (user + system of the child), peak memory (its
maximum resident set) and the load average before and after.

    .venv/bin/python benchmarks/bench_rollup.py [--out DIR] [--days 1] [--only N] [--reuse]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schemas.municipalities import municipalities  # noqa: E402
from synthetic.nation import ward_blocks  # noqa: E402
from tasks.rollup import BALANCE_COLUMNS  # noqa: E402
from tasks.stats_files import AGE_GROUPS  # noqa: E402

D = dt.date(2026, 4, 30)  # a Thursday
SEXES, GROUPS = ("1", "2"), ("japanese", "foreign")
FOREIGN_SHARE = 0.025
# daily rates per resident (about the nation's yearly figures / 365): births, deaths, moves in and out
RATES = {"births": 0.0000165, "deaths": 0.0000345, "moved_in_domestic": 0.000110, "moved_out_domestic": 0.000110,
         "moved_in_abroad": 0.000010, "moved_out_abroad": 0.000008}


def cells(rng: np.random.Generator, residents: int, towns: int) -> pl.DataFrame:
    """Residents by (town, sex, age group, nationality group): a multinomial over the cells, zeros dropped."""
    ages = np.linspace(1.0, 0.3, len(AGE_GROUPS))
    ages[-1] = 0.002
    per_key = np.outer(np.ones(2), ages / ages.sum()).ravel()  # sex × age
    nationality = np.array([1 - FOREIGN_SHARE, FOREIGN_SHARE])
    town_weights = rng.gamma(2.0, 1.0, towns)
    p = np.einsum("t,k,n->tkn", town_weights / town_weights.sum(), per_key / per_key.sum(), nationality).ravel()
    counts = rng.multinomial(residents, p / p.sum())
    t, k, n = np.unravel_index(np.arange(counts.size), (towns, per_key.size, 2))
    keep = counts > 0
    return pl.DataFrame({
        "town_code": np.char.zfill(t[keep].astype(str), 4),
        "sex": np.array(SEXES)[k[keep] // len(AGE_GROUPS)],
        "age_group": np.array(AGE_GROUPS)[k[keep] % len(AGE_GROUPS)],
        "nationality_group": np.array(GROUPS)[n[keep]],
        "residents": counts[keep].astype(np.int64),
    })


def households(population: pl.DataFrame) -> pl.DataFrame:
    """Households by town and type: about 2.2 residents each, a few mixed."""
    by_town = population.group_by("town_code", "nationality_group").agg(pl.col("residents").sum())
    rows = []
    for town, group, residents in by_town.iter_rows():
        hh = max(1, round(residents / 2.2))
        if group == "japanese":
            rows.append((town, "japanese", hh - hh // 50, residents - hh // 50))
            if hh // 50:
                rows.append((town, "mixed", hh // 50, hh // 50 * 2))
        else:
            rows.append((town, "foreign", hh, residents))
    return (pl.DataFrame(rows, schema=["town_code", "household_type", "households", "members"], orient="row")
            .group_by("town_code", "household_type").agg(pl.col("households", "members").sum())
            .sort("town_code", "household_type"))


def balances(rng: np.random.Generator, after: dict[tuple[str, str], int], dates: list[dt.date]) -> list[pl.DataFrame]:
    """Balance files for the dates (oldest first), chained backwards from D's residents by key."""
    files = []
    for i in range(len(dates) - 1, -1, -1):
        period_from = dates[i - 1] + dt.timedelta(days=1) if i else dates[0]
        days = (dates[i] - period_from).days + 1
        rows, before_next = [], {}
        for (group, sex), residents_after in sorted(after.items()):
            v = {c: int(rng.poisson(r * residents_after * days)) for c, r in RATES.items()}
            v |= {"other_additions": 0, "other_removals": 0, "moves_within": int(rng.poisson(residents_after * 0.0001))}
            additions = v["moved_in_domestic"] + v["moved_in_abroad"] + v["births"]
            removals = v["moved_out_domestic"] + v["moved_out_abroad"] + v["deaths"]
            net = additions - removals
            before = max(residents_after - net, 0)
            net = residents_after - before
            v["moved_in_domestic"] += net - (additions - removals)  # keep the identity when a tiny key hits 0
            additions = v["moved_in_domestic"] + v["moved_in_abroad"] + v["births"]
            rows.append({"nationality_group": group, "sex": sex, "period_from": period_from.isoformat(),
                         "period_to": dates[i].isoformat(), "residents_before": before, **v, "additions": additions,
                         "removals": removals, "net_change": net, "natural_change": v["births"] - v["deaths"],
                         "social_change": net - (v["births"] - v["deaths"]), "sex_only_changes": 0,
                         "residents_after": residents_after})
            before_next[(group, sex)] = before
        files.append(pl.DataFrame(rows).select(BALANCE_COLUMNS))
        after = before_next
    return files[::-1]


def write_nation(out: Path, statistics_dates: list[dt.date], only: int | None) -> tuple[int, int]:
    """Every municipality's files under out/<code>/stats, wards.csv, out/cities.yaml; (cities, population rows)."""
    reference = municipalities()
    chosen = [m for m in reference if m.kind != "ward"][:only]
    wards = {}
    for m in reference:
        if m.kind == "ward":
            wards.setdefault(m.parent_code, []).append((m.municipality_code, m.population))
    entries, rows = [], 0
    for m in chosen:
        rng = np.random.default_rng(int(m.municipality_code))
        towns = m.towns or 1
        population = cells(rng, m.population, towns)
        rows += population.height
        after = dict(((g, s), r) for g, s, r in population.group_by("nationality_group", "sex")
                     .agg(pl.col("residents").sum()).iter_rows())
        folder = out / m.municipality_code / "stats"
        for date, balance in zip(statistics_dates, balances(rng, after, statistics_dates)):
            (folder / date.isoformat()).mkdir(parents=True, exist_ok=True)
            balance.write_parquet(folder / date.isoformat() / "balance.parquet")
        population.write_parquet(folder / D.isoformat() / "population.parquet")
        households(population).write_parquet(folder / D.isoformat() / "households.parquet")
        entry = f"  - {{name: '{m.name}', municipality_code: '{m.municipality_code}', stats: {m.municipality_code}/stats"
        if m.municipality_code in wards:
            blocks = ward_blocks([f"{i:04d}" for i in range(towns)], wards[m.municipality_code])
            (out / m.municipality_code / "wards.csv").write_text(
                "town_code,ward_code\n" + "".join(f"{t},{w}\n" for t, w in blocks), encoding="utf-8")
            entry += f", wards: {m.municipality_code}/wards.csv"
        entries.append(entry + "}\n")
    (out / "cities.yaml").write_text("cities:\n" + "".join(entries), encoding="utf-8")
    return len(chosen), rows


def phases(out: Path, date_from: dt.date) -> None:
    """The roll-up's steps called directly, without Prefect, each timed (run in a fresh child process)."""
    from tasks import rollup as r
    from tasks.stats_files import pyramid_png

    t0 = time.perf_counter()
    cities = r.load_cities(out / "cities.yaml")
    reference, prefectures = r.reference()
    expected = r.expected_codes(reference, cities, "nation")
    t1 = time.perf_counter()
    results = r.read_cities(cities, D, date_from, r.ward_names(reference))
    t2 = time.perf_counter()
    tables = r.lay_out(reference, prefectures, expected, results, D)
    t3 = time.perf_counter()
    r.write_outputs(tables, pyramid_png(tables.nation_population, D), out / "report-phases", D)
    t4 = time.perf_counter()
    print(f"steps without Prefect: cities file and reference {t1 - t0:.1f} s, read and check {t2 - t1:.1f} s, "
          f"lay out {t3 - t2:.1f} s, write {t4 - t3:.1f} s; {len(tables.movements):,} + {len(tables.ages):,} rows; "
          f"peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="folder for the files (default: a temporary one, kept for --reuse)")
    parser.add_argument("--days", type=int, default=1, help="statistics dates ending on D to write and sum (--from)")
    parser.add_argument("--only", type=int, help="the first N municipalities only (a quick look; expects nation)")
    parser.add_argument("--reuse", action="store_true", help="time the roll-up over files already in --out")
    parser.add_argument("--phases-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-rollup-"))
    dates = [D - dt.timedelta(days=i) for i in range(args.days - 1, -1, -1)]
    if args.phases_only:
        phases(out, dates[0])
        return 0
    if not args.reuse:
        out.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        cities, rows = write_nation(out, dates, args.only)
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        print(f"wrote {cities} cities' files ({rows:,} population rows, {size / 2**20:,.0f} MiB) into {out} "
              f"in {time.perf_counter() - t0:.1f} s")
    command = [sys.executable, "-m", "juki.cli", "rollup", "--date", D.isoformat(), "--from", dates[0].isoformat(),
               "--cities", str(out / "cities.yaml"), "--expect", "nation", "--out", str(out / "report")]
    load_before = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          env=os.environ | {"PREFECT_LOGGING_LEVEL": "WARNING"})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"juki rollup --date {D} --from {dates[0]} ({args.days} balance file(s) a city): exit {done.returncode}")
    print(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "")
    print(f"wall {wall:.1f} s, CPU {cpu:.1f} s, peak memory {after.ru_maxrss / 1024:,.0f} MiB, "
          f"load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after ({os.cpu_count()} cores)")
    if done.returncode not in (0, 1):
        print(done.stderr[-2000:], file=sys.stderr)
        return done.returncode
    subprocess.run([sys.executable, __file__, "--out", str(out), "--days", str(args.days), "--phases-only"], cwd=ROOT)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
