"""Benchmark (not a test): the SQL that judges and applies one batch, against a register and one 5x larger.

A synthetic register (codes in random order, as a real city's arrive; event ids growing with time, as the
generator's E<date>-<n> and as each file's rows are appended) is built in scratch DuckDB files under
data/bench-sql/; the same 1,300-row batch (new events, later events of known persons, cancels and re-sent rows of
the day before, code changes) then runs through the state rules and the apply queries. Prints both sizes side by side: wall seconds, CPU seconds
(all threads of the process: other jobs share the cores) and the load average.

    .venv/bin/python benchmarks/bench_batch_sql.py [--residents 600000] [--factor 5] [--repeat 3] [--index-trial]
        [--floor]

`--bench-stores 607000 3000000` runs the same queries, through the tasks' own functions, on copies of the stores
`make bench` built for those sizes (data/bench/base<N>k.pristine) with the first 1,311 rows of each city's
end-of-March file (a generated city's day grows with the city: 6,542 rows at 3,000,000), rolled back.

`--index-trial` also measures the road not taken (docs/decisions.md): ART indexes on the key columns, looked up
with the batch's keys as a literal IN list (the only form DuckDB answers from an index), on copies of both registers.

`--floor` measures, on copies of both registers, what no lookup structure can go below: the batch's rows found by
code and by an integer key (row ids only), fetched by their row ids once known, and the share of 2,048-row vectors
that hold one of them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import time
from pathlib import Path

import duckdb
import polars as pl

from tasks.apply import rebuild_versions, sql
from tasks.audit import kept_sums

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "bench-sql"
BATCH = 1300


def build(path: Path, residents: int, recent: pl.DataFrame) -> None:
    """A register of `residents` persons: a BASELINE each, a later move for a third, a code change for 1%,
    and the `recent` day's rows (event_id, resident_code)."""
    if path.exists():
        with duckdb.connect(str(path)) as con:
            con.execute((ROOT / "schemas" / "migrations.sql").read_text(encoding="utf-8"))
            kept_sums(con)  # the digest's kept sums, so a batch adjusts them as in use
        return
    con = duckdb.connect(str(path))
    con.execute((ROOT / "schemas" / "register.sql").read_text(encoding="utf-8"))
    con.execute(f"""
        create temp table p as
        select i, lpad(cast(i as varchar), 11, '0') as code, row_number() over (order by hash(i)) as seq
        from range({residents}) as t(i) order by hash(i)""")
    common = ("date '2026-01-05' as business_date, 1 as delivery_no, 'x' as file_sha256, 1 as line, "
              "'r' as run_id, timestamp '2026-01-05' as recorded_at")
    con.execute(f"""
        insert into event by name
        select 'E20000101-' || lpad(cast(seq as varchar), 8, '0') as event_id, 'BASELINE' as event_type, date '2000-01-01' as effective_date,
               date '2000-01-01' as notified_date, code as resident_code, 'H' || (i // 3) as household_id,
               case when i % 3 = 0 then '世帯主' else '子' end as relationship, {common}
        from p""")
    con.execute(f"""
        insert into event by name
        select 'E20200401-' || lpad(cast(seq as varchar), 8, '0') as event_id, 'MOVE_WITHIN' as event_type, date '2020-04-01' as effective_date,
               date '2020-04-01' as notified_date, code as resident_code, 'H' || (i // 3) as household_id,
               case when i % 3 = 0 then '世帯主' else '子' end as relationship, {common}
        from p where i % 3 = 1 order by seq""")
    con.execute(f"""
        insert into event by name
        select 'E20210401-' || lpad(cast(seq as varchar), 8, '0') as event_id, 'RESIDENT_CODE_CHANGE' as event_type, date '2021-04-01' as effective_date,
               date '2021-04-01' as notified_date, code as resident_code,
               '9' || substr(code, 2) as new_resident_code, {common}
        from p where i % 100 = 7 order by seq""")
    con.register("recent", recent)
    con.execute(f"""
        insert into event by name
        select event_id, 'MOVE_WITHIN' as event_type, date '2026-03-27' as effective_date,
               date '2026-03-27' as notified_date, resident_code, {common}
        from recent order by event_id""")
    con.execute("""
        insert into resident_version by name
        select resident_code, 1 as version_no, effective_date as valid_from, timestamp '2026-01-05' as recorded_from,
               'current' as status, event_id, event_type, household_id, relationship, false as support_measure
        from event where event_type = 'BASELINE'""")
    con.execute((ROOT / "schemas" / "migrations.sql").read_text(encoding="utf-8"))
    kept_sums(con)
    con.close()


