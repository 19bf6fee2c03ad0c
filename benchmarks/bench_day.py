"""Benchmark (not a test): one day of `tasks.daily.run` at full size, step by step, beside the raw floors and the peer.

`make bench` runs it. It generates a city once (kept under data/bench/, reused), loads the BASELINE and the
days before the measured one into a base store once, then copies that store for every measurement of the
same end-of-March day (about 1,300 rows):

* in process: each step of tasks.daily.run (land … seal), the GX import apart, peak memory of that child;
* as a whole process: a fresh interpreter running tasks.daily.run (imports included);
* through a running local Prefect server: `juki ingest` with PREFECT_API_URL set (the benchmark starts one);
* the raw DuckDB floors on the same store: the population table of one date, a snapshot to zstd Parquet;
* the peer (../shared/peer/bench_dbt_snapshot.py, in benchmarks/.peer-venv) in the same run, when present;
* read commands (`juki stats population`) as a whole process.

Every line carries the 1-minute load average when it was measured; ratios are taken within this run.

    .venv/bin/python benchmarks/bench_day.py [--residents 607000] [--skip-peer] [--skip-server]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "bench"
PEER = ROOT.parent / "shared" / "peer"
PEER_VENV = Path(__file__).resolve().parent / ".peer-venv"
PYTHON = sys.executable
START = dt.date(2026, 3, 16)
DAY = "20260330"  # an end-of-March file: about 1,300 rows at 607,000 residents
KEYS = {f"JUKI_{n}_KEY": bytes(range(i, i + 32)).hex()
        for i, n in enumerate(("CONBINI", "JUKI_NET", "IMMIGRATION", "KOSEKI_FUHYO", "KOSEKI_FUHYO_CS"))}
GiB = 2**30


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def say(text: str) -> None:
    print(text, flush=True)


def timed_child(args: list[str], env: dict | None = None, cwd: Path = ROOT) -> dict:
    """Run a child process under /usr/bin/time -v: wall seconds, peak RSS (bytes), its stdout."""
    started = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **KEYS, **(env or {})})
    wall = time.perf_counter() - started
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([0-9.]+)", proc.stderr))
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{args[:3]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return {"wall": wall, "peak": int(peak.group(1)) * 1024 if peak else None, "stdout": proc.stdout,
            "stderr": proc.stderr, "rc": proc.returncode, "cpu": cpu}


# --- the fixture: a generated city and a base store holding every day before DAY ------------------

def city(residents: int) -> Path:
    """The generated city (reused when already there); generation is timed and reported once."""
    out = DATA / f"city{residents // 1000}k"
    if not (out / "truth").is_dir() or not any(out.glob(f"*_{DAY}.csv")):
        shutil.rmtree(out, ignore_errors=True)
        r = timed_child([PYTHON, "-m", "juki.cli", "generate", "--out", str(out), "--residents", str(residents),
                         "--days", "20", "--start", START.isoformat()])
        say(f"generate {residents:,} residents: {r['wall']:.1f} s, peak {r['peak'] / GiB:.2f} GiB ({load()})")
    return out


def base_store(residents: int) -> Path:
    """A store with the BASELINE and the days before DAY taken in (each as its own daily run)."""
    base = DATA / f"base{residents // 1000}k"
    pristine = base.with_name(base.name + ".pristine")
    if (pristine / "registry.duckdb").is_file() or (base / "registry.duckdb").is_file():
        return base  # fresh_copy puts the pristine one back before each measurement
    shutil.rmtree(base, ignore_errors=True)
    shutil.rmtree(pristine, ignore_errors=True)
    files = sorted(p for p in city(residents).glob("*.csv") if p.stem.rsplit("_", 1)[1] < DAY)
    r = timed_child([PYTHON, __file__, "--child", "base", "--store", str(base / "registry.duckdb"),
                     "--files", *map(str, files)])
    say(r["stdout"].rstrip())
    say(f"base store ({len(files)} runs, BASELINE first): {r['wall']:.1f} s, peak {r['peak'] / GiB:.2f} GiB "
        f"({load()})")
    return base


def baseline(residents: int) -> dict:
    """The BASELINE file alone into a new store, as one daily run: wall clock and peak of that process."""
    work = DATA / "work" / "baseline"
    shutil.rmtree(work, ignore_errors=True)
    first = sorted(city(residents).glob("*.csv"))[0]
    r = timed_child([PYTHON, __file__, "--child", "base", "--store", str(work / "registry.duckdb"),
                     "--files", str(first)])
    shutil.rmtree(work, ignore_errors=True)
    return {"wall": r["wall"], "peak": r["peak"], "steps": r["stdout"].strip(), "load": load()}


def fresh_copy(base: Path) -> Path:
    """The base store as it was built, at the path it was built at (kept once as <base>.pristine).

    The outputs' watermarks name their targets (outbox/<name>/ beside the store), so a copy anywhere else
    would publish every change feed again from the BASELINE on: that is not a day's cost."""
    pristine = base.with_name(base.name + ".pristine")
    if not pristine.is_dir():
        shutil.copytree(base, pristine)
    shutil.rmtree(base)
    shutil.copytree(pristine, base)
    return base


