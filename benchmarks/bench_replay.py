"""Benchmark (not a test): a city's year of daily runs recorded as the flow records them, then replayed with --verify.

Generates the city, takes in each file as its own run with the plain stages (the run ledger written as
the daily flow writes it, hand-offs encrypted), then replays every run into a scratch folder and
compares every digest. Prints the time of each phase and, per run, of each step (wall seconds) and the CPU
seconds of the whole run (every thread of this process: on a shared machine the wall clock is mostly waiting).

    .venv/bin/python benchmarks/bench_replay.py [--residents 607000] [--days 365] [--out DIR]
    .venv/bin/python benchmarks/bench_replay.py --out DIR --record-only   # keep a recorded year in DIR
    .venv/bin/python benchmarks/bench_replay.py --out DIR --replay-only   # replay DIR's year again (a new scratch)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import tasks.daily
import tasks.handoff
import tasks.ingest
import tasks.publish
import tasks.replay
from juki_core.settings import Settings
from juki_core.store import connect

KEY = bytes(range(32))
STEPS = {  # module, attribute, label: the steps of a run, timed where the replay calls them (parts in brackets)
    "ingest": (tasks.ingest, "ingest_file"),
    "(state rules)": (tasks.ingest, "state_violations"),
    "(apply)": (tasks.ingest, "apply_file"),
    "invariants": (tasks.daily, "broken_invariants"),
    "statistics": (tasks.publish, "write_statistics"),
    "hand-offs": (tasks.publish, "publish_handoffs"),
    "(feeds)": (tasks.handoff, "publish_feed"),
    "(snapshot)": (tasks.handoff, "publish_conbini"),
    "register digest": (tasks.daily, "register_digest"),
    "compare": (tasks.replay, "compare_run"),
}


class Timer:
    """Seconds spent in each wrapped step since the last reset."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)  # CPU seconds of every thread of the process (overlaps count once)
        self.taken_cpu: dict[str, float] = {}
        for label, (module, name) in STEPS.items():
            setattr(module, name, self._timed(label, getattr(module, name)))

    def _timed(self, label, fn):
        def run(*args, **kwargs):
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
                self.cpu[label] += time.process_time() - cpu
        return run

    def take(self) -> dict[str, float]:
        taken, self.seconds = dict(self.seconds), defaultdict(float)
        self.taken_cpu, self.cpu = dict(self.cpu), defaultdict(float)
        return taken


