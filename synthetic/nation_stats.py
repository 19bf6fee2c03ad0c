"""Simulated statistics files at real size: the tables a city writes under stats/<D>/, drawn from its population
and its number of towns (no register behind them), so the national roll-up can be timed on the whole nation.

Residents are a seeded multinomial over (town, sex, age group, nationality group), vectorised per city; the
balance files chain backwards from the last date (residents_before = residents_after − net_change) and each
date's population file sums to its balance's residents_after. Households and movements have the shapes of the
real files but are rough (movements = the balance's movement columns).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Callable

import numpy as np
import polars as pl
import yaml

from schemas.business_calendar import is_business_day

SEXES = ("1", "2")
AGE_GROUPS = [f"{a}-{a + 4}" for a in range(0, 100, 5)] + ["100+"]
GROUPS = ("japanese", "foreign")  # the arrays' order; the frames are sorted by name (foreign first)
# residents by 5-year age group, roughly Japan's shape (per mille); 100+ small
AGE_SHAPE = np.array([36, 40, 43, 45, 49, 51, 54, 59, 66, 75, 77, 67, 60, 60, 74, 78, 63, 49, 29, 11, 1.5])
FOREIGN_SHARE = 0.025
# yearly rates per resident of the key (japanese, foreign); moves_within is counted apart from the balance
RATES = {"moved_in_domestic": (0.035, 0.09), "moved_in_abroad": (0.0005, 0.12), "births": (0.0062, 0.008),
         "other_additions": (0.0001, 0.002), "moved_out_domestic": (0.035, 0.09), "moved_out_abroad": (0.0006, 0.10),
         "deaths": (0.0128, 0.002), "other_removals": (0.0001, 0.004), "moves_within": (0.02, 0.05)}
ADDITIONS = ("moved_in_domestic", "moved_in_abroad", "births", "other_additions")
REMOVALS = ("moved_out_domestic", "moved_out_abroad", "deaths", "other_removals")
MOVEMENTS = (*ADDITIONS, "additions", *REMOVALS, "removals", "net_change", "natural_change", "social_change",
             "moves_within")
BALANCE_COLUMNS = ("nationality_group", "sex", "period_from", "period_to", "residents_before", *MOVEMENTS,
                   "sex_only_changes", "residents_after")
HOUSEHOLD_SIZE = {"foreign": 1.6, "japanese": 2.1, "mixed": 3.0}


def statistics_dates(last: dt.date, days: int) -> list[tuple[dt.date, dt.date]]:
    """(period_from, date) of the last `days` business days up to `last` (a business day): each period starts the
    day after the previous business day, so weekends and holidays fold into the next date."""
    if not is_business_day(last):
        raise ValueError(f"{last} is not a business day")
    dates, day = [], last
    while len(dates) < days + 1:
        if is_business_day(day):
            dates.append(day)
        day -= dt.timedelta(days=1)
    dates.reverse()
    return [(before + dt.timedelta(days=1), date) for before, date in zip(dates, dates[1:])]


def town_codes(towns: int) -> list[str]:
    """The city's town codes, 0001 … (four digits, as data/reference/towns.csv writes them, wider if need be)."""
    width = max(4, len(str(towns)))
    return [str(i).zfill(width) for i in range(1, towns + 1)]


def ward_rows(towns: list[str], wards: list[tuple[str, int]]) -> list[tuple[str, str]]:
    """(town_code, ward_code): the towns in order, each ward a block of its own real number of towns."""
    out, start = [], 0
    for k, (ward, count) in enumerate(wards):
        end = len(towns) if k == len(wards) - 1 else min(start + max(count, 1), len(towns))
        out.extend((t, ward) for t in towns[start:end])
        start = end
    return out


def _cell_weights(rng: np.random.Generator) -> np.ndarray:
    """Weights of the 84 cells (sex, age group, nationality group) in the files' order, for one city."""
    foreign = float(np.clip(FOREIGN_SHARE * rng.lognormal(0, 0.6), 0.002, 0.2))
    age = AGE_SHAPE / AGE_SHAPE.sum()
    sex = np.array([0.487, 0.513])
    nationality = np.array([1 - foreign, foreign])  # in GROUPS' order
    return (sex[:, None, None] * age[None, :, None] * nationality[None, None, :]).ravel()