def batch(residents: int) -> pl.DataFrame:
    """The same 1,300 rows for every register size: persons spread over the first `residents` codes."""
    rows = []
    step = residents // BATCH
    for n in range(BATCH):
        code = f"{n * step:011d}"
        kind = n % 10
        row = {"line": n + 2, "event_id": f"E20260330-{n:06d}", "event_type": "MOVE_WITHIN", "resident_code": code,
               "cancels_event_id": None, "new_resident_code": None, "household_id": f"H{n * step // 3}"}
        if kind == 0:
            row |= {"event_type": "BIRTH", "resident_code": f"8{n:010d}"}
        elif kind == 1:
            row |= {"event_type": "CANCEL", "cancels_event_id": f"E20260327-{n:06d}"}  # the person's event
        elif kind == 2:
            row |= {"event_type": "RESIDENT_CODE_CHANGE", "new_resident_code": f"7{n:010d}"}
        elif kind == 3:
            row |= {"event_id": f"E20260327-{n:06d}"}  # a row of the day before, re-sent
        rows.append(row)
    return pl.DataFrame(rows)


def recent_day(rows: pl.DataFrame) -> pl.DataFrame:
    """The day before the batch: one row for each person the batch names that the register knows."""
    known = rows.filter(pl.col("event_type") != "BIRTH")
    return known.select(event_id=pl.format("E20260327-{}", (pl.col("line") - 2).cast(pl.String).str.zfill(6)),
                        resident_code="resident_code")


