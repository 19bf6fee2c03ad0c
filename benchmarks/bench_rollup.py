"""Benchmark (not a test): the national roll-up at real size, on simulated statistics files of every municipality.

Writes, once, the statistics files of all 1,741 municipalities of data/reference/municipalities.csv at their real
population and town counts (synthetic/nation_stats.py; written by tasks.stats_files.write_tables as cities write
them; a 政令指定都市's towns are its wards' towns, with a wards.csv), for the last --days business days up to
--date, then times `juki rollup` in a fresh process for 50 and 200 cities and the nation, and the nation again
through fsspec `file://` URIs, and the nation's steps called without Prefect (where the roll-up's own time goes),
also over copies of the files in fsspec's memory:// store.
Each run: wall, CPU, peak RSS (of the process and its children), the files and bytes the roll-up reads, their
rows, the load average and the output tables' row counts. The files are kept in --out and reused while the date,
days and seed are the same (--rewrite writes them again).

    .venv/bin/python benchmarks/bench_rollup.py [--out data/bench/nation-stats] [--date 2026-04-30] [--days 3]
                                                [--seed 1] [--rewrite] [--sizes 50,200] [--no-file-uri]
                                                [--no-steps] [--only-write] [--history 240]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from synthetic import nation_stats  # noqa: E402
from synthetic.nation import choose  # noqa: E402
from tasks.stats_files import write_tables  # noqa: E402

FORMAT = 1  # bump when the simulated files change: a folder of another format is written again
GiB = 1024 ** 3


def say(text: str) -> None:
    print(text, flush=True)


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def write_city(job: tuple[dict, str, list, int]) -> int:
    city, out, periods, seed = job
    return nation_stats.write_city(city, out, periods, seed, write_tables)


def subsets(out: Path, cities: list[dict], sizes: list[int]) -> None:
    """cities-N.yaml: N municipalities spread over the prefectures, largest first (as `juki nation layout`)."""
    by_code = {c["code"]: c for c in cities}
    for n in sizes:
        if not (out / f"cities-{n}.yaml").is_file():
            nation_stats.cities_yaml(out / f"cities-{n}.yaml", [by_code[m.municipality_code] for m in choose(cities=n)])


def prepare(out: Path, date: dt.date, days: int, seed: int, rewrite: bool, workers: int, sizes: list[int]) -> dict:
    """The folder of simulated files (reused when written before with the same date, days, seed and format)."""
    manifest = out / "manifest.json"
    wanted = {"format": FORMAT, "date": date.isoformat(), "days": days, "seed": seed}
    if manifest.is_file():
        kept = json.loads(manifest.read_text())
        if not rewrite and {k: kept.get(k) for k in wanted} == wanted:
            say(f"reusing {out} (written {kept['written']}: {kept['cities']} cities, {kept['residents']:,} "
                f"residents, {kept['rows']:,} rows in {kept['seconds']:.0f} s, {kept['load']})")
            subsets(out, nation_stats.plan(), sizes)
            return kept
        shutil.rmtree(out)  # only a folder this benchmark wrote (it has our manifest)
    elif out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} holds files but no manifest.json of bench_rollup: choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    cities = nation_stats.plan()
    periods = nation_stats.statistics_dates(date, days)
    say(f"writing {len(cities)} municipalities' statistics files for {len(periods)} date(s) "
        f"{periods[0][1]}..{date} into {out} ({workers} processes, {load()})")
    began, rows, done = time.monotonic(), 0, 0
    jobs = [(c, str(out), periods, seed) for c in sorted(cities, key=lambda c: -c["towns"])]  # large ones first
    with ProcessPoolExecutor(workers) as pool:
        for n in pool.map(write_city, jobs, chunksize=4):
            rows, done = rows + n, done + 1
            if done % 200 == 0 or done == len(jobs):
                say(f"  {done}/{len(jobs)} cities, {rows:,} rows ({time.monotonic() - began:.0f} s)")
    nation_stats.cities_yaml(out / "cities.yaml", cities)
    nation_stats.cities_yaml(out / "cities-file-uri.yaml", cities, uri=True)
    subsets(out, cities, sizes)
    kept = wanted | {"cities": len(cities), "residents": sum(c["population"] for c in cities), "rows": rows,
                     "periods": [[a.isoformat(), b.isoformat()] for a, b in periods],
                     "seconds": time.monotonic() - began, "load": load(),
                     "written": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    manifest.write_text(json.dumps(kept, indent=1))
    say(f"  written in {kept['seconds']:.0f} s ({load()})")
    return kept


def inputs(cities_yaml: Path, periods: list[tuple[str, str]]) -> tuple[int, int, int]:
    """The files the roll-up reads for the cities of a cities file: (files, bytes, rows)."""
    cities = yaml.safe_load(cities_yaml.read_text(encoding="utf-8"))["cities"]
    last = periods[-1][1]
    files = bytes_ = rows = 0
    for c in cities:
        stats = Path(c["stats"].removeprefix("file://")) if "://" in c["stats"] else cities_yaml.parent / c["stats"]
        paths = [stats / last / "population.parquet", stats / last / "households.parquet"]
        paths += [stats / d / "balance.parquet" for _f, d in periods]
        for p in paths:
            files, bytes_ = files + 1, bytes_ + p.stat().st_size
            rows += pq.read_metadata(p).num_rows
        if c.get("wards"):
            w = Path(c["wards"].removeprefix("file://")) if "://" in c["wards"] else cities_yaml.parent / c["wards"]
            files, bytes_ = files + 1, bytes_ + w.stat().st_size
            rows += w.read_text(encoding="utf-8").count("\n") - 1
    return files, bytes_, rows


def timed(args: list[str], env: dict, logs: Path) -> dict:
    """Run a command in a fresh process: wall, CPU and peak RSS (wait4's, its children included), bytes read."""
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "stdout", "w") as out, open(logs / "stderr", "w") as err:
        began = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=err)
    watched, read_chars, tree_peak = psutil.Process(proc.pid), {}, 0

    def watch() -> None:  # never waits for the child: wait4 below must reap it to get its own rusage
        nonlocal tree_peak
        while True:
            try:
                if watched.status() == psutil.STATUS_ZOMBIE:
                    return
                rss = 0
                for p in [watched, *watched.children(recursive=True)]:
                    try:
                        rss += p.memory_info().rss
                        read_chars[p.pid] = p.io_counters().read_chars
                    except (psutil.NoSuchProcess, psutil.AccessDenied):
                        pass
                tree_peak = max(tree_peak, rss)
            except psutil.NoSuchProcess:
                return
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    watcher.join(1)
    return {"wall": wall, "rc": proc.returncode, "cpu": usage.ru_utime + usage.ru_stime,
            "peak": usage.ru_maxrss * 1024, "tree_peak": tree_peak, "read_chars": sum(read_chars.values()),
            "load": os.getloadavg(), "stderr": (logs / "stderr").read_text(errors="replace")}


