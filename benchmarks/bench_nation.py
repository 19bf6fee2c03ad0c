"""Benchmark (not a test): N tiny cities through the many-cities flow against a running Prefect server.

Start the server first (`scripts/prefect-server.sh [--postgres]`, then export the PREFECT_API_URL it prints).
The cities' inboxes are generated once into data/bench/nation/r<residents>/inputs/<code>/inbox/ (a BASELINE and one
business day each) and reused; every run builds fresh stores under data/bench/nation/r<residents>/run/ (removed
after, unless --keep). Two flow runs, each its own process as a deployment would start it: the BASELINE, then
the day. For each it prints wall and CPU seconds (the flow process: user + system of every thread), per city
(the link task's run time as the API recorded it, and the process CPU / N), the peak RSS of the flow process, of
the Prefect server and of PostgreSQL (their process trees, PSS: shared pages counted once), the task runs and
flow runs the API holds for it, the HTTP calls the flow process made to the API (counted by an httpx hook, per
endpoint) and the load average.

    .venv/bin/python benchmarks/bench_nation.py --cities 50 [--residents 200] [--workers 4] [--server-db auto]
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_day import DATA, KEYS, PYTHON, ROOT, say  # noqa: E402

NATION = DATA / "nation"
STATE = ROOT / "data" / "prefect-bench"
PG_CLUSTER = ROOT / "data" / "prefect-pg" / "cluster"
MiB = 2**20


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def check_digit(five: str) -> str:
    """全国地方公共団体コード's check digit (modulus 11, weights 6..2)."""
    try:
        from schemas.municipalities import check_digit as ref
        return str(ref(five))
    except ImportError:
        r = sum(int(d) * w for d, w in zip(five, (6, 5, 4, 3, 2))) % 11
        return str((11 - r) % 10)


def municipality_codes(n: int) -> list[str]:
    """N municipality codes: the reference list's 1,741 when it is there, else synthetic ones by prefecture."""
    try:
        from schemas.municipalities import municipalities
        codes = [m.municipality_code for m in municipalities() if m.kind != "ward"]
    except ImportError:
        codes = [f"{p:02d}{s:03d}" for s in range(201, 201 + 38) for p in range(1, 48)]
        codes = [c + check_digit(c) for c in codes]
    if n > len(codes):
        raise SystemExit(f"only {len(codes)} municipality codes to lay out")
    return codes[:n]


def _generate(args: tuple[str, int, int]) -> str:
    code, residents, seed = args
    from synthetic.city import generate_city
    inbox = NATION / f"r{residents}" / "inputs" / code / "inbox"
    done = inbox.parent / "generated"
    if not done.exists():
        shutil.rmtree(inbox, ignore_errors=True)
        generate_city(inbox, residents=residents, days=1, seed=seed, municipality_code=code)
        shutil.rmtree(inbox / "truth", ignore_errors=True)  # the generator's answers: not an inbox file
        done.write_text("")
    return code


def from_layout(folder: Path, n: int) -> tuple[Path, dt.date]:
    """N cities of a `juki nation layout` folder (spread over the prefectures as `--cities N` takes them), with
    fresh stores and statistics under a run folder beside it; their own subscribers and keys.env."""
    from juki_core.cities import keys_beside, load_cities
    from synthetic.nation import choose

    every = {c["municipality_code"]: c for c in load_cities(folder / "cities.yaml")}
    chosen = [every[m.municipality_code] for m in choose(cities=n) if m.municipality_code in every][:n]
    if len(chosen) < n:
        raise SystemExit(f"{folder} holds {len(every)} cities, not the {n} asked for")
    run = folder.parent / f"{folder.name}-run"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    keys = str(keys_beside(folder / "cities.yaml"))  # read by each city's task, not put into the environment
    cities = [{**c, "store": f"{c['municipality_code']}/registry.duckdb", "keys_file": keys,
               "stats": str(run / c["municipality_code"] / "stats")} for c in chosen]
    (run / "cities.json").write_text(json.dumps({"cities": cities}, ensure_ascii=False))
    first = sorted(Path(chosen[0]["inbox"]).glob("*.csv"))[0].name
    baseline = dt.datetime.strptime(re.search(r"_(\d{8})", first)[1], "%Y%m%d").date()
    say(f"layout: {n} cities of {folder} ({load()})")
    return run, baseline


