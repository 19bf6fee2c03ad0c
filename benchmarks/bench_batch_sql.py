"""Benchmark (not a test): the SQL that judges and applies one batch, against a register and one 5x larger.

A synthetic register (codes in random order, as a real city's arrive) is built in scratch DuckDB files under
data/bench-sql/; the same 1,300-row batch (new events, later events of known persons, cancels, code changes)
then runs through the state rules and the apply queries. Prints both sizes side by side with the load average.

    .venv/bin/python benchmarks/bench_batch_sql.py [--residents 600000] [--factor 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import duckdb
import polars as pl

from tasks.apply import sql

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "bench-sql"
BATCH = 1300


def build(path: Path, residents: int) -> None:
    """A register of `residents` persons: a BASELINE each, a later move for a third, a code change for 1%."""
    if path.exists():
        return
    con = duckdb.connect(str(path))
    con.execute((ROOT / "schemas" / "register.sql").read_text(encoding="utf-8"))
    con.execute(f"""
        create temp table p as
        select i, lpad(cast(i as varchar), 11, '0') as code from range({residents}) as t(i) order by hash(i)""")
    common = ("date '2026-01-05' as business_date, 1 as delivery_no, 'x' as file_sha256, 1 as line, "
              "'r' as run_id, timestamp '2026-01-05' as recorded_at")
    con.execute(f"""
        insert into event by name
        select 'B' || code as event_id, 'BASELINE' as event_type, date '2000-01-01' as effective_date,
               date '2000-01-01' as notified_date, code as resident_code, 'H' || (i // 3) as household_id,
               case when i % 3 = 0 then '世帯主' else '子' end as relationship, {common}
        from p""")
    con.execute(f"""
        insert into event by name
        select 'M' || code as event_id, 'MOVE_WITHIN' as event_type, date '2020-04-01' as effective_date,
               date '2020-04-01' as notified_date, code as resident_code, 'H' || (i // 3) as household_id,
               case when i % 3 = 0 then '世帯主' else '子' end as relationship, {common}
        from p where i % 3 = 1""")
    con.execute(f"""
        insert into event by name
        select 'C' || code as event_id, 'RESIDENT_CODE_CHANGE' as event_type, date '2021-04-01' as effective_date,
               date '2021-04-01' as notified_date, code as resident_code,
               '9' || substr(code, 2) as new_resident_code, {common}
        from p where i % 100 = 7""")
    con.execute("""
        insert into resident_version by name
        select resident_code, 1 as version_no, effective_date as valid_from, timestamp '2026-01-05' as recorded_from,
               'current' as status, event_id, event_type, household_id, relationship, false as support_measure
        from event where event_type = 'BASELINE'""")
    con.close()


def batch(residents: int) -> pl.DataFrame:
    """The same 1,300 rows for every register size: persons spread over the first `residents` codes."""
    rows = []
    step = residents // BATCH
    for n in range(BATCH):
        code = f"{n * step:011d}"
        kind = n % 10
        row = {"line": n + 2, "event_id": f"N{n:08d}", "event_type": "MOVE_WITHIN", "resident_code": code,
               "cancels_event_id": None, "new_resident_code": None, "household_id": f"H{n * step // 3}"}
        if kind == 0:
            row |= {"event_type": "BIRTH", "resident_code": f"8{n:010d}"}
        elif kind == 1:
            row |= {"event_type": "CANCEL", "cancels_event_id": "B" + code}
        elif kind == 2:
            row |= {"event_type": "RESIDENT_CODE_CHANGE", "new_resident_code": f"7{n:010d}"}
        elif kind == 3:
            row |= {"event_id": "B" + code}  # a duplicate id
        rows.append(row)
    return pl.DataFrame(rows)


def timings(path: Path, rows: pl.DataFrame, repeat: int) -> dict[str, float]:
    """Best of `repeat` seconds for each query on a copy of the register (the apply script rolled back)."""
    con = duckdb.connect(str(path))
    queries = {
        "state_rules": ("state_rules.sql", ["line", "event_id", "event_type", "resident_code", "cancels_event_id"]),
        "resident_codes": ("resident_codes.sql", ["resident_code", "new_resident_code"]),
        "applied_events": ("applied_events.sql", ["event_id"]),
        "touched_events": ("touched_events.sql", ["resident_code"]),
        "head_intervals": ("head_intervals.sql", ["resident_code", "household_id"]),
    }
    best: dict[str, float] = {}
    for name, (file, columns) in queries.items():
        con.register("incoming", rows.select(columns))
        for _ in range(repeat):
            started = time.perf_counter()
            con.sql(sql(file)).fetchall()
            best[name] = min(best.get(name, 1e9), time.perf_counter() - started)
        con.unregister("incoming")
    touched = rows.select("resident_code").unique()
    con.register("touched", touched)
    for _ in range(repeat):
        con.execute("begin transaction")
        con.execute("create temp table new_versions as select * exclude (recorded_from, recorded_to) "
                    "from resident_version where resident_code in (select resident_code from touched)")
        started = time.perf_counter()
        for statement in sql("rebuild_touched.sql").split(";"):
            if statement.strip():
                con.execute(statement, {"recorded_at": "2026-03-30 00:00:00"} if "$recorded_at" in statement else None)
        best["rebuild_touched"] = min(best.get("rebuild_touched", 1e9), time.perf_counter() - started)
        con.execute("rollback")
    con.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=600_000)
    parser.add_argument("--factor", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    sizes = (args.residents, args.residents * args.factor)
    rows = batch(args.residents)
    results = []
    for size in sizes:
        path = DATA / f"register-{size}.duckdb"
        build(path, size)
        results.append((timings(path, rows, args.repeat), os.getloadavg()[0]))
    (small, load_small), (large, load_large) = results
    print(f"{'query':<16} {sizes[0]:>10,} {sizes[1]:>10,}  ratio   (best of {args.repeat} s, one {BATCH}-row batch)")
    for name in small:
        print(f"{name:<16} {small[name]:>10.3f} {large[name]:>10.3f}  {large[name] / small[name]:5.2f}")
    total_s, total_l = sum(small.values()), sum(large.values())
    print(f"{'all':<16} {total_s:>10.3f} {total_l:>10.3f}  {total_l / total_s:5.2f}")
    print(f"load average     {load_small:>10.2f} {load_large:>10.2f}")


if __name__ == "__main__":
    main()