def run_rollup(label: str, cities_yaml: Path, expect: str, kept: dict, scratch: Path) -> None:
    """`juki rollup` over a cities file in a fresh process, and the figures."""
    periods = kept["periods"]
    out = scratch / label.replace(":", "").replace("/", "")
    shutil.rmtree(out, ignore_errors=True)
    files, size, rows = inputs(cities_yaml, periods)
    args = [str(ROOT / ".venv" / "bin" / "juki"), "rollup", "--date", periods[-1][1], "--from", periods[0][0],
            "--cities", str(cities_yaml), "--expect", expect, "--out", str(out)]
    env = os.environ | {"PREFECT_LOGGING_LEVEL": "WARNING"}
    before_load = os.getloadavg()[0]
    r = timed(args, env, out.parent / f"{out.name}.logs")
    cpu, peak = r["cpu"], r["peak"]
    tables = {p.name.split("_", 1)[1]: max(p.read_text(encoding="utf-8-sig").count("\n") - 1, 0)
              for p in sorted(out.glob("*.csv"))} if out.is_dir() else {}
    say(f"  {label:<22} exit {r['rc']}  {r['wall']:7.1f} s wall {cpu:7.1f} s CPU  peak RSS {peak / GiB:.2f} GiB "
        f"(the process tree sampled: {r['tree_peak'] / GiB:.2f} GiB)  load {before_load:.2f} → {r['load'][0]:.2f}")
    say(f"  {'':<22} read {files:,} files, {size / 2**20:,.1f} MiB, {rows:,} rows (read_chars of the tree "
        f"{r['read_chars'] / 2**20:,.0f} MiB, imports included)")
    say(f"  {'':<22} tables: " + ", ".join(f"{k} {v:,} rows" for k, v in tables.items()))
    if r["rc"] not in (0, 1):
        say("    failed: " + r["stderr"][-1500:])
    elif r["stderr"].strip():
        say("    " + r["stderr"].strip().splitlines()[-1][:300])