def cancel_events_timings(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame, repeat: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of cancel_events.sql for the batch's CANCEL rows, `repeat` times, each rolled back."""
    con.register("cancels", rows.filter(pl.col("event_type") == "CANCEL")
                 .select(target_id="cancels_event_id", cancel_id="event_id"))
    found = []
    for _ in range(repeat):
        con.execute("begin transaction")
        started, cpu = time.perf_counter(), time.process_time()
        con.execute(sql("cancel_events.sql"))
        found.append((time.perf_counter() - started, time.process_time() - cpu))
        con.execute("rollback")
    return found


def timings(path: Path, rows: pl.DataFrame, repeat: int) -> dict[str, tuple[float, float]]:
    """Best of `repeat` (wall, CPU) seconds for each query on the register (the apply script rolled back)."""
    con = duckdb.connect(str(path))
    queries = {
        "state_rules": ("state_rules.sql", ["line", "event_id", "event_type", "resident_code", "cancels_event_id"]),
        "resident_codes": ("resident_codes.sql", ["resident_code", "new_resident_code"]),
        "applied_events": ("applied_events.sql", ["event_id"]),
        "touched_events": ("touched_events.sql", ["resident_code"]),
        "head_intervals": ("head_intervals.sql", ["resident_code", "household_id"]),
    }
    best: dict[str, tuple[float, float]] = {}

    def keep(name: str, wall: float, cpu: float) -> None:
        was = best.get(name, (1e9, 1e9))
        best[name] = (min(was[0], wall), min(was[1], cpu))

    for name, (file, columns) in queries.items():
        con.register("incoming", rows.select(columns))
        for _ in range(repeat):
            started, cpu = time.perf_counter(), time.process_time()
            con.sql(sql(file)).fetchall()
            keep(name, time.perf_counter() - started, time.process_time() - cpu)
        con.unregister("incoming")
    for wall, cpu in cancel_events_timings(con, rows, repeat):
        keep("cancel_events", wall, cpu)
    con.unregister("cancels")
    touched = rows.select("resident_code").unique()
    con.register("touched", touched)
    for _ in range(repeat):
        con.execute("begin transaction")
        con.execute("create temp table new_versions as select * exclude (recorded_from, recorded_to) "
                    "from resident_version where resident_code in (select resident_code from touched)")
        started, cpu = time.perf_counter(), time.process_time()
        rebuild_versions(con, dt.datetime(2026, 3, 30))  # close, delete, insert, adjust the digest's sums
        keep("rebuild_touched", time.perf_counter() - started, time.process_time() - cpu)
        con.execute("rollback")
    con.close()
    return best


INDEXES = {"event(event_id)": "event_id", "event(resident_code)": "resident_code",
           "resident_version(resident_code)": "resident_code"}


def index_trial(path: Path, rows: pl.DataFrame, repeat: int) -> dict[str, float]:
    """On a copy: build the ART indexes, then CPU seconds of each key lookup by semi join and by literal list."""
    copy = DATA / f"index-trial-{path.name}"
    shutil.copyfile(path, copy)
    out = {"MB before": copy.stat().st_size / 1e6}
    con = duckdb.connect(str(copy))
    for n, (target, column) in enumerate(INDEXES.items()):
        cpu = time.process_time()
        con.execute(f"create index trial_{n} on {target}")
        out[f"build {target}"] = time.process_time() - cpu
    con.execute("checkpoint")
    out["MB with indexes"] = copy.stat().st_size / 1e6
    codes = rows["resident_code"].unique().sort().to_list()
    ids = rows["event_id"].unique().sort().to_list()
    keys = {"event_id": ids, "resident_code": codes}
    con.register("incoming", rows.select("event_id", "resident_code"))
    for target, column in INDEXES.items():
        table = target.split("(")[0]
        listed = ", ".join("'" + k.replace("'", "''") + "'" for k in keys[column])
        for form, where in (("semi join", f"{column} in (select {column} from incoming)"),
                            ("literal list", f"{column} in ({listed})")):
            best = 1e9
            for _ in range(repeat):
                cpu = time.process_time()
                con.sql(f"select * from {table} where {where}").fetchall()
                best = min(best, time.process_time() - cpu)
            out[f"{target} {form}"] = best
    # one batch's worth of writes and a checkpoint: what the indexes cost a daily run's commit and the file
    con.execute("begin transaction")
    con.execute("delete from resident_version where rowid in (select rowid from resident_version using sample 1300 rows)")
    con.execute("insert into event select * replace ('Z' || event_id as event_id) from event using sample 1300 rows")
    con.execute("commit")
    cpu = time.process_time()
    con.execute("checkpoint")
    out["checkpoint after a batch"] = time.process_time() - cpu
    out["MB after a batch"] = copy.stat().st_size / 1e6
    con.close()
    copy.unlink()
    return out


def floor(path: Path, rows: pl.DataFrame, repeat: int) -> dict[str, float]:
    """On a copy: CPU seconds of finding the batch's persons' rows by key and of fetching them by known row ids."""
    copy = DATA / f"floor-{path.name}"
    shutil.copyfile(path, copy)
    con = duckdb.connect(str(copy))
    con.register("incoming", rows.select("resident_code", person_no=pl.col("resident_code").cast(pl.Int64)))
    for table in ("event", "resident_version"):  # an integer key beside each row, as a narrow table would hold it
        con.execute(f"create table {table}_no as select cast(resident_code as bigint) as person_no from {table}")
    con.execute("checkpoint")
    for table, where in (("event", "true"), ("resident_version", "recorded_to is null")):
        con.execute(f"create temp table {table}_rows as select rowid as r from {table} "
                    f"where {where} and resident_code in (select resident_code from incoming)")
    out: dict[str, float] = {}
    for table in ("event", "resident_version"):
        (hit, total), = con.sql(f"select (select count(distinct r // 2048) from {table}_rows), "
                                f"(select (max(rowid) + 2048) // 2048 from {table})").fetchall()
        out[f"{table}: vectors holding a batch row, %"] = 100 * hit / total
        queries = {
            "find by code (string), row ids only": f"select rowid from {table} "
                                                  f"where resident_code in (select resident_code from incoming)",
            "find by integer key, row ids only": f"select rowid from {table}_no "
                                                 f"where person_no in (select person_no from incoming)",
            "fetch every column by known row ids": f"select * from {table} where rowid in (select r from {table}_rows)",
            "fetch resident_code by known row ids": f"select resident_code from {table} "
                                                    f"where rowid in (select r from {table}_rows)",
        }
        for name, query in queries.items():
            best = 1e9
            for _ in range(repeat):
                cpu = time.process_time()
                con.sql(query).fetchall()
                best = min(best, time.process_time() - cpu)
            out[f"{table}: {name}"] = best
    con.close()
    copy.unlink()
    return out


def store_timings(store: Path, day: Path, lines: int, repeat: int) -> dict[str, tuple[float, float]]:
    """Best of `repeat` (wall, CPU) seconds of each batch query on a copy of a bench store, the apply rolled back."""
    from tasks.apply import code_history, state_violations, stored_events, with_person_keys
    from tasks.heads import register_heads
    from tasks.read import read_change_file

    text = day.read_bytes().split(b"\n")
    rows = read_change_file(day.name, b"\n".join(text[:lines + 1]) + b"\n", day.name.split("_")[0]).rows
    copy = DATA / "store-copy.duckdb"
    shutil.copyfile(store, copy)
    con = duckdb.connect(str(copy))
    best: dict[str, tuple[float, float]] = {}

    def keep(name: str, started: float, cpu: float) -> None:
        was = best.get(name, (1e9, 1e9))
        best[name] = (min(was[0], time.perf_counter() - started), min(was[1], time.process_time() - cpu))

    def timed(name: str, call):
        for _ in range(repeat):
            started, cpu = time.perf_counter(), time.process_time()
            result = call()
            keep(name, started, cpu)
        return result

    timed("state_rules", lambda: state_violations(con, rows))
    persons = with_person_keys(rows, timed("resident_codes", lambda: code_history(con, rows)))
    timed("head_intervals", lambda: register_heads(con, persons))
    stored = timed("touched_events", lambda: stored_events(con, persons))
    for wall, cpu in cancel_events_timings(con, rows, repeat):
        was = best.get("cancel_events", (1e9, 1e9))
        best["cancel_events"] = (min(was[0], wall), min(was[1], cpu))
    con.register("touched", pl.DataFrame({"resident_code": sorted(stored)}, schema={"resident_code": pl.String}))
    for _ in range(repeat):
        con.execute("begin transaction")
        con.execute("create temp table new_versions as select * exclude (recorded_from, recorded_to) from "
                    "resident_version where recorded_to is null and resident_code in (select resident_code from touched)")
        started, cpu = time.perf_counter(), time.process_time()
        rebuild_versions(con, dt.datetime(2026, 3, 30, 12))
        keep("rebuild_touched", started, cpu)
        con.execute("rollback")
    con.close()
    copy.unlink()
    return best


def side_by_side(sizes: tuple[int, int], results: list, note: str) -> None:
    """Both sizes' wall and CPU seconds per query, their ratios, and the load average of each."""
    (small, load_small), (large, load_large) = results
    print(f"{'query':<16} {sizes[0]:>10,} {sizes[1]:>10,}  ratio   {'CPU s':>7} {'CPU s':>7}  ratio   ({note})")
    for name in small:
        (ws, cs), (wl, cl) = small[name], large[name]
        print(f"{name:<16} {ws:>10.3f} {wl:>10.3f}  {wl / ws:5.2f}   {cs:>7.3f} {cl:>7.3f}  {cl / cs:5.2f}")
    ws, wl = (sum(w for w, _ in r.values()) for r in (small, large))
    cs, cl = (sum(c for _, c in r.values()) for r in (small, large))
    print(f"{'all':<16} {ws:>10.3f} {wl:>10.3f}  {wl / ws:5.2f}   {cs:>7.3f} {cl:>7.3f}  {cl / cs:5.2f}")
    print(f"load average     {load_small:>10.2f} {load_large:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=600_000)
    parser.add_argument("--factor", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--index-trial", action="store_true")
    parser.add_argument("--floor", action="store_true")
    parser.add_argument("--bench-stores", type=int, nargs=2, metavar="RESIDENTS")
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    sizes = (args.residents, args.residents * args.factor)
    rows = batch(args.residents)
    results = []
    for size in sizes:
        path = DATA / f"register-{size}-v2.duckdb"
        build(path, size, recent_day(rows))
        results.append((timings(path, rows, args.repeat), os.getloadavg()[0]))
    side_by_side(sizes, results, f"best of {args.repeat}, one {BATCH}-row batch")
    if args.bench_stores:
        bench = ROOT / "data" / "bench"
        stored = []
        for size in args.bench_stores:
            day = next((bench / f"city{size // 1000}k").glob("*_20260330.csv"))
            stored.append((store_timings(bench / f"base{size // 1000}k.pristine" / "registry.duckdb", day, 1311,
                                         args.repeat), os.getloadavg()[0]))
        print()
        side_by_side(tuple(args.bench_stores), stored,
                     f"bench stores, the day's first 1,311 rows, best of {args.repeat}")
    if args.floor:
        floors = [(floor(DATA / f"register-{size}-v2.duckdb", rows, args.repeat), os.getloadavg()[0]) for size in sizes]
        print(f"\n{'floor (CPU s)':<66} {sizes[0]:>10,} {sizes[1]:>10,}  ratio")
        for name in floors[0][0]:
            a, b = floors[0][0][name], floors[1][0][name]
            print(f"{name:<66} {a:>10.3f} {b:>10.3f}  {b / a:5.2f}")
        print(f"{'load average':<66} {floors[0][1]:>10.2f} {floors[1][1]:>10.2f}")
    if args.index_trial:
        trials = [(index_trial(DATA / f"register-{size}-v2.duckdb", rows, args.repeat), os.getloadavg()[0])
                  for size in sizes]
        print(f"\n{'index trial (CPU s; MB of the file)':<46} {sizes[0]:>10,} {sizes[1]:>10,}  ratio")
        for name in trials[0][0]:
            a, b = trials[0][0][name], trials[1][0][name]
            print(f"{name:<46} {a:>10.3f} {b:>10.3f}  {b / a:5.2f}")
        print(f"{'load average':<46} {trials[0][1]:>10.2f} {trials[1][1]:>10.2f}")


if __name__ == "__main__":
    main()