# --- children -------------------------------------------------------------------------------------

def child_base(store: Path, files: list[str]) -> None:
    """Take in each file as its own run (the BASELINE's steps printed: read, GX, apply)."""
    sys.path.insert(0, str(ROOT))
    from tasks import daily, ingest
    from juki_core.settings import Settings
    from juki_core.store import connect

    settings = Settings(store=store)
    con = connect(store)
    for n, uri in enumerate(files):
        t = time.perf_counter()
        seconds = {}
        stages = ingest.Stages(**{s: _timing(seconds, s, getattr(ingest, s))
                                  for s in ("land", "read", "validate", "apply")})
        base = daily.Steps()  # the steps after the file too, so the capacity mode can say which one set the peak
        steps = daily.Steps(stages=stages, check=_timing(seconds, "invariants", base.check),
                            balance=_timing(seconds, "balance", base.balance),
                            statistics=_timing(seconds, "statistics", base.statistics),
                            receipts=_timing(seconds, "receipts", base.receipts),
                            handoffs=_timing(seconds, "hand-offs", base.handoffs))
        daily.run(con, settings, f"bench-base-{n}", [uri], daily.parameters(settings, [uri]),
                  key_for=_key_for, steps=steps)
        if n == 0:
            print(f"BASELINE run: {time.perf_counter() - t:.1f} s ("
                  + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()) + f"; {load()})", flush=True)
    con.close()


STEP_MARKS = "JUKI_BENCH_STEP_MARKS"
CPU: dict[str, float] = {}  # CPU seconds of this process (every thread) per step: on a shared machine the
# wall clock of a step is mostly waiting for a core, its CPU time is what the step costs


def _timing(seconds: dict, label: str, fn):
    def run(*args, **kwargs):
        started, cpu = time.perf_counter(), time.process_time()
        if os.environ.get(STEP_MARKS):  # the capacity mode names the step a process was stopped in
            print(f"step {label}", file=sys.stderr, flush=True)
        try:
            return fn(*args, **kwargs)
        finally:
            seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - started
            CPU[label] = CPU.get(label, 0.0) + time.process_time() - cpu
            if os.environ.get(STEP_MARKS):  # the process's peak so far (VmHWM): the step that raised it set it
                print(f"peak {label} {_hwm()}", file=sys.stderr, flush=True)
    return run


def _hwm() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def _key_for(sub):
    from tasks.handoff import key_from_env

    return key_from_env(sub.key_env)


