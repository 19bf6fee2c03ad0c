"""Benchmark (not a test): generate the full-size city with 20 business days and ingest it all.

Prints the time of generation, of the baseline load and of each daily file, stage by stage.
Runs the stages as plain functions (what each Prefect task runs); a flow adds ~1 s per run
and ~4 ms per task on top (see README).

    .venv/bin/python benchmarks/bench_ingest.py [--residents 607000] [--business-days 20] [--out DIR]
                                                [--inbox DIR]  # ingest a city generated before instead
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from juki_core.settings import Settings
from juki_core.store import connect
from tasks import ingest


def calendar_days_for(business_days: int, start: dt.date) -> int:
    """Calendar days after `start` that hold this many business days (the generator's calendar)."""
    from schemas.business_calendar import is_business_day

    day, count = start, 0
    while count < business_days:
        day += dt.timedelta(days=1)
        count += is_business_day(day)
    return (day - start).days


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=607_000)
    parser.add_argument("--business-days", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", help="working folder (default: a temporary one, removed after)")
    parser.add_argument("--inbox", help="the change files of a city generated before (no generation)")
    args = parser.parse_args()
    work = Path(args.out or tempfile.mkdtemp(prefix="juki-bench-"))
    start = dt.date(2026, 3, 16)
    if args.inbox:
        paths = sorted(Path(args.inbox).glob("*_changes_*.csv"))[:args.business_days + 1]
    else:
        from synthetic.city import generate_city

        t0 = time.perf_counter()
        paths = generate_city(work / "inbox", residents=args.residents, seed=args.seed, start=start,
                              days=calendar_days_for(args.business_days, start))
        print(f"generate  {args.residents:,} residents, {len(paths) - 1} business days: "
              f"{time.perf_counter() - t0:6.1f} s")

    t0 = time.perf_counter()
    import great_expectations  # noqa: F401  (import cost measured apart from the first file)
    print(f"import great_expectations: {time.perf_counter() - t0:6.1f} s (load {os.getloadavg()[0]:.2f})")

    timings: dict[str, float] = defaultdict(float)

    def timed(name, fn):
        def run(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                timings[name] += time.perf_counter() - t
        return run

    stages = ingest.Stages(**{n: timed(n, getattr(ingest, n)) for n in ("land", "read", "validate", "apply")})
    settings = Settings(store=work / "registry.duckdb")
    con = connect(settings.store)
    print(f"{'file':<30} {'rows':>8} {'applied':>8} {'quar.':>6} {'land':>6} {'read':>6} "
          f"{'valid.':>6} {'apply':>6} {'total':>7} {'load':>6} {'peak MiB':>8}")
    total = 0.0
    for path in paths:
        timings.clear()
        t = time.perf_counter()
        o = ingest.ingest_file(con, str(path), settings.archive, settings.municipality_code,
                               settings.max_refused_share, "bench", stages)
        elapsed = time.perf_counter() - t
        total += elapsed
        print(f"{o.file:<30} {o.rows_read:>8,} {o.rows_applied:>8,} {o.rows_quarantined:>6,} "
              f"{timings['land']:6.2f} {timings['read']:6.2f} {timings['validate']:6.2f} "
              f"{timings['apply']:6.2f} {elapsed:7.2f} {os.getloadavg()[0]:6.2f} "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8,.0f}")
    residents = con.sql("select count(*) from resident_version where recorded_to is null "
                        "and status = 'current' and valid_to is null").fetchall()[0][0]
    con.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"all files: {total:.1f} s; residents now {residents:,}; store "
          f"{settings.store.stat().st_size / 2**20:.0f} MiB; peak memory {peak:,.0f} MiB")
    if not args.out:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