def lay_out(n: int, residents: int) -> tuple[Path, dt.date]:
    """The inputs of N cities (generated once, in two processes), fresh stores, and the cities YAML."""
    codes = municipality_codes(n)
    started = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_generate, [(c, residents, i + 1) for i, c in enumerate(codes)], chunksize=8))
    run = NATION / f"r{residents}" / "run"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    inputs = NATION / f"r{residents}" / "inputs"
    cities = [{"name": f"c{code}", "municipality_code": code, "store": f"{code}/registry.duckdb",
               "inbox": str(inputs / code / "inbox")} for code in codes]
    (run / "cities.json").write_text(json.dumps({"cities": cities}, ensure_ascii=False))
    first = sorted((inputs / codes[0] / "inbox").glob("*.csv"))[0].name
    baseline = dt.datetime.strptime(re.search(r"_(\d{8})", first)[1], "%Y%m%d").date()
    say(f"layout: {n} cities of {residents} residents in {time.perf_counter() - started:.1f} s ({load()})")
    return run, baseline


# ---- the flow process -------------------------------------------------------------------------------------

def child(run: Path, until: str | None, out: Path) -> None:
    """Run many-cities once in this process; count its HTTP calls to the API; write figures to `out`."""
    import httpx

    calls: collections.Counter = collections.Counter()
    slow: list[float] = []
    failures: collections.Counter = collections.Counter()
    lock = threading.Lock()
    ids = re.compile(r"/[0-9a-f]{8}-[0-9a-f-]{27}")

    def tally(request, status, seconds: float) -> None:
        endpoint = f"{request.method} {ids.sub('/{id}', request.url.path)}"
        with lock:
            calls[endpoint] += 1
            if status == "raised" or status >= 400:  # the client retries 429, 503 and the like: each try counts
                failures[f"{endpoint} -> {status}"] += 1
            slow.append(seconds)

    def counted(send):
        async def asend(self, request, *a, **k):
            t, status = time.perf_counter(), "raised"
            try:
                response = await send(self, request, *a, **k)
                status = response.status_code
                return response
            finally:
                tally(request, status, time.perf_counter() - t)

        def ssend(self, request, *a, **k):
            t, status = time.perf_counter(), "raised"
            try:
                response = send(self, request, *a, **k)
                status = response.status_code
                return response
            finally:
                tally(request, status, time.perf_counter() - t)
        return asend if send is httpx.AsyncClient.send else ssend

    httpx.AsyncClient.send = counted(httpx.AsyncClient.send)
    httpx.Client.send = counted(httpx.Client.send)
    # task runs' states reach the server as events over one websocket, not as HTTP calls: count those too
    from prefect.events.clients import PrefectEventsClient

    events: collections.Counter = collections.Counter()
    emit, reconnect = PrefectEventsClient._emit, PrefectEventsClient._reconnect

    async def counted_emit(self, event):
        events[event.event] += 1
        return await emit(self, event)

    async def counted_reconnect(self):
        events["(websocket connects)"] += 1
        return await reconnect(self)
    PrefectEventsClient._emit, PrefectEventsClient._reconnect = counted_emit, counted_reconnect

    from flows.many_cities import many_cities

    # the run's parameters name the file, not 1,741 cities: see flows.many_cities.listed_cities
    for c in json.loads((run / "cities.json").read_text())["cities"]:
        (run / c["store"]).parent.mkdir(parents=True, exist_ok=True)
    cpu0, t0 = time.process_time(), time.perf_counter()
    started = dt.datetime.now(dt.timezone.utc)
    state = many_cities(cities_file=str(run / "cities.json"), until=dt.date.fromisoformat(until) if until else None, return_state=True)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    results = state.result(raise_on_failure=False)
    outcome = results.outcome if hasattr(results, "outcome") else results
    lat = sorted(slow)
    out.write_text(json.dumps({
        "wall": wall, "cpu": cpu, "state": state.type.value, "message": (state.message or "")[:500],
        "flow_run_id": str(state.state_details.flow_run_id), "started": started.isoformat(),
        "statuses": dict(collections.Counter(r["status"] for r in outcome or [])),
        "calls": dict(calls), "events": dict(events), "failures": dict(failures), "latency": {"n": len(lat), "p50": lat[len(lat) // 2] if lat else 0,
                                          "p95": lat[int(len(lat) * .95)] if lat else 0, "max": lat[-1] if lat else 0}}))


# ---- the API's own count -----------------------------------------------------------------------------------

def api_figures(api: str, flow_run_id: str, started: str) -> dict:
    """Task runs and flow runs the server holds for this run, and the link tasks' run times."""
    import httpx

    with httpx.Client(base_url=api, timeout=120) as c:
        in_run = {"flow_runs": {"id": {"any_": [flow_run_id]}}}
        task_runs = c.post("/task_runs/count", json=in_run).json()
        flow_runs = c.post("/flow_runs/count", json={"flow_runs": {"start_time": {"after_": started}}}).json()
        times, offset = [], 0
        while True:
            page = c.post("/task_runs/filter", json={**in_run, "task_runs": {"name": {"like_": "daily linkage of"}},
                                                     "limit": 200, "offset": offset}).json()
            times += [t["total_run_time"] for t in page]
            offset += len(page)
            if len(page) < 200:
                break
        by_name = collections.Counter()
        names_page = c.post("/task_runs/filter", json={**in_run, "limit": 200}).json()
        for t in names_page:
            by_name[re.sub(r" of .*| \(.*", "", t["name"])] += 1
    times.sort()
    return {"task_runs": task_runs, "flow_runs_since": flow_runs, "link_tasks": len(times),
            "link_p50": times[len(times) // 2] if times else 0, "link_p90": times[int(len(times) * .9)] if times else 0,
            "link_max": times[-1] if times else 0, "sample_names": dict(by_name.most_common(12))}


def done_links(api: str, since_monotonic: float) -> int | str:
    """Link tasks completed since the phase began (the API's count)."""
    import httpx

    after = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=time.perf_counter() - since_monotonic)).isoformat()
    try:
        return httpx.post(f"{api}/task_runs/count", timeout=30, json={"task_runs": {
            "name": {"like_": "daily linkage of"}, "state": {"type": {"any_": ["COMPLETED"]}},
            "start_time": {"after_": after}}}).json()
    except httpx.HTTPError as exc:
        return f"? ({type(exc).__name__})"