def in_memory(cities: list) -> list:
    """The cities' files copied into fsspec's memory:// store (an object store without a network): their CityFiles
    there."""
    import fsspec

    from tasks.rollup import CityFiles

    memory, moved = fsspec.filesystem("memory"), []
    for c in cities:
        root = f"/nation/{c.municipality_code}"
        for path in Path(c.stats).rglob("*.parquet"):
            memory.pipe(f"{root}/stats/{path.relative_to(c.stats).as_posix()}", path.read_bytes())
        if c.wards:
            memory.pipe(f"{root}/wards.csv", Path(c.wards).read_bytes())
        moved.append(CityFiles(c.name, c.municipality_code, f"memory://{root}/stats",
                               f"memory://{root}/wards.csv" if c.wards else None))
    return moved


def phases(cities_yaml: Path, date_to: dt.date, date_from: dt.date, expect: str, out: Path,
           memory: bool = False) -> None:
    """The roll-up's steps called directly, without Prefect, each timed (run in a fresh child process); with
    memory, over copies of the files in fsspec's memory:// store."""
    from tasks import rollup as r
    from tasks.stats_files import pyramid_png

    marks = [("start", time.perf_counter(), time.process_time())]

    def mark(label: str) -> None:
        marks.append((label, time.perf_counter(), time.process_time()))

    cities = r.load_cities(cities_yaml)
    reference, prefectures = r.reference()
    expected = r.expected_codes(reference, cities, expect)
    mark("cities file and reference")
    if memory:
        cities = in_memory(cities)
        mark("files copied into memory://")
    results = r.read_cities(cities, date_to, date_from, r.ward_names(reference))
    mark("read and check")
    tables = r.lay_out(reference, prefectures, expected, results, date_to)
    mark("lay out")
    r.write_outputs(tables, pyramid_png(tables.nation_population, date_to), out, date_to)
    mark("pyramid and write")
    print(", ".join(f"{label} {b[1] - a[1]:.1f} s ({b[2] - a[2]:.1f} CPU s)"
                    for a, b, label in ((a, b, b[0]) for a, b in zip(marks, marks[1:]))))


def run_phases(label: str, cities_yaml: Path, expect: str, kept: dict, scratch: Path, memory: bool = False) -> None:
    """phases() in a fresh process: where the roll-up's own time goes, Prefect left out."""
    name = label.replace(":", "").replace("/", "")
    out = scratch / f"{name} (steps)"
    args = [sys.executable, __file__, "--phases-of", str(cities_yaml), "--expect", expect, "--date",
            kept["periods"][-1][1], "--from", kept["periods"][0][0], "--out", str(out), *(["--memory"] * memory)]
    before_load = os.getloadavg()[0]
    r = timed(args, os.environ | {"PREFECT_LOGGING_LEVEL": "WARNING"}, scratch / f"{name}.steps.logs")
    printed = (scratch / f"{name}.steps.logs" / "stdout").read_text().strip()
    say(f"  {label + ' steps':<22} exit {r['rc']}  {r['wall']:7.1f} s wall {r['cpu']:7.1f} s CPU  peak RSS "
        f"{r['peak'] / GiB:.2f} GiB  load {before_load:.2f} → {r['load'][0]:.2f}")
    say(f"  {'':<22} {printed}" if r["rc"] == 0 else "    failed: " + r["stderr"][-1500:])


