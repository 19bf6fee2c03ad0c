"""Audit facts about the register: a canonical digest of its state (for the run ledger and replays)."""

from __future__ import annotations

from pathlib import Path

import duckdb

AUDIT_SQL = Path(__file__).resolve().parent / "sql" / "audit"


def register_digest(con: duckdb.DuckDBPyConnection) -> str:
    """SHA-256 over what the register knows now, independent of storage order and write times."""
    return con.sql((AUDIT_SQL / "register_digest.sql").read_text(encoding="utf-8")).fetchall()[0][0]