def server_db(api: str, told: str) -> str:
    if told != "auto":
        return told
    if (STATE / "api_url").exists() and (STATE / "api_url").read_text().strip() == api.rstrip("/"):
        return (STATE / "database").read_text().strip()
    return "unknown (not started by scripts/prefect-server.sh)"


def trees() -> dict[str, list[psutil.Process]]:
    """The server's and PostgreSQL's processes (from their pid files)."""
    found = {}
    for name, pidfile in (("server", STATE / "server.pid"), ("postgres", PG_CLUSTER / "postmaster.pid")):
        try:
            p = psutil.Process(int(pidfile.read_text().split()[0]))
            found[name] = [p, *p.children(recursive=True)]
        except (FileNotFoundError, psutil.NoSuchProcess, ValueError):
            pass
    return found


def pss(procs: list[psutil.Process]) -> int:
    total = 0
    for p in procs:
        try:
            total += p.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def cpu_of(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()  # with the reaped children's: PostgreSQL's backends come and go
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return total


def phase(name: str, run: Path, until: dt.date | None, env: dict, api: str) -> dict:
    """One flow run in a child process, its peak RSS and the server's, sampled every half second."""
    out = run / f"{name}.json"
    servers = trees()
    cpu_before = {k: cpu_of(v) for k, v in servers.items()}
    load_before = os.getloadavg()
    log = (run / f"{name}.log").open("w")
    proc = subprocess.Popen([PYTHON, __file__, "--child", str(run), until.isoformat() if until else "", str(out)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    peak = {"flow": 0, **{k: 0 for k in servers}}
    n, began = 0, time.perf_counter()
    while proc.poll() is None:
        if n and n % 120 == 0:  # every minute: how far, and memory as the cities pile up
            say(f"  … {time.perf_counter() - began:.0f} s: {done_links(api, began)} cities done, flow RSS "
                f"{peak['flow'] / MiB:.0f} MiB, " + ", ".join(f"{k} {v / MiB:.0f} MiB" for k, v in peak.items()
                                                              if k != "flow") + f", {load()}")
        try:
            peak["flow"] = max(peak["flow"], psutil.Process(proc.pid).memory_info().rss)
        except psutil.NoSuchProcess:
            pass
        if n % 4 == 0:  # PSS is dearer to read: every 2 s
            for k, v in servers.items():
                peak[k] = max(peak[k], pss(v))
        n += 1
        time.sleep(0.5)
    log.close()
    if proc.returncode:
        say((run / f"{name}.log").read_text()[-4000:])
        raise SystemExit(f"{name}: the flow process ended with {proc.returncode}")
    figures = json.loads(out.read_text())
    figures["peak"] = peak
    figures["server_cpu"] = {k: cpu_of(v) - cpu_before[k] for k, v in servers.items()}
    figures["load"] = (load_before, os.getloadavg())
    figures["api"] = api_figures(api, figures["flow_run_id"], figures["started"])
    figures["log"] = log_lines(run / f"{name}.log")
    return figures


def log_lines(path: Path) -> dict:
    """The flow process's WARNING and ERROR lines, by their first words (a task's own name taken out)."""
    seen: collections.Counter = collections.Counter()
    for line in path.read_text(errors="replace").splitlines():
        m = re.match(r"[\d:.]+ \| (WARNING|ERROR|CRITICAL) *\| (.*)", line)
        if m:
            text = re.sub(r"'[^']*'", "'…'", m[2])
            seen[f"{m[1]} {text[:110]}"] += 1
    return dict(seen.most_common(8))


def report(name: str, n: int, f: dict) -> None:
    a = f["api"]
    calls = sum(f["calls"].values())
    say(f"\n{name}: {n} cities, flow run {f['state']} {f['statuses']}  "
        f"(load before {' '.join(f'{x:.2f}' for x in f['load'][0])}, after {' '.join(f'{x:.2f}' for x in f['load'][1])})")
    if f["state"] != "COMPLETED":
        say(f"  message: {f['message']}")
    say(f"  wall {f['wall']:.1f} s, CPU {f['cpu']:.1f} s in the flow process; per city {f['wall'] / n:.3f} s wall, "
        f"{f['cpu'] / n:.3f} CPU s")
    say(f"  link task run time (API): p50 {a['link_p50']:.2f} s, p90 {a['link_p90']:.2f} s, max {a['link_max']:.2f} s "
        f"over {a['link_tasks']} tasks")
    say(f"  server CPU {' '.join(f'{k} {v:.1f} s' for k, v in f['server_cpu'].items())}")
    say(f"  peak: flow process RSS {f['peak']['flow'] / MiB:.0f} MiB; "
        + "; ".join(f"{k} PSS {v / MiB:.0f} MiB" for k, v in f["peak"].items() if k != "flow"))
    say(f"  API: {a['task_runs']} task runs ({a['task_runs'] / n:.1f} per city), {a['flow_runs_since']} flow run(s); "
        f"{calls} HTTP calls from the flow process ({calls / n:.1f} per city), latency p50 {f['latency']['p50'] * 1000:.0f} ms "
        f"p95 {f['latency']['p95'] * 1000:.0f} ms max {f['latency']['max']:.2f} s")
    top = sorted(f["calls"].items(), key=lambda kv: -kv[1])[:8]
    say("  top calls: " + ", ".join(f"{k} {v}" for k, v in top))
    if f.get("failures"):
        say("  calls answered >= 400 or raised: " + ", ".join(f"{k} x{v}" for k, v in f["failures"].items()))
    say(f"  events over the websocket: {sum(v for k, v in f['events'].items() if not k.startswith('('))} "
        f"({sum(v for k, v in f['events'].items() if not k.startswith('(')) / n:.1f} per city), "
        f"websocket connects {f['events'].get('(websocket connects)', 0)}")
    for line, count in f["log"].items():
        say(f"  log x{count}: {line}")
    say(f"  task names (first 200): {a['sample_names']}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(Path(sys.argv[2]), sys.argv[3] or None, Path(sys.argv[4]))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cities", type=int, default=50, help="how many cities (default 50)")
    ap.add_argument("--residents", type=int, default=200, help="residents per city (default 200)")
    ap.add_argument("--workers", type=int, default=None, help="JUKI_DASK_WORKERS: Dask threads for the cities")
    ap.add_argument("--server-db", default="auto", choices=("auto", "sqlite", "postgres"),
                    help="which database the server uses (auto: as scripts/prefect-server.sh recorded it)")
    ap.add_argument("--baseline-only", action="store_true", help="the BASELINE run alone (not the day after it)")
    ap.add_argument("--layout", type=Path, help="a `juki nation layout` folder to take the cities from "
                    "(default: cities of --residents generated here)")
    ap.add_argument("--keep", action="store_true", help="keep the stores of the run")
    args = ap.parse_args()
    api = os.environ.get("PREFECT_API_URL")
    if not api:
        raise SystemExit("set PREFECT_API_URL to a running server (scripts/prefect-server.sh prints it)")
    env = {**os.environ, **KEYS, "PREFECT_LOGGING_LEVEL": os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING")}
    if args.workers:
        env["JUKI_DASK_WORKERS"] = str(args.workers)
    workers = env.get("JUKI_DASK_WORKERS", f"default ({min(4, os.cpu_count() or 1)})")
    say(f"bench_nation: {args.cities} cities x {args.layout or args.residents} residents, Dask threads {workers}, server {api} on "
        f"{server_db(api, args.server_db)}, PREFECT_LOGGING_LEVEL {env['PREFECT_LOGGING_LEVEL']}, "
        f"{os.cpu_count()} CPUs, {load()}")
    if args.layout:
        run, baseline = from_layout(args.layout.resolve(), args.cities)
    else:
        run, baseline = lay_out(args.cities, args.residents)
    report("BASELINE", args.cities, phase("baseline", run, baseline, env, api))
    if not args.baseline_only:
        report("day", args.cities, phase("day", run, None, env, api))
    if not args.keep:
        shutil.rmtree(run, ignore_errors=True)


if __name__ == "__main__":
    main()