def show(title: str, per_run: list[tuple[float, dict[str, float]]]) -> None:
    """The baseline run apart, then the daily runs: total, mean and max, and the mean of each step."""
    (first, first_steps), daily = per_run[0], per_run[1:]
    print(f"{title}")
    print(f"  baseline run          {first:8.1f} s   " + "  ".join(f"{k} {v:.1f}" for k, v in first_steps.items()))
    if daily:
        times = [t for t, _ in daily]
        print(f"  {len(daily):>3} daily runs        {sum(times):8.1f} s   mean {statistics.mean(times):.2f}, "
              f"max {max(times):.2f}")
        steps = defaultdict(float)
        for _, s in daily:
            for k, v in s.items():
                steps[k] += v
        print("  a daily run, mean     " + "  ".join(f"{k} {v / len(daily):.2f}" for k, v in steps.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=607_000)
    parser.add_argument("--days", type=int, default=365, help="calendar days after the baseline (default: a year)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", help="working folder (default: a temporary one, removed after)")
    parser.add_argument("--record-only", action="store_true", help="record the runs into --out, replay nothing")
    parser.add_argument("--replay-only", action="store_true", help="replay the runs recorded in --out before")
    parser.add_argument("--until", type=dt.date.fromisoformat, help="replay the runs up to this business date only")
    args = parser.parse_args()
    if (args.record_only or args.replay_only) and not args.out:
        parser.error("--record-only and --replay-only need --out")
    work = Path(args.out or tempfile.mkdtemp(prefix="juki-bench-replay-"))
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start")
    settings = Settings(store=work / "live" / "registry.duckdb")
    timer = Timer()
    if not args.replay_only:
        record(args, work, settings, timer)
    if not args.record_only:
        replay(work, settings, timer, args.until)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"store {settings.store.stat().st_size / 2**20:,.0f} MiB; peak memory {peak:,.0f} MiB; "
          f"CPU {time.process_time():,.1f} s (this process, every thread); "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")
    if not args.out:
        shutil.rmtree(work)


def record(args, work: Path, settings: Settings, timer: Timer) -> None:
    """Generate the city and take in each file as its own run, as the daily flow records it."""
    from synthetic.city import generate_city

    started = time.perf_counter()
    paths = generate_city(work / "generated", residents=args.residents, days=args.days, seed=args.seed)
    print(f"generate {args.residents:,} residents, {len(paths) - 1} business days: "
          f"{time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    import great_expectations  # noqa: F401  (import cost measured apart from the first run)
    print(f"import great_expectations: {time.perf_counter() - started:.1f} s")

    con = connect(settings.store)
    recorded = []
    try:
        for n, path in enumerate(paths, 1):
            started, cpu = time.perf_counter(), time.process_time()
            # the parameters the daily flow records (so the replay follows today's rules), "today" the file's day
            parameters = {**tasks.daily.parameters(settings, [str(path)]),
                          "today": dt.datetime.strptime(path.stem.rsplit("_", 1)[1], "%Y%m%d").date().isoformat()}
            tasks.daily.run(con, settings, f"bench-{n:04d}", [str(path)], parameters, key_for=lambda sub: KEY)
            recorded.append((time.perf_counter() - started, {**timer.take(), "CPU": time.process_time() - cpu}))
    finally:
        con.close()
    show(f"record {len(paths)} runs as the daily flow does (one file each): "
         f"{sum(t for t, _ in recorded):.1f} s", recorded)


def replay(work: Path, settings: Settings, timer: Timer, until: dt.date | None = None) -> None:
    """Replay every recorded run with --verify into a new scratch folder; the time of each phase."""
    scratch = work / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    phases: dict[str, float] = {}

    def timed(label, fn):
        def run(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                phases[label] = phases.get(label, 0.0) + time.perf_counter() - t
        return run

    replayed, cpu_steps = [], []

    def each_run(*a, **k):
        cpu = time.process_time()
        verdict = tasks.replay.replay_run(*a, **k)
        replayed.append((verdict.seconds, {**timer.take(), "CPU": time.process_time() - cpu}))
        cpu_steps.append(timer.taken_cpu)
        return verdict

    def read_ledgers(*a, **k):
        the_plan = timed("read the ledgers", tasks.replay.plan)(*a, **k)
        timer.take()  # the live register's digest is the plan's, not the first run's
        return the_plan

    steps = tasks.replay.Steps(plan=read_ledgers, run=each_run,
                               close=timed("closing checks", tasks.replay.closing_checks))
    timer.take()
    started, cpu = time.perf_counter(), time.process_time()
    report = tasks.replay.replay(settings, scratch, until, verify=True, steps=steps)
    print(f"replay --verify: {time.perf_counter() - started:.1f} s wall, {time.process_time() - cpu:.1f} CPU s")
    show(f"replay --verify: {report.seconds:.1f} s", replayed)
    if len(cpu_steps) > 1:
        mean = {k: sum(c.get(k, 0.0) for c in cpu_steps[1:]) / (len(cpu_steps) - 1) for k in cpu_steps[1]}
        print("  CPU s of a daily run  " + "  ".join(f"{k} {v:.2f}" for k, v in mean.items()))
    for label, seconds in phases.items():
        print(f"  {label:<21} {seconds:8.1f} s")
    print(report.summary())


if __name__ == "__main__":
    main()
