"""Benchmark (not a test): can this machine hold a city of N residents? Generate, BASELINE and three days.

`bench_day.py --capacity` (or `make bench-capacity RESIDENTS=6000000`) runs it. Each stage is its own process,
as the scheduled flow would run it: `juki generate` (the city kept under data/bench/capacity<N>k/ and reused, its
own figures kept beside it), then the BASELINE file into a new store, then each of the three business days into
the same store. For every process it prints wall seconds, CPU seconds (user + system of every thread, from the
kernel's accounting of the child), peak RSS (VmHWM, read from /proc while it runs) and the load average, against
the memory target (8 GiB by default). A process whose RSS passes --kill-above GiB is stopped (the machine is
shared), reported as over, and the days after a stopped BASELINE are not run.

    .venv/bin/python benchmarks/bench_capacity.py [--residents 6000000] [--target-gib 8] [--kill-above 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_day import DATA, KEYS, PYTHON, ROOT, STEP_MARKS, load, say  # noqa: E402

START = "2026-03-16"  # a Monday: the BASELINE, then three business days
GiB = 2**30


def _status(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def monitored(args: list[str], kill_above: float, env: dict | None = None) -> dict:
    """Run one child: wall, CPU (user + system), peak RSS sampled from /proc, stopped above `kill_above` bytes."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **KEYS, STEP_MARKS: "1", **(env or {})})
    peak, killed = 0, False
    out: dict[str, str] = {}
    readers = [threading.Thread(target=lambda n=n, s=s: out.__setitem__(n, s.read()), daemon=True)
               for n, s in (("stdout", proc.stdout), ("stderr", proc.stderr))]
    for r in readers:
        r.start()
    while proc.poll() is None:
        rss = _status(proc.pid, "VmHWM") or 0
        peak = max(peak, rss)
        if rss > kill_above and not killed:
            proc.send_signal(signal.SIGKILL)
            killed = True
        time.sleep(0.1)
    # the child is reaped by poll(); its CPU is in this process's children accounting
    wall = time.perf_counter() - started
    for r in readers:
        r.join(5)
    return {"wall": wall, "peak": peak, "killed": killed, "rc": proc.returncode, "load": os.getloadavg()[0],
            "stdout": out.get("stdout", ""), "stderr": out.get("stderr", "")}


def cpu_of_children() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def run_stage(label: str, args: list[str], kill_above: float, target: float) -> dict:
    before = cpu_of_children()
    r = monitored(args, kill_above)
    r["cpu"] = cpu_of_children() - before
    verdict = (f"STOPPED above {kill_above / GiB:g} GiB, OVER" if r["killed"] else
               "within" if r["peak"] <= target else "OVER")
    say(f"  {label:<34} {r['wall']:8.1f} s wall {r['cpu']:8.1f} s CPU  peak {r['peak'] / GiB:5.2f} GiB "
        f"({verdict} {target / GiB:g} GiB)  load {r['load']:.2f}")
    if r["killed"]:
        steps = [line[5:] for line in r["stderr"].splitlines() if line.startswith("step ")]
        say(f"    stopped in the step {steps[-1] if steps else '(before the first step)'}")
    elif r["rc"] not in (0, 1):
        say(f"    failed ({r['rc']}): {r['stderr'][-800:]}")
    raised, before = [], 0  # the steps that raised the process's peak (VmHWM after each), in order
    for line in r["stderr"].splitlines():
        if line.startswith("peak "):
            label, peak = line[5:].rsplit(" ", 1)
            if int(peak) > before + GiB // 20:
                raised.append(f"{label} {int(peak) / GiB:.2f}")
            before = max(before, int(peak))
    if raised:
        say("    peak after the steps that raised it (GiB): " + ", ".join(raised))
    return r


def city(residents: int, kill_above: float, target: float) -> Path | None:
    """The generated city (reused when already there, with the figures of the run that made it)."""
    out = DATA / f"capacity{residents // 1000}k"
    figures = out / "generate.json"
    if figures.is_file() and len(sorted(out.glob("*.csv"))) >= 4:
        g = json.loads(figures.read_text())
        if g["peak"] is None:
            say(f"  generate: not timed ({g['when']})")
        else:
            say(f"  {'generate (kept from ' + g['when'] + ')':<34} {g['wall']:8.1f} s wall {g['cpu']:8.1f} s CPU  "
                f"peak {g['peak'] / GiB:5.2f} GiB ({'within' if g['peak'] <= target else 'OVER'} "
                f"{target / GiB:.0f} GiB)  load {'n/a' if g['load'] is None else format(g['load'], '.2f')}")
        return out
    shutil.rmtree(out, ignore_errors=True)
    r = run_stage("generate", [PYTHON, "-m", "juki.cli", "generate", "--out", str(out), "--residents",
                               str(residents), "--days", "3", "--start", START], kill_above, target)
    if r["killed"] or r["rc"]:
        return None
    figures.write_text(json.dumps({k: r[k] for k in ("wall", "cpu", "peak", "load")}
                                  | {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=6_000_000)
    parser.add_argument("--target-gib", type=float, default=8.0, help="the memory target per process")
    parser.add_argument("--kill-above", type=float, default=10.0, help="stop a process above this many GiB")
    args = parser.parse_args(argv)
    target, kill_above = args.target_gib * GiB, args.kill_above * GiB
    say(f"capacity: a city of {args.residents:,} residents, each stage its own process, {os.cpu_count()} cores "
        f"({load()}); memory target {args.target_gib:g} GiB per process")
    out = city(args.residents, kill_above, target)
    if out is None:
        return
    store = DATA / "work" / f"capacity{args.residents // 1000}k" / "registry.duckdb"
    shutil.rmtree(store.parent, ignore_errors=True)
    files = sorted(out.glob("*.csv"))[:4]
    results = []
    for n, f in enumerate(files):
        label = ("BASELINE " if n == 0 else "day ") + f.stem.rsplit("_", 1)[1]
        r = run_stage(label, [PYTHON, str(Path(__file__).with_name("bench_day.py")), "--child", "base", "--store",
                              str(store), "--files", str(f)], kill_above, target)
        results.append(r)
        if r["killed"] or r["rc"] not in (0, 1):
            say(f"  the days after it are not run: the {label} did not finish")
            break
        if r["stdout"].strip():
            say("    " + r["stdout"].strip().splitlines()[-1].replace("BASELINE run: ", "steps of the run: "))
    peak = max(r["peak"] for r in results)
    finished = len(results) == len(files) and not any(r["killed"] for r in results)
    say(f"capacity at {args.residents:,} residents: largest process {peak / GiB:.2f} GiB; "
        + ("every stage finished" if finished else "NOT every stage finished")
        + (f", {'within' if finished and peak <= target else 'not within'} {args.target_gib:g} GiB ({load()})"))
    shutil.rmtree(store.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