def _rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child_day(store: Path, uri: str, warm: bool) -> None:
    """One daily run in this process, each step timed; prints JSON. `warm`: imports first, timed apart."""
    sys.path.insert(0, str(ROOT))
    started = time.perf_counter()
    imports = {}
    if warm:
        for module in ("duckdb", "polars", "pyarrow", "tasks.daily", "tasks.ingest", "tasks.validate_rows",
                       "great_expectations", "PIL.ImageDraw"):
            t = time.perf_counter()
            __import__(module)
            imports[f"import {module}"] = time.perf_counter() - t
        from tasks.read import read_change_file
        from tasks.validate_rows import _suite, row_violations
        t = time.perf_counter()
        _suite()
        imports["GX suite built"] = time.perf_counter() - t
        change_file = read_change_file(Path(uri).name, Path(uri).read_bytes(), "112038")
        for n in (1, 2):  # the first call also loads GX's pandas execution engine
            t = time.perf_counter()
            row_violations(change_file.rows, change_file.business_date)
            imports[f"GX suite on the day's file, call {n}"] = time.perf_counter() - t
    import tasks.audit
    import tasks.chain
    import tasks.daily as daily
    from juki_core.settings import Settings
    from juki_core.store import connect
    from tasks import ingest

    seconds: dict[str, float] = {}
    stages = ingest.Stages(**{s: _timing(seconds, s, getattr(ingest, s))
                              for s in ("land", "read", "validate", "apply")})
    base = daily.Steps()
    steps = daily.Steps(stages=stages, check=_timing(seconds, "invariants", base.check),
                        balance=_timing(seconds, "balance", base.balance),
                        statistics=_timing(seconds, "statistics", base.statistics),
                        handoffs=_timing(seconds, "hand-offs", base.handoffs))
    daily.register_digest = _timing(seconds, "register digest", daily.register_digest)
    daily.chain = type("chain", (), {"seal": staticmethod(_timing(seconds, "seal", tasks.chain.seal))})
    settings = Settings(store=store)
    rss_before = _rss()
    t = time.perf_counter()
    con = connect(store)
    seconds["open store"] = time.perf_counter() - t
    t, cpu = time.perf_counter(), time.process_time()
    record = daily.run(con, settings, "bench-day", [uri], daily.parameters(settings, [uri]), key_for=_key_for,
                       steps=steps)
    total, total_cpu = time.perf_counter() - t, time.process_time() - cpu
    con.close()
    print(json.dumps({"steps": seconds, "cpu": CPU, "total": total, "total_cpu": total_cpu, "imports": imports, "status": record.status,
                      "outcome": record.outcomes[0], "rss_before": rss_before, "rss_after": _rss(),
                      "process": time.perf_counter() - started, "digest": record.register_sha256}))


# --- measurements ---------------------------------------------------------------------------------

def compiled() -> None:
    """The checkout's own modules compiled once, as any deployment has them after its first run: where the
    environment sets PYTHONDONTWRITEBYTECODE (this machine does) every fresh process would compile them again."""
    subprocess.run([PYTHON, "-m", "compileall", "-q", *(str(ROOT / d) for d in PACKAGES)], check=True,
                   stdout=subprocess.DEVNULL)


PACKAGES = ("juki", "juki_core", "flows", "tasks", "schemas", "synthetic")

def in_process(base: Path, uri: str) -> dict:
    work = fresh_copy(base)
    r = timed_child([PYTHON, __file__, "--child", "day", "--warm", "--store", str(work / "registry.duckdb"),
                     "--files", uri])
    out = json.loads(r["stdout"].strip().splitlines()[-1])
    out["peak"], out["load"] = r["peak"], load()
    return out


def whole_process(base: Path, uri: str, gx_address: str | None = None) -> dict:
    """A fresh interpreter running tasks.daily.run; with `gx_address`, GX runs on that warm Dask worker."""
    work = fresh_copy(base)
    r = timed_child([PYTHON, __file__, "--child", "day", "--store", str(work / "registry.duckdb"), "--files", uri],
                    env={GX_ADDRESS_VARIABLE: gx_address} if gx_address else None)
    return {"wall": r["wall"], "peak": r["peak"], "cpu": r["cpu"], "load": load()}


GX_ADDRESS_VARIABLE = "JUKI_GX_DASK_ADDRESS"  # tasks.validate_rows reads it (not imported here: it imports polars)


