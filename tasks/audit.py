"""Audit facts about the register: a canonical digest of its state (for the run ledger and replays)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

AUDIT_SQL = Path(__file__).resolve().parent / "sql" / "audit"


def register_digest(con: duckdb.DuckDBPyConnection, known_at: dt.datetime | None = None) -> str:
    """SHA-256 over the sorted version hashes of register_rows.sql: independent of storage order and write times."""
    rows = (AUDIT_SQL / "register_rows.sql").read_text(encoding="utf-8")
    return con.sql(f"select sha256(coalesce(string_agg(row_hash, '' order by row_hash), '')) from (\n{rows}\n)",
                   params={"known_at": known_at}).fetchall()[0][0]
