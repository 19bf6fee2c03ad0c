"""At most one 世帯主 per household on every date: the one state rule that spans several persons.

A file is judged person by person (tasks/history.py); a 世帯主変更 touches several persons on one
date, so the rule is judged once the file's rows are, on the end-of-day state: where two persons
would be 世帯主 of one household on the same date, the row that made the later of them head (by
line) is refused. Two heads that the register held before the file are left alone (reported by
`juki audit households`), so no unrelated row is refused for them. A household left without a head
is lawful (住基法25条: 14 days to file a 世帯主変更), so a death or a move-out is never refused for it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Iterable

import duckdb
import polars as pl

from tasks.history import versions

HEAD = "世帯主"
RULE = "HOUSEHOLD_HAS_HEAD"
SQL = Path(__file__).resolve().parent / "sql"

Interval = tuple[str, dt.date, dt.date | None]  # household_id, from, to (exclusive; None = open)


def register_heads(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame) -> pl.DataFrame:
    """The 世帯主 intervals the register knows now for every household a file's rows may touch."""
    con.register("incoming", rows.select("resident_code", "household_id"))
    try:
        return con.sql((SQL / "head_intervals.sql").read_text(encoding="utf-8")).pl()
    finally:
        con.unregister("incoming")


def intervals(code: str, chain: list[dict]) -> list[Interval]:
    """The spans during which a person is the current 世帯主 of a household, on the effective-date axis."""
    out: list[Interval] = []
    for v in versions(code, chain) if chain else []:
        if v["status"] != "current" or v["relationship"] != HEAD:
            continue
        if out and out[-1][0] == v["household_id"] and out[-1][2] == v["valid_from"]:
            out[-1] = (out[-1][0], out[-1][1], v["valid_to"])
        else:
            out.append((v["household_id"], v["valid_from"], v["valid_to"]))
    return out


def _overlap(a: Interval, b: Interval) -> bool:
    return (b[2] is None or a[1] < b[2]) and (a[2] is None or b[1] < a[2])


def _within(a: Interval, olds: Iterable[Interval]) -> bool:
    return any(o[0] == a[0] and o[1] <= a[1] and (o[2] is None or (a[2] is not None and a[2] <= o[2]))
               for o in olds)


def second_heads(register: pl.DataFrame, stored: dict[str, list[dict]],
                 steps: dict[str, list[tuple[int, list[dict]]]], fast_heads: pl.DataFrame) -> set[int]:
    """Lines that make a second 世帯主 beside a head that stays: `steps` is each changed person's (line, chain after
    it) in file order. Call again after refusing them until it returns nothing."""
    by_household: dict[str, list[tuple[str, Interval, int]]] = defaultdict(list)
    for code, household, start, end in register.filter(~pl.col("resident_code").is_in(list(steps))).iter_rows():
        by_household[household].append((code, (household, start, end), 0))
    for code, chain_steps in steps.items():
        old = intervals(code, stored.get(code, []))
        final = intervals(code, chain_steps[-1][1])
        for interval in final:
            line = 0
            if not _within(interval, old):
                # blame the first row after which the person is head of that household in a new span
                line = next(l for l, chain in chain_steps
                            if any(i[0] == interval[0] and not _within(i, old) for i in intervals(code, chain)))
            by_household[interval[0]].append((code, interval, line))
    if fast_heads.height:
        crowded = fast_heads.filter(pl.col("household_id").is_duplicated()
                                    | pl.col("household_id").is_in(list(by_household)))
        for line, code, household, start in crowded.iter_rows():
            by_household[household].append((code, (household, start, None), line))
    blamed: dict[int, set[int]] = defaultdict(set)
    for entries in by_household.values():
        if len(entries) < 2:
            continue
        for i, (code_a, a, line_a) in enumerate(entries):
            for code_b, b, line_b in entries[i + 1:]:
                if code_a != code_b and (line_a or line_b) and _overlap(a, b):
                    blamed[max(line_a, line_b)].add(min(line_a, line_b))
    # file order: a row is judged against the rows before it, so refuse only rows whose rival stays
    return {line for line, rivals in blamed.items() if not rivals & blamed.keys()}


def define_household_heads(con: duckdb.DuckDBPyConnection) -> None:
    """Define the temp table macro household_heads(on_date): the head of each household on a day, declared or 職権."""
    con.execute((SQL / "household_heads.sql").read_text(encoding="utf-8"))


def household_head(con: duckdb.DuckDBPyConnection, household_id: str, on_date: dt.date) -> dict | None:
    """The head of one household on a day (code, name, basis, since), or None when it has none."""
    define_household_heads(con)
    found = con.sql("select head_resident_code, head_name, head_basis, by_authority_since from household_heads($d) "
                    "where household_id = $h and head_basis is not null",
                    params={"d": on_date, "h": household_id}).pl().to_dicts()
    return found[0] if found else None


def households_to_look_at(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> list[dict]:
    """Households without a 世帯主 for more than 14 days on as_of (two or more members), and any with two."""
    define_household_heads(con)
    return con.sql((SQL / "audit" / "headless_households.sql").read_text(encoding="utf-8"),
                   params={"as_of": as_of}).pl().to_dicts()