@contextlib.contextmanager
def warm_gx_worker():
    """A local Dask scheduler and one worker that imported GX at start (`--preload tasks.validate_rows`), as
    README's "GX kept warm" runs them, on 127.0.0.1 only (the worker receives full My Numbers); stopped after.

    Yields (address, the worker's pid), or (None, None) with a sentence when it does not come up."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(PYTHON).with_name("dask"))
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": ROOT}
    t = time.perf_counter()
    scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                                 **quiet)
    worker = subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                               "--host", "127.0.0.1", "--preload", "tasks.validate_rows"], **quiet)
    try:
        probe = subprocess.run([PYTHON, "-c", "import sys; from distributed import Client; "
                                "c = Client(sys.argv[1], timeout=120); c.wait_for_workers(1, timeout=300); "
                                "import tasks.validate_rows as v; print(c.submit(v.warm, pure=False).result())",
                                address], capture_output=True, text=True, cwd=ROOT)
        if probe.returncode:
            say(f"the warm GX worker did not start; runs with it are skipped: {probe.stderr[-500:]}")
            yield None, None
            return
        say(f"warm GX worker up at {address} in {time.perf_counter() - t:.1f} s (GX imported there once; {load()})")
        yield address, worker.pid
    finally:
        for proc in (worker, scheduler):
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def peak_of(pid: int | None) -> int | None:
    """A running process's peak resident memory (VmHWM), in bytes."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (OSError, TypeError):
        return None
    found = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(found.group(1)) * 1024 if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def through_server(base: Path, uri: str, gx_address: str | None = None) -> dict | None:
    """`juki ingest` against a local Prefect server this benchmark starts (and stops); with `gx_address` set,
    the same runs again with GX on that warm Dask worker."""
    home = DATA / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api", "PREFECT_LOGGING_LEVEL": "WARNING"}
    prefect = Path(PYTHON).with_name("prefect")
    server = subprocess.Popen([str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    try:
        import urllib.request

        deadline = time.time() + 180
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2)
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    say("Prefect server did not start; the run through a server is skipped")
                    return None
                time.sleep(1)
        client_env = {k: env[k] for k in ("PREFECT_HOME", "PREFECT_API_URL", "PREFECT_LOGGING_LEVEL",
                                          "PREFECT_SERVER_ANALYTICS_ENABLED")}

        def ingest(extra: dict) -> dict:
            work = fresh_copy(base)
            r = timed_child([PYTHON, "-m", "juki.cli", "--store", str(work / "registry.duckdb"), "ingest", uri],
                            env={**client_env, **extra})
            return {"wall": r["wall"], "peak": r["peak"], "cpu": r["cpu"], "load": load(), "rc": r["rc"]}

        # the first run also registers the flow; the second is a day's steady cost
        runs = [ingest({}) for _ in range(2)]
        out = {"first": runs[0], **runs[1]}
        if gx_address:
            warm = [ingest({GX_ADDRESS_VARIABLE: gx_address}) for _ in range(2)]
            out["warm_gx"] = min(warm, key=lambda r: r["wall"])
        return out
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def floors(base: Path) -> dict:
    """The raw DuckDB floors on the same register: population of one date, current residents to zstd Parquet."""
    import duckdb

    out = {}
    con = duckdb.connect(str(base / "registry.duckdb"), read_only=True)
    day = dt.datetime.strptime(DAY, "%Y%m%d").date()
    t, cpu = time.perf_counter(), time.process_time()
    con.execute("select town_code, sex, (date_diff('year', birth_date, $d::date) // 5) as g, nationality = 'JP', "
                "count(*) from resident_version where recorded_to is null and status = 'current' "
                "and valid_from <= $d and (valid_to is null or valid_to > $d) group by all", {"d": day}).fetchall()
    out["population"], out["population_cpu"] = time.perf_counter() - t, time.process_time() - cpu
    target = DATA / "work" / "floor-snapshot.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    t, cpu = time.perf_counter(), time.process_time()
    con.execute(f"copy (select * exclude (recorded_from, recorded_to) from resident_version "
                f"where recorded_to is null and status = 'current' and valid_to is null order by resident_code) "
                f"to '{target}' (format parquet, compression zstd)")
    out["snapshot"], out["snapshot_cpu"] = time.perf_counter() - t, time.process_time() - cpu
    out["snapshot_mb"] = target.stat().st_size / 1e6
    out["residents"] = con.execute("select count(*) from resident_version where recorded_to is null "
                                   "and status = 'current' and valid_to is null").fetchall()[0][0]
    con.close()
    out["load"] = load()
    return out


def read_commands(base: Path) -> dict:
    out = {}
    for name in ("population", "households"):
        r = timed_child([PYTHON, "-m", "juki.cli", "--store", str(base / "registry.duckdb"), "stats", name,
                         "--as-of", dt.datetime.strptime(DAY, "%Y%m%d").date().isoformat()])
        out[name] = {"wall": r["wall"], "peak": r["peak"], "load": load()}
    return out


def peer(residents: int) -> dict | None:
    """The peer's `dbt snapshot` process at the same size (3 days), in the venv this benchmark owns."""
    if not (PEER / "bench_dbt_snapshot.py").is_file():
        say(f"peer: {PEER} is not beside the checkout, so the comparison with dbt snapshot is skipped.")
        return None
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        say(f"peer: installing dbt-core<1.12 and dbt-duckdb==1.11.1 into {PEER_VENV} …")
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "-q", "dbt-core<1.12", "dbt-duckdb==1.11.1",
                        "duckdb", "polars", "numpy", "pyarrow"], check=True)
    work = DATA / "peer"
    shutil.rmtree(work, ignore_errors=True)
    proc = subprocess.run([str(python), str(PEER / "bench_dbt_snapshot.py"), "--workdir", str(work), "--sizes",
                           str(residents), "--days", "3", "--skip-startup"], capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{PEER_VENV / 'bin'}:{os.environ['PATH']}"})
    if proc.returncode:
        say(f"peer failed: {proc.stderr[-1500:]}")
        return None
    days = json.loads((work / "results.json").read_text())["sizes"][0]["days"]
    walls = sorted(d["dbt"]["wall_s"] for d in days)
    return {"wall": walls[len(walls) // 2], "peak": max(d["dbt"]["max_rss_mb"] or 0 for d in days) * 1e6,
            "load": load()}


# --- report ---------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=607_000)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--skip-server", action="store_true")
    parser.add_argument("--skip-warm-gx", action="store_true", help="no runs with GX on a warm Dask worker")
    parser.add_argument("--capacity", action="store_true",
                        help="generate, BASELINE and three days of a city (6,000,000 residents unless --residents "
                             "is given), each its own process, against 8 GiB (benchmarks/bench_capacity.py)")
    parser.add_argument("--child", choices=("base", "day"), help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--files", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.capacity:
        import bench_capacity

        given = "--residents" in sys.argv
        return bench_capacity.main(["--residents", str(args.residents if given else 6_000_000)])
    if args.child == "base":
        return child_base(Path(args.store), args.files)
    if args.child == "day":
        return child_day(Path(args.store), args.files[0], args.warm)

    say(f"juki day benchmark: {args.residents:,} residents, day {DAY}, {os.cpu_count()} cores ({load()})")
    base = base_store(args.residents)
    uri = str(next(city(args.residents).glob(f"*_{DAY}.csv")))
    f = floors(fresh_copy(base))
    say(f"register: {f['residents']:,} residents now")
    say(f"raw floors: population of one date {f['population']:.2f} s (CPU {f['population_cpu']:.2f} s); current "
        f"residents to zstd Parquet {f['snapshot']:.2f} s (CPU {f['snapshot_cpu']:.2f} s), {f['snapshot_mb']:.0f} MB "
        f"({f['load']})")
    d = in_process(base, uri)
    o = d["outcome"]
    say(f"\nin process: {o['file']} {o['rows_read']:,} rows, {o['rows_applied']:,} applied, "
        f"{o['rows_quarantined']} quarantined; status {d['status']} ({d['load']})")
    for name, seconds in d["imports"].items():
        say(f"  {name:<33} {seconds:6.2f} s  (before the run, not in any step)")
    say(f"  {'step':<33} {'wall':>8} {'CPU':>8}")
    for name, seconds in d["steps"].items():
        say(f"  {name:<33} {seconds:6.2f} s {d['cpu'].get(name, 0):6.2f} s")
    say(f"  {'all steps (land … seal)':<33} {d['total']:6.2f} s {d['total_cpu']:6.2f} s   peak "
        f"{d['peak'] / GiB:.2f} GiB (before the run {d['rss_before'] / GiB:.2f} GiB)")
    for clock, key, suffix in (("wall", "steps", ""), ("CPU", "cpu", "_cpu")):
        steps = d[key]
        say(f"  {clock}: hand-offs / snapshot floor {steps.get('hand-offs', 0) / f['snapshot' + suffix]:.1f}x; "
            f"statistics+balance / population floor "
            f"{(steps.get('statistics', 0) + steps.get('balance', 0)) / f['population' + suffix]:.0f}x")
    compiled()
    w = whole_process(base, uri)
    say(f"whole process (fresh interpreter, tasks.daily.run): {w['wall']:.2f} s, CPU {w['cpu']:.2f} s, peak "
        f"{w['peak'] / GiB:.2f} GiB ({w['load']})")
    with (warm_gx_worker() if not args.skip_warm_gx else contextlib.nullcontext((None, None))) as (gx, gx_pid):
        wg = whole_process(base, uri, gx) if gx else None
        if wg:
            say(f"whole process, GX on the warm worker: {wg['wall']:.2f} s, CPU {wg['cpu']:.2f} s, peak "
                f"{wg['peak'] / GiB:.2f} GiB ({wg['load']})")
        s = None if args.skip_server else through_server(base, uri, gx)
        gx_peak = peak_of(gx_pid)
    if s:
        say(f"through a running local Prefect server (`juki ingest`): {s['wall']:.2f} s, CPU {s['cpu']:.2f} s, peak "
            f"{s['peak'] / GiB:.2f} GiB; first run after the server started {s['first']['wall']:.2f} s "
            f"({s['load']})")
        if "warm_gx" in s:
            g = s["warm_gx"]
            say(f"through the server, GX on the warm worker: {g['wall']:.2f} s, CPU {g['cpu']:.2f} s, peak "
                f"{g['peak'] / GiB:.2f} GiB (the worker's own peak {(gx_peak or 0) / GiB:.2f} GiB; {g['load']})")
    b = baseline(args.residents)
    say(f"BASELINE alone, a fresh process: {b['wall']:.1f} s, peak {b['peak'] / GiB:.2f} GiB ({b['load']}); "
        f"{b['steps']}")
    r = read_commands(fresh_copy(base))
    say("read commands (whole process): " + "; ".join(
        f"stats {n} {v['wall']:.2f} s, {v['peak'] / 2**20:.0f} MiB" for n, v in r.items()) + f" ({load()})")
    p = None if args.skip_peer else peer(args.residents)
    if p:
        say(f"peer dbt snapshot process (median of 3 days): {p['wall']:.2f} s, peak {p['peak'] / GiB:.2f} GiB "
            f"({p['load']})")
        rows = [("in process (land … seal)", d["total"], d["peak"]), ("whole process", w["wall"], w["peak"])]
        rows += [("whole process, GX warm", wg["wall"], wg["peak"])] if wg else []
        rows += [("through a Prefect server", s["wall"], s["peak"])] if s else []
        rows += [("through a server, GX warm", s["warm_gx"]["wall"], s["warm_gx"]["peak"])] if s and "warm_gx" in s else []
        say(f"juki's day beside the peer's process ({p['wall']:.2f} s, {p['peak'] / GiB:.2f} GiB):")
        for label, wall, peak in rows:
            say(f"  {label:<28} {wall:6.2f} s {wall / p['wall']:5.2f}x   {peak / GiB:.2f} GiB {peak / p['peak']:5.2f}x")

if __name__ == "__main__":
    main()
