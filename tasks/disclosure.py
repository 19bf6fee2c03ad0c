"""The disclosure log (提供記録): every time a full My Number leaves the register, who got it, when and why.

Two channels: a subscriber's data file whose fields include my_number (publish), and an explicit
reveal of one person's record (juki show --reveal --reason …). The log holds counts, names and
reasons only, never a My Number.
"""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import io
import os
import re
from pathlib import Path

import duckdb

from tasks import chain, handoff
from tasks.apply import sql
from tasks.summary import BeforeRegister, check_known, person_key

LOG_SQL = Path(__file__).resolve().parent.parent / "schemas" / "disclosure_log.sql"
COLUMNS = ("disclosure_no", "disclosed_at", "channel", "who", "persons", "why", "file_name", "sequence_no",
           "resident_code", "run_id")
HIDDEN = ("recorded_from", "recorded_to", "resident_code")


def ensure_log(con: duckdb.DuckDBPyConnection) -> None:
    """Create disclosure_log when the store does not have it yet."""
    con.execute(LOG_SQL.read_text(encoding="utf-8"))


def has_log(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store has a disclosure_log (a read-only store made before it existed has none)."""
    return bool(con.execute("select count(*) from duckdb_tables() where table_name = 'disclosure_log' "
                            "and schema_name = current_schema()").fetchall()[0][0])


def current_user() -> str:
    """The operating-system user running this process, for a reveal's `who`."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no passwd entry (some containers): fall back to the environment
        return os.environ.get("USER") or os.environ.get("USERNAME") or f"uid {os.getuid()}"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def _insert(con: duckdb.DuckDBPyConnection, **row) -> dict:
    ensure_log(con)
    (number,) = con.execute("select coalesce(max(disclosure_no), 0) + 1 from disclosure_log").fetchall()[0]
    row = {"disclosure_no": number, **row}
    con.execute(f"insert into disclosure_log ({', '.join(row)}) values ({', '.join('$' + k for k in row)})", row)
    return {c: row.get(c) for c in COLUMNS}


def _subscriber(subscriber: handoff.Subscriber | str) -> handoff.Subscriber:
    if isinstance(subscriber, handoff.Subscriber):
        return subscriber
    subscribers = handoff.load_subscribers()
    if subscriber not in subscribers:
        raise ValueError(f"there is no subscriber {subscriber!r}; known: {', '.join(sorted(subscribers))}")
    return subscribers[subscriber]


def record_publish(con: duckdb.DuckDBPyConnection, subscriber: handoff.Subscriber | str, published: dict,
                   run_id: str, persons: int | None = None) -> dict | None:
    """Log a publish whose file carries my_number and at least one row, unless it is logged; the row, or None.

    A publish through tasks/handoff.py is logged there, in the transaction of its ledger row; this adds
    nothing for it (same subscriber, file, number and run)."""
    sub = _subscriber(subscriber)
    ensure_log(con)
    sequence = published.get("snapshot_id", published.get("sequence_no"))
    seen = con.execute("select count(*) from disclosure_log where channel = 'publish' and who = $w and file_name = $f "
                       "and sequence_no is not distinct from $n and (run_id = $r or $already)",
                       {"w": sub.name, "f": published.get("file"), "n": sequence, "r": run_id,
                        "already": published.get("status") == "already_published"}).fetchall()[0][0]
    if seen:
        return None
    return log_publish(con, sub, published, run_id, persons)


def log_publish(con: duckdb.DuckDBPyConnection, subscriber: handoff.Subscriber | str, published: dict,
                run_id: str, persons: int | None = None) -> dict | None:
    """Write the log row of a publish whose file carries my_number and at least one row; the row, or None."""
    sub = _subscriber(subscriber)
    # a feed header lists the columns as sent; a snapshot manifest does not, so the configuration decides
    fields = published.get("fields") or sub.fields
    rows = int(published.get("rows") or 0)
    if "my_number" not in fields or rows <= 0:
        return None
    created = published.get("created_at")
    at = dt.datetime.fromisoformat(created) if created else None
    if at is not None and at.tzinfo is not None:
        at = at.astimezone(dt.timezone.utc).replace(tzinfo=None)
    sequence = published.get("snapshot_id", published.get("sequence_no"))
    return _insert(con, disclosed_at=at or _utc_now(), channel="publish", who=sub.name,
                   persons=rows if persons is None else int(persons),
                   why=sub.description or f"hand-off to {sub.name}", file_name=published.get("file"),
                   sequence_no=sequence, resident_code=None, run_id=run_id)


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValueError("a full My Number is shown only with a reason: give one with --reason \"…\"")
    return text


def _who(who: str | None) -> str:
    text = (who or "").strip()
    if not text:
        raise ValueError("a reveal must name who asked for it")
    return text


def record_reveal(con: duckdb.DuckDBPyConnection, resident_code: str, who: str, reason: str,
                  persons: int = 1) -> dict:
    """Log that one person's full My Number was shown to who, for reason; the row written."""
    why, asker = _reason(reason), _who(who)
    return _insert(con, disclosed_at=_utc_now(), channel="reveal", who=asker, persons=persons, why=why,
                   file_name=None, sequence_no=None, resident_code=resident_code, run_id=None)


def reveal(con: duckdb.DuckDBPyConnection, resident_code: str, day: dt.date, who: str, reason: str,
           known_at: dt.datetime | None = None) -> dict:
    """One person on a day with the full My Number, logged before it is returned; refused without a reason."""
    _reason(reason)
    _who(who)
    if not re.fullmatch(r"\d{11}", resident_code):
        raise BeforeRegister(f"{resident_code!r} is not a resident code (11 digits)")
    check_known(con, day)
    versions = con.sql(sql("person_versions.sql"),  # a code a change issued names its person
                       params={"resident_code": person_key(con, resident_code), "known_at": known_at}).pl().to_dicts()
    history = [{k: v for k, v in version.items() if k not in HIDDEN} for version in versions]
    shown = 1 if any(v["my_number"] for v in history) else 0
    # the log row goes first: if it cannot be written, no number is returned
    logged = record_reveal(con, resident_code, who, reason, persons=shown)
    chain.seal(con)  # sealed at once: the row cannot wait for the next run to be covered
    on_day = [v for v in history if v["valid_from"] <= day and (v["valid_to"] is None or v["valid_to"] > day)]
    record = on_day[-1] if on_day else None
    return {"resident_code": resident_code, "status": record["status"] if record else "unknown",
            "record": record, "history": history, "disclosure": logged}


def disclosures(con: duckdb.DuckDBPyConnection, date_from: dt.date | None = None,
                date_to: dt.date | None = None) -> list[dict]:
    """Logged disclosures whose UTC date lies in date_from..date_to (both included, either open), oldest first."""
    if not has_log(con):
        return []
    return con.sql(
        f"select {', '.join(COLUMNS)} from disclosure_log "
        "where cast(disclosed_at as date) between coalesce(cast($from as date), date '0001-01-01') "
        "and coalesce(cast($to as date), date '9999-12-31') order by disclosure_no",
        params={"from": date_from, "to": date_to}).pl().to_dicts()


def disclosures_csv(rows: list[dict]) -> str:
    """Disclosures as CSV text with a header row."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" if row.get(c) is None else row[c] for c in COLUMNS})
    return out.getvalue()