def with_history(out: Path, kept: dict, n: int, history: int) -> Path:
    """A copy (hard links) of the cities of cities-N.yaml with `history` earlier business days' date folders, each
    the first date's files again: a city's stats/ after a year of daily runs; its cities file."""
    folder = out.parent / f"{out.name}-history{history}-{n}"
    if (folder / "cities.yaml").is_file():
        return folder / "cities.yaml"
    shutil.rmtree(folder, ignore_errors=True)
    codes = [c["municipality_code"] for c in
             yaml.safe_load((out / f"cities-{n}.yaml").read_text(encoding="utf-8"))["cities"]]
    cities = nation_stats.plan(codes)
    first = dt.date.fromisoformat(kept["periods"][0][0]) - dt.timedelta(days=1)
    days = [d for _f, d in nation_stats.statistics_dates(first, history)] if history else []
    for c in cities:
        source, target = out / c["code"] / "stats", folder / c["code"] / "stats"
        dates = sorted(p.name for p in source.iterdir())
        for day, files in [(d, d) for d in dates] + [(d.isoformat(), dates[0]) for d in days]:
            (target / day).mkdir(parents=True, exist_ok=True)
            for f in (source / files).iterdir():
                os.link(f, target / day / f.name)
        if c["wards"]:
            os.link(out / c["code"] / "wards.csv", folder / c["code"] / "wards.csv")
    nation_stats.cities_yaml(folder / "cities.yaml", cities)
    return folder / "cities.yaml"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "bench" / "nation-stats")
    parser.add_argument("--date", type=dt.date.fromisoformat, default=dt.date(2026, 4, 30),
                        help="the statistics date D (a business day)")
    parser.add_argument("--days", type=int, default=3, help="business days up to D, each with its balance file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rewrite", action="store_true", help="write the files again even if present")
    parser.add_argument("--sizes", default="50,200", help="subsets of cities timed before the nation")
    parser.add_argument("--workers", type=int, default=2, help="processes writing the files")
    parser.add_argument("--no-file-uri", action="store_true", help="skip the run through file:// URIs")
    parser.add_argument("--only-write", action="store_true", help="write the files, time nothing")
    parser.add_argument("--history", type=int, default=0, metavar="DAYS",
                        help="also time the steps for the first --sizes subset with DAYS earlier date folders "
                             "(hard links) in each city's stats/, as after a year of daily runs (240)")
    parser.add_argument("--no-steps", action="store_true", help="skip the nation's steps timed without Prefect")
    parser.add_argument("--phases-of", type=Path, help=argparse.SUPPRESS)  # the child process of run_phases
    parser.add_argument("--from", dest="date_from", type=dt.date.fromisoformat, help=argparse.SUPPRESS)
    parser.add_argument("--expect", default="nation", help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phases_of:
        phases(args.phases_of, args.date, args.date_from, args.expect, args.out, args.memory)
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    say(f"bench_rollup: {os.cpu_count()} cores, {load()}")
    kept = prepare(args.out, args.date, args.days, args.seed, args.rewrite, args.workers, sizes)
    if args.only_write:
        return
    scratch = args.out.parent / "nation-stats-out"
    say(f"juki rollup --date {kept['periods'][-1][1]} --from {kept['periods'][0][0]} ({len(kept['periods'])} "
        f"balance files per city), each in a fresh process:")
    for n in sizes:
        if (args.out / f"cities-{n}.yaml").is_file():
            run_rollup(f"{n} cities", args.out / f"cities-{n}.yaml", "listed", kept, scratch)
    run_rollup(f"nation ({kept['cities']:,})", args.out / "cities.yaml", "nation", kept, scratch)
    if not args.no_steps:
        run_phases("nation", args.out / "cities.yaml", "nation", kept, scratch)
        run_phases("nation, memory://", args.out / "cities.yaml", "nation", kept, scratch, memory=True)
    if args.history and sizes:
        history = with_history(args.out, kept, sizes[0], args.history)
        run_phases(f"{sizes[0]} cities, {args.history} days of history", history, "listed", kept, scratch)
    if not args.no_file_uri:
        run_rollup("nation, file:// URIs", args.out / "cities-file-uri.yaml", "nation", kept, scratch)


if __name__ == "__main__":
    main()
