"""Invariants of the register, written as SQL: each query returns the rows that break one."""

from __future__ import annotations

from pathlib import Path

import duckdb

INVARIANTS = Path(__file__).resolve().parent / "sql" / "invariants"


def broken_invariants(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Invariant name -> how many rows break it (only the broken ones)."""
    broken = {}
    for path in sorted(INVARIANTS.glob("*.sql")):
        (count,) = con.sql(f"select count(*) from ({path.read_text(encoding='utf-8')})").fetchall()[0]
        if count:
            broken[path.stem] = count
    return broken