def draw_residents(population: int, towns: int, rng: np.random.Generator) -> np.ndarray:
    """Residents as an int64 array (towns, 2 sexes, 21 age groups, 2 groups (japanese, foreign)) summing to
    population: a multinomial over the cells, towns of lognormal size."""
    town = rng.lognormal(0, 1, towns)
    weights = (town[:, None] / town.sum() * _cell_weights(rng)[None, :]).ravel()
    counts = rng.multinomial(population, weights / weights.sum())
    return counts.reshape(towns, 2, len(AGE_GROUPS), 2).astype(np.int64)


def population_frame(counts: np.ndarray, codes: list[str]) -> pl.DataFrame:
    """population.parquet: one row per (town_code, sex, age_group, nationality_group) with residents > 0."""
    t, s, a, g = np.nonzero(counts)
    frame = pl.DataFrame({"t": t, "sex": np.array(SEXES)[s], "a": a, "nationality_group": np.array(GROUPS)[g],
                          "residents": counts[t, s, a, g]})
    return (frame.sort("t", "sex", "a", "nationality_group")
            .select(town_code=pl.col("t").replace_strict(range(len(codes)), codes, return_dtype=pl.String),
                    sex="sex", age_group=pl.col("a").replace_strict(range(len(AGE_GROUPS)), AGE_GROUPS,
                                                                      return_dtype=pl.String),
                    nationality_group="nationality_group", residents="residents"))


def households_frame(counts: np.ndarray, codes: list[str]) -> pl.DataFrame:
    """households.parquet: one row per (town_code, household_type) with households > 0 and their members."""
    japanese, foreign = counts[..., 0].sum(axis=(1, 2)), counts[..., 1].sum(axis=(1, 2))
    foreign_only = (foreign * 4) // 5
    mixed = np.minimum(japanese, foreign - foreign_only) + (foreign - foreign_only)
    members = {"foreign": foreign_only, "japanese": japanese + foreign - foreign_only - mixed, "mixed": mixed}
    frames = []
    for kind, m in members.items():
        households = np.where(m > 0, np.maximum(np.ceil(m / HOUSEHOLD_SIZE[kind]), 1), 0).astype(np.int64)
        frames.append(pl.DataFrame({"t": np.arange(len(codes)), "household_type": kind,
                                    "households": households, "members": m.astype(np.int64)}))
    return (pl.concat(frames).filter(pl.col("households") > 0).sort("t", "household_type")
            .select(town_code=pl.col("t").replace_strict(range(len(codes)), codes, return_dtype=pl.String),
                    household_type="household_type", households="households", members="members"))


def balance_frame(after: np.ndarray, period_from: dt.date, period_to: dt.date,
                  rng: np.random.Generator) -> pl.DataFrame:
    """balance.parquet of a period ending with `after` residents per key ((sex, group) array): Poisson movements,
    residents_before = residents_after − net_change; rows with any non-zero value, by (group, sex)."""
    days = (period_to - period_from).days + 1
    rate = {name: np.array(pair)[None, :] * days / 365 for name, pair in RATES.items()}
    m = {name: rng.poisson(after * r) for name, r in rate.items()}
    room = after.copy()  # a key cannot have gained more residents than it has: residents_before >= 0
    for name in ADDITIONS:
        m[name] = np.minimum(m[name], room)
        room -= m[name]
    m["additions"] = sum(m[a] for a in ADDITIONS)
    m["removals"] = sum(m[r] for r in REMOVALS)
    m["net_change"] = m["additions"] - m["removals"]
    m["natural_change"] = m["births"] - m["deaths"]
    m["social_change"] = m["net_change"] - m["natural_change"]
    sexes, groups = np.meshgrid(np.array(SEXES), np.array(GROUPS), indexing="ij")
    frame = pl.DataFrame({"nationality_group": groups.ravel(), "sex": sexes.ravel(),
                          "period_from": period_from.isoformat(), "period_to": period_to.isoformat(),
                          "residents_before": (after - m["net_change"]).ravel(),
                          **{name: m[name].ravel().astype(np.int64) for name in MOVEMENTS},
                          "sex_only_changes": np.zeros(after.size, dtype=np.int64),
                          "residents_after": after.ravel()})
    figures = [c for c in BALANCE_COLUMNS if c not in ("nationality_group", "sex", "period_from", "period_to")]
    return (frame.filter(pl.any_horizontal(pl.col(c) != 0 for c in figures)).sort("nationality_group", "sex")
            .select(BALANCE_COLUMNS))


