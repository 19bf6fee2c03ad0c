"""On paper (not a test): what 1,741 registers at real size need each morning, from measured per-city costs.

Reads data/reference/municipalities.csv (the 1,741 municipalities' populations) and prices each city's day and
BASELINE by linear interpolation between the README's measured sizes (607,000, 3,000,000 and 6,000,000 residents),
through the origin below the smallest, plus the fixed cost per city that bench_nation.py measured through the
many-cities flow (its CPU s per tiny city in the flow process and in the Prefect server). Prints markdown tables for
docs/nation.md: by size band, the largest prefectures, the nation, and machines for a morning window.

    .venv/bin/python benchmarks/nation_paper.py [--fixed-flow-cpu 1.0] [--fixed-server-cpu 0.45] [--window-min 60]
"""

from __future__ import annotations

import argparse
import bisect
import collections

from schemas.municipalities import municipalities

# (residents, value) measured on this machine (README, Benchmark and "BASELINE and capacity")
DAY_CPU = [(0, 0.0), (607_000, 5.08), (3_000_000, 27.2)]          # in process, every step land … seal
DAY_WALL = [(0, 0.0), (607_000, 3.81), (3_000_000, 27.1)]
# a day's peak above a process's base (~0.45 GiB of imports): 0.91, 1.36 and 2.10 GiB measured as a whole
DAY_GIB = [(0, 0.0), (607_000, 0.46), (3_000_000, 0.91), (6_000_000, 1.65)]
BASELINE_CPU = [(0, 0.0), (607_000, 21.0), (3_000_000, 67.8), (6_000_000, 272.7)]  # fresh process less ~4 s imports
BASELINE_GIB = [(0, 0.0), (607_000, 1.79), (3_000_000, 6.32), (6_000_000, 4.98)]
BANDS = [(0, 10_000), (10_000, 50_000), (50_000, 100_000), (100_000, 300_000), (300_000, 1_000_000),
         (1_000_000, 10**9)]


def at(points: list[tuple[int, float]], x: int) -> float:
    """Linear between the measured points, extended past the last two."""
    xs = [p[0] for p in points]
    i = min(max(bisect.bisect_right(xs, x) - 1, 0), len(points) - 2)
    (x0, y0), (x1, y1) = points[i], points[i + 1]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fixed-flow-cpu", type=float, default=1.0, help="CPU s per city in the flow process (measured)")
    ap.add_argument("--fixed-server-cpu", type=float, default=0.45, help="CPU s per city in the Prefect server")
    ap.add_argument("--window-min", type=float, default=60, help="the morning window, minutes")
    ap.add_argument("--cores", type=int, default=16, help="cores per machine")
    ap.add_argument("--utilisation", type=float, default=0.6, help="share of the cores a run keeps busy")
    a = ap.parse_args()
    cities = [m for m in municipalities() if m.kind != "ward"]
    fixed = a.fixed_flow_cpu + a.fixed_server_cpu

    def day_cpu(p: int) -> float:
        return at(DAY_CPU, p) + fixed

    total_pop = sum(m.population for m in cities)
    print(f"{len(cities)} municipalities, {total_pop:,} residents; fixed {a.fixed_flow_cpu} + {a.fixed_server_cpu} "
          f"CPU s per city\n")
    print("| residents per city | cities | residents | day CPU s (work + fixed) | largest day wall | "
          "largest day's memory above the base | BASELINE CPU s | largest BASELINE peak |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for lo, hi in BANDS:
        band = [m for m in cities if lo <= m.population < hi]
        if not band:
            continue
        big = max(m.population for m in band)
        work = sum(at(DAY_CPU, m.population) for m in band)
        label = f"{lo:,}-{hi - 1:,}" if hi < 10**9 else f"{lo:,} and more"
        print(f"| {label} | {len(band):,} | {sum(m.population for m in band):,} | "
              f"{work:,.0f} + {fixed * len(band):,.0f} | {at(DAY_WALL, big):.1f} s | {at(DAY_GIB, big):.2f} GiB | "
              f"{sum(at(BASELINE_CPU, m.population) for m in band):,.0f} | {at(BASELINE_GIB, big):.2f} GiB |")
    work = sum(at(DAY_CPU, m.population) for m in cities)
    day_total = work + fixed * len(cities)
    base_total = sum(at(BASELINE_CPU, m.population) for m in cities)
    print(f"\nnation: day {work:,.0f} CPU s of work + {fixed * len(cities):,.0f} fixed = {day_total:,.0f} CPU s "
          f"({day_total / 3600:.2f} CPU h); BASELINE once {base_total:,.0f} CPU s ({base_total / 3600:.1f} CPU h)")
    for label, total in (("day", day_total), ("BASELINE", base_total)):
        need = total / (a.window_min * 60 * a.cores * a.utilisation)
        print(f"{label}: in {a.window_min:.0f} min on {a.cores}-core machines at {a.utilisation:.0%}: {need:.2f} machine(s)")
    by_pref: dict[str, list] = collections.defaultdict(list)
    for m in cities:
        by_pref[m.prefecture].append(m)
    rows = sorted(((sum(day_cpu(m.population) for m in ms), p, ms) for p, ms in by_pref.items()), reverse=True)
    print("\n| prefecture | municipalities | residents | day CPU s | largest city's day |")
    print("|---|---:|---:|---:|---:|")
    for cpu, p, ms in rows[:5] + rows[-2:]:
        big = max(ms, key=lambda m: m.population)
        print(f"| {p} | {len(ms)} | {sum(m.population for m in ms):,} | {cpu:,.0f} | {at(DAY_WALL, big.population):.1f} s "
              f"({big.name}) |")
    print(f"\nmost municipalities in one prefecture: {max(len(ms) for ms in by_pref.values())}; "
          f"median municipality {sorted(m.population for m in cities)[len(cities) // 2]:,} residents, whose day's work "
          f"is {at(DAY_CPU, sorted(m.population for m in cities)[len(cities) // 2]):.2f} CPU s against {fixed:.2f} fixed")


if __name__ == "__main__":
    main()
