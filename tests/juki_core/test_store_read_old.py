"""A store an older juki wrote, opened read-only (not migrated), reads as if migrated."""

from __future__ import annotations

from juki_core.store import connect
from tasks.audit import AUDIT_SQL, register_digest


def test_columns_added_since_read_as_null_in_a_store_not_yet_migrated(tmp_path):
    store = tmp_path / "registry.duckdb"
    con = connect(store)
    digest = register_digest(con, full=True)
    for table in ("event", "resident_version"):  # as a store written before 住民票コードの変更 has them
        con.execute(f"alter table {table} drop column new_resident_code")
    con.close()
    read = connect(store, read_only=True)
    try:
        assert read.execute("select count(new_resident_code) from event").fetchall() == [(0,)]
        read.execute((AUDIT_SQL / "ledger_digests.sql").read_text(encoding="utf-8")).fetchall()
        assert register_digest(read, full=True) == digest
    finally:
        read.close()