def step_back(counts: np.ndarray, net: np.ndarray) -> np.ndarray:
    """The residents the day before: each key's net change taken back from (or given to) its largest cells."""
    before = counts.copy()
    for s in range(2):
        for g in range(2):
            change = -int(net[s, g])  # residents to add (> 0) or remove (< 0) in this key
            cells = before[:, s, :, g]  # a view
            if change > 0:
                i = np.unravel_index(np.argmax(cells), cells.shape)
                cells[i] += change
            elif change < 0:
                flat = cells.ravel()  # a copy when not contiguous: written back below
                order = np.argsort(-flat, kind="stable")
                taken = np.minimum(flat[order], np.maximum(-change - (np.cumsum(flat[order]) - flat[order]), 0))
                flat[order] -= taken
                before[:, s, :, g] = flat.reshape(cells.shape)
    return before


def city_files(population: int, towns: int, periods: list[tuple[dt.date, dt.date]],
               seed: int) -> dict[dt.date, dict[str, pl.DataFrame]]:
    """date -> {population, households, movements, balance} for each (period_from, date), the last date's residents
    summing to population."""
    rng = np.random.default_rng(seed)
    codes = town_codes(towns)
    counts = draw_residents(population, towns, rng)
    out: dict[dt.date, dict[str, pl.DataFrame]] = {}
    for period_from, date in reversed(periods):
        after = counts.sum(axis=(0, 2))  # (sex, group)
        balance = balance_frame(after, period_from, date, rng)
        movements = balance.select("nationality_group", "sex", *MOVEMENTS).filter(
            pl.any_horizontal(pl.col(c) != 0 for c in MOVEMENTS))
        out[date] = {"population": population_frame(counts, codes), "households": households_frame(counts, codes),
                     "movements": movements, "balance": balance}
        net = np.zeros((2, 2), dtype=np.int64)
        for row in balance.iter_rows(named=True):
            net[SEXES.index(row["sex"]), GROUPS.index(row["nationality_group"])] = row["net_change"]
        counts = step_back(counts, net)
    return dict(sorted(out.items()))


def plan(codes: list[str] | None = None) -> list[dict]:
    """The municipalities (not the 区) of the reference list, or those of `codes`, with their towns; a designated
    city's towns are its wards' (its `wards`: (ward code, towns) in code order)."""
    from schemas.municipalities import municipalities

    every = municipalities()
    wards: dict[str, list[tuple[str, int]]] = {}
    for w in every:
        if w.kind == "ward":
            wards.setdefault(w.parent_code, []).append((w.municipality_code, max(w.towns or 1, 1)))
    wanted = set(codes) if codes else None
    out = []
    for m in every:
        if m.kind == "ward" or (wanted is not None and m.municipality_code not in wanted):
            continue
        own = sorted(wards.get(m.municipality_code, [])) if m.kind == "designated_city" else []
        towns = sum(t for _w, t in own) if own else (m.towns or max(1, m.population // 2000))
        out.append({"code": m.municipality_code, "name": f"{m.prefecture}{m.name}", "population": m.population,
                    "towns": max(towns, 1), "wards": own})
    return out


def write_city(city: dict, out: str | Path, periods: list[tuple[dt.date, dt.date]], seed: int,
               write: Callable[[dict, str, dt.date], object]) -> int:
    """One municipality of plan() under out/<code>/: stats/<date>/ by `write` (tasks.stats_files.write_tables, as
    the cities write them) and wards.csv for a designated city; the rows written."""
    folder = Path(out) / city["code"]
    files = city_files(city["population"], city["towns"], periods, seed * 1_000_000 + int(city["code"]))
    rows = 0
    for date, tables in files.items():
        write(tables, str(folder / "stats"), date)
        rows += sum(t.height for t in tables.values())
    if city["wards"]:
        pairs = ward_rows(town_codes(city["towns"]), city["wards"])
        (folder / "wards.csv").write_text("town_code,ward_code\n" + "".join(f"{t},{w}\n" for t, w in pairs),
                                          encoding="utf-8")
    return rows


def cities_yaml(path: Path, cities: list[dict], uri: bool = False) -> None:
    """A cities file (juki_core/cities.py's shape) of plan()'s cities written under path's folder: stats and
    wards relative to it, or as file:// URIs."""
    def place(relative: str) -> str:
        return (path.parent / relative).resolve().as_uri() if uri else relative

    entries = []
    for c in cities:
        entry = {"name": c["name"], "municipality_code": c["code"], "stats": place(f"{c['code']}/stats")}
        if c["wards"]:
            entry["wards"] = place(f"{c['code']}/wards.csv")
        entries.append(entry)
    path.write_text(f"# simulated statistics files of {len(entries)} municipalities (synthetic/nation_stats.py)\n"
                    + yaml.safe_dump({"cities": entries}, allow_unicode=True, sort_keys=False), encoding="utf-8")
