"""Audit facts about the register: a canonical digest of its state (for the run ledger and replays).

Two definitions, told apart by the recorded value (docs/decisions.md, "The register digest per batch"):

* "sum:<hex>" (since the digest is kept per batch): SHA-256 over the row count and four exact sums of the
  row hashes cut into 64-bit lanes. The sums are order-independent, so `adjust_register_digest` keeps them
  in `register_digest_state` by the rows each batch closes and inserts, and a run reads its digest in O(1).
* "<hex>" (runs recorded before): SHA-256 over the sorted row hashes joined; still computed for replaying
  and verifying those runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import duckdb

AUDIT_SQL = Path(__file__).resolve().parent / "sql" / "audit"
SUM_PREFIX = "sum:"


def _sql(name: str) -> str:
    return (AUDIT_SQL / name).read_text(encoding="utf-8")


def row_hash_sql() -> str:
    """The SQL expression of one version's row hash (over the columns of resident_version)."""
    return "\n".join(line for line in _sql("row_hash.sql").splitlines() if not line.startswith("--"))


def register_rows_sql() -> str:
    """register_rows.sql: one row hash per version as known at $known_at."""
    return _sql("register_rows.sql").replace("{row_hash}", row_hash_sql())


def is_legacy(digest: str | None) -> bool:
    """Whether a recorded digest has the sorted-hashes definition of runs recorded before the per-batch sums."""
    return bool(digest) and not digest.startswith(SUM_PREFIX)


def lanes_digest(sums: tuple) -> str:
    """The digest text of (row_count, lane_0 … lane_3)."""
    return SUM_PREFIX + hashlib.sha256(":".join(str(int(v)) for v in sums).encode("ascii")).hexdigest()


def _full_sums(con: duckdb.DuckDBPyConnection, known_at: dt.datetime | None, without: tuple[str, ...]) -> tuple:
    return con.sql(f"with rows as (\n{register_rows_sql()}\n), hashed as (select row_hash, 1 as sign from rows "
                   "where not list_contains(cast($residents as varchar[]), resident_code))\n" + _sql("digest_lanes.sql"),
                   params={"known_at": known_at, "residents": list(without)}).fetchall()[0]


def register_digest(con: duckdb.DuckDBPyConnection, known_at: dt.datetime | None = None, *, full: bool = False,
                    legacy: bool = False, without: tuple[str, ...] = ()) -> str:
    """The register digest now (the kept sums, unless `full`) or as known at `known_at` (UTC), recomputed.

    `legacy` gives the definition of runs recorded before the per-batch sums; `without` leaves residents out."""
    if legacy:
        return con.sql(f"select sha256(coalesce(string_agg(row_hash, '' order by row_hash), '')) from (\n"
                       f"{register_rows_sql()}\n) where not list_contains(cast($residents as varchar[]), resident_code)",
                       params={"known_at": known_at, "residents": list(without)}).fetchall()[0][0]
    if full or known_at is not None or without:
        return lanes_digest(_full_sums(con, known_at, without))
    return lanes_digest(kept_sums(con))


def history_digests(con: duckdb.DuckDBPyConnection, moments: list[dt.datetime]) -> dict[dt.datetime, str]:
    """The register digest as known at each of these moments (UTC), all from one pass over the versions."""
    if not moments:
        return {}
    sql = _sql("history_lanes.sql").replace("{row_hash}", row_hash_sql())
    rows = con.sql(sql, params={"moments": list(moments)}).fetchall()
    return {known_at: lanes_digest(sums) for known_at, *sums in rows}


def digest_like(con: duckdb.DuckDBPyConnection, recorded: str | None, known_at: dt.datetime | None = None,
                without: tuple[str, ...] = ()) -> str:
    """The register digest recomputed with the definition the recorded digest has."""
    return register_digest(con, known_at, full=True, legacy=is_legacy(recorded), without=without)


def kept_sums(con: duckdb.DuckDBPyConnection) -> tuple:
    """The sums kept per batch; filled from the register first when the store has none yet (then kept)."""
    row = con.execute("select row_count, lane_0, lane_1, lane_2, lane_3 from register_digest_state").fetchall()
    if row:
        return row[0]
    sums = _full_sums(con, None, ())
    try:
        con.execute("insert into register_digest_state values (?, ?, ?, ?, ?)", list(map(int, sums)))
    except duckdb.Error:  # a read-only connection: the recomputed value is the answer
        pass
    return sums


def refresh_register_digest(con: duckdb.DuckDBPyConnection) -> str:
    """Recompute the kept sums from the register (after an erasure, which is not a batch); the digest."""
    sums = _full_sums(con, None, ())
    con.execute("delete from register_digest_state")
    con.execute("insert into register_digest_state values (?, ?, ?, ?, ?)", list(map(int, sums)))
    return lanes_digest(sums)


def adjust_register_digest(con: duckdb.DuckDBPyConnection, closed: str, inserted: str) -> None:
    """Inside a batch's transaction: take the rows of `closed` out of the kept sums, add those of `inserted`."""
    if not con.execute("select count(*) from register_digest_state").fetchall()[0][0]:
        return  # filled from the register, this batch included, when the digest is next asked for
    row_hash = row_hash_sql()
    con.execute(f"update register_digest_state as s set row_count = s.row_count + d.row_count, "
                "lane_0 = s.lane_0 + d.lane_0, lane_1 = s.lane_1 + d.lane_1, lane_2 = s.lane_2 + d.lane_2, "
                f"lane_3 = s.lane_3 + d.lane_3 from (with hashed as (select {row_hash} as row_hash, -1 as sign "
                f"from {closed} union all select {row_hash}, 1 from {inserted})\n{_sql('digest_lanes.sql')}) as d")


def rows_digest(row_hashes: list[str]) -> str:
    """The digest of these row hashes, computed in Python: the same as register_digest for the same rows."""
    sums = [len(row_hashes), 0, 0, 0, 0]
    for h in row_hashes:
        for lane in range(4):
            sums[lane + 1] += int(h[16 * lane:16 * lane + 16], 16)
    return lanes_digest(tuple(sums))
