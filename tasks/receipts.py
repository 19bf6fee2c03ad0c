"""The receivers' processing results (受信結果) of the change feeds: imported, re-sent when erred, listed for audit.

A receiver answers a feed file with a receipt: one row per row of the file it processed, accepted or error.
Receipts come as CSV files in the `receipts/` folder of the subscriber's target, named like the feed file they
answer (`changes-<seq>-<date>.csv`), or from a function (a test receiver). Each imported row is kept in
feed_receipt under the run that imported it; an erred row goes again, once per error, in the subscriber's next
feed file (feed_resend, written when that file is settled). Nothing here reads or writes personal data: receipts
carry entry numbers, event ids and the receiver's error codes.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import duckdb
import fsspec

from tasks import handoff

SCHEMA_SQL = Path(__file__).resolve().parent.parent / "schemas" / "receipts.sql"
SQL = Path(__file__).resolve().parent / "sql" / "receipts"
FOLDER = "receipts"
COLUMNS = ("entry_no", "event_id", "result", "error_code")
RESULTS = ("accepted", "error")
RECEIPT_NAME = re.compile(r"^changes-(?P<seq>\d{8})-(?P<date>\d{8})\.csv$")
MAX_ERROR_CODE = 100
OUTSTANDING_COLUMNS = ("subscriber", "sequence_no", "business_date", "entry_no", "event_id", "state", "error_code",
                       "resent_in")

# a test receiver: given the ledger row of a feed file not answered yet (subscriber, sequence_no, rows, ...),
# the rows of its receipt (entry_no, event_id, result, error_code), or None to leave it unanswered
Answer = Callable[[dict], Iterable[dict] | None]


class ReceiptRefused(Exception):
    """A receipt that cannot be imported; the message is one sentence naming the file and the reason."""


@dataclass
class Imported:
    """What one import found for one subscriber: files and rows taken, errors among them, files refused."""

    files: int = 0
    accepted: int = 0
    errors: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"files": self.files, "accepted": self.accepted, "errors": self.errors, "problems": self.problems}


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create feed_entry, feed_receipt and feed_resend when the store does not have them yet."""
    con.execute(SCHEMA_SQL.read_text(encoding="utf-8"))


def _sql(name: str) -> str:
    return (SQL / name).read_text(encoding="utf-8")


# --- what was sent -------------------------------------------------------------------------------

def record_entries(con: duckdb.DuckDBPyConnection, subscriber: str, sequence_no: int, event_ids: list[str],
                   resent: set[str]) -> None:
    """The rows of a feed file being published (call in the transaction that records its intent)."""
    ensure_tables(con)
    # one statement whatever the number of rows (executemany is a statement per row)
    con.execute("insert into feed_entry select $s, $n, unnest(range(1, len($ids) + 1)), unnest($ids), "
                "unnest(list_transform($ids, lambda i: list_contains($resent, i)))",
                {"s": subscriber, "n": sequence_no, "ids": list(event_ids), "resent": sorted(resent)})


def forget_entries(con: duckdb.DuckDBPyConnection, subscriber: str, sequence_no: int) -> None:
    """A publish undone: its file never reached the subscriber."""
    ensure_tables(con)
    con.execute("delete from feed_entry where subscriber = ? and sequence_no = ?", [subscriber, sequence_no])


def due_resends(con: duckdb.DuckDBPyConnection, subscriber: str) -> list[dict]:
    """The erred rows the subscriber's next file re-sends: sequence_no, entry_no, event_id, oldest first."""
    ensure_tables(con)
    return con.sql(_sql("due_resends.sql"), params={"subscriber": subscriber}).pl().to_dicts()


def record_resends(con: duckdb.DuckDBPyConnection, subscriber: str, header: dict, run_id: str) -> None:
    """The errors a settled feed file re-sent (call in the transaction that settles it)."""
    ensure_tables(con)
    rows = [(subscriber, r["sequence_no"], r["entry_no"], r["event_id"], header["sequence_no"], run_id)
            for r in header.get("resent") or []]
    if rows:
        con.executemany("insert into feed_resend values (?, ?, ?, ?, ?, ?)", rows)


# --- what came back --------------------------------------------------------------------------------

def parse_receipt(name: str, data: bytes) -> list[dict]:
    """The rows of a receipt file (UTF-8, BOM or not, header entry_no,event_id,result,error_code), checked alone."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ReceiptRefused(f"{name}: not UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != COLUMNS:
        raise ReceiptRefused(f"{name}: the header must be {','.join(COLUMNS)}")
    rows = []
    for line, values in enumerate(reader, 2):
        if not values:
            continue
        if len(values) != len(COLUMNS):
            raise ReceiptRefused(f"{name}: line {line} has {len(values)} fields, not {len(COLUMNS)}")
        rows.append(dict(zip(COLUMNS, (v.strip() for v in values)), line=line))
    return rows


def _checked(name: str, rows: Iterable[dict], sent: dict[int, str]) -> list[dict]:
    """The rows, typed, when each answers a row the file had, once, with accepted or error; else refused whole."""
    out, seen = [], set()
    for k, row in enumerate(rows, 1):
        where = f"{name}: line {row.get('line', k)}"
        try:
            entry_no = int(row["entry_no"])
        except (TypeError, ValueError, KeyError):
            raise ReceiptRefused(f"{where}: entry_no is not a number") from None
        if entry_no not in sent:
            raise ReceiptRefused(f"{where}: the file sent has no entry {entry_no}")
        if row.get("event_id") != sent[entry_no]:
            raise ReceiptRefused(f"{where}: entry {entry_no} was event {sent[entry_no]}, not {row.get('event_id')}")
        if entry_no in seen:
            raise ReceiptRefused(f"{where}: entry {entry_no} is answered twice")
        seen.add(entry_no)
        if row.get("result") not in RESULTS:
            raise ReceiptRefused(f"{where}: result must be accepted or error")
        code = (row.get("error_code") or None) if row["result"] == "error" else None
        if code is not None and len(code) > MAX_ERROR_CODE:
            raise ReceiptRefused(f"{where}: error_code is longer than {MAX_ERROR_CODE} characters")
        out.append({"entry_no": entry_no, "event_id": sent[entry_no], "result": row["result"], "error_code": code})
    return out


def _sent(con: duckdb.DuckDBPyConnection, subscriber: str, sequence_no: int) -> dict[int, str]:
    return dict(con.execute("select entry_no, event_id from feed_entry where subscriber = ? and sequence_no = ?",
                            [subscriber, sequence_no]).fetchall())


def _files_done(con: duckdb.DuckDBPyConnection, subscriber: str) -> dict[str, str]:
    return dict(con.execute("select distinct receipt_file, receipt_sha256 from feed_receipt where subscriber = ?",
                            [subscriber]).fetchall())


def _published(con: duckdb.DuckDBPyConnection, subscriber: str) -> dict[int, dict]:
    handoff.ensure_ledger(con)
    cursor = con.execute("select subscriber, sequence_no, business_date, rows, file_name from handoff_ledger "
                         "where subscriber = ? and mode = 'change_feed' order by sequence_no", [subscriber])
    names = [d[0] for d in cursor.description]
    return {r[1]: dict(zip(names, r)) for r in cursor.fetchall()}


def _store(con: duckdb.DuckDBPyConnection, subscriber: str, sequence_no: int, rows: list[dict], name: str,
           sha256: str, run_id: str) -> None:
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    if not rows:
        return
    # one transaction: a receipt killed half-way in would count as imported and its rest never be read
    con.begin()
    try:
        con.executemany("insert into feed_receipt values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [(subscriber, sequence_no, r["entry_no"], r["event_id"], r["result"], r["error_code"], name,
                          sha256, run_id, now) for r in rows])
        con.commit()
    except BaseException:
        con.rollback()
        raise


def import_receipts(con: duckdb.DuckDBPyConnection, subscriber: handoff.Subscriber, target: str, run_id: str,
                    answer: Answer | None = None) -> Imported:
    """The receipts in the target's receipts/ folder not imported yet (or the answers of a test receiver's
    function to the files not answered yet), each file taken whole or refused with a sentence."""
    ensure_tables(con)
    out = Imported()
    published = _published(con, subscriber.name)
    if answer is not None:
        answered = {s for (s,) in con.execute("select distinct sequence_no from feed_receipt where subscriber = ?",
                                               [subscriber.name]).fetchall()}
        for seq, row in published.items():
            rows = None if seq in answered else answer(dict(row))
            if rows is not None:
                _take(con, out, subscriber.name, seq, f"function:{seq}", list(rows), run_id, published)
        return out
    fs, root = fsspec.core.url_to_fs(target)
    folder = f"{root.rstrip('/')}/{FOLDER}"
    if not fs.exists(folder):
        return out
    done = _files_done(con, subscriber.name)
    for path in sorted(fs.ls(folder, detail=False)):
        name = path.rstrip("/").rsplit("/", 1)[-1]
        match = RECEIPT_NAME.match(name)
        if not match:
            continue
        data = fs.cat_file(path)
        sha256 = hashlib.sha256(data).hexdigest()
        if name in done:
            if done[name] != sha256:
                out.problems.append(f"{name}: changed after it was imported; the first answer stands")
            continue
        try:
            rows = parse_receipt(name, data)
        except ReceiptRefused as exc:
            out.problems.append(str(exc))
            continue
        _take(con, out, subscriber.name, int(match["seq"]), name, rows, run_id, published, sha256)
    return out


def _take(con: duckdb.DuckDBPyConnection, out: Imported, subscriber: str, seq: int, name: str, rows: list[dict],
          run_id: str, published: dict[int, dict], sha256: str | None = None) -> None:
    try:
        if seq not in published:
            raise ReceiptRefused(f"{name}: no file {seq} was published to {subscriber}")
        checked = _checked(name, rows, _sent(con, subscriber, seq))
    except ReceiptRefused as exc:
        out.problems.append(str(exc))
        return
    digest = sha256 or hashlib.sha256(json.dumps(checked, sort_keys=True).encode()).hexdigest()
    _store(con, subscriber, seq, checked, name, digest, run_id)
    out.files += 1
    out.accepted += sum(r["result"] == "accepted" for r in checked)
    out.errors += sum(r["result"] == "error" for r in checked)


def import_all(con: duckdb.DuckDBPyConnection, run_id: str, store_root: Path, subscribers: str | None = None,
               target_for: Callable[[handoff.Subscriber], str] | None = None,
               log: Callable[[str], None] = lambda message: None,
               answers: dict[str, Answer] | None = None) -> dict[str, dict]:
    """Every change feed's new receipts, before the run publishes (so its files re-send what erred); by subscriber."""
    found = {}
    for sub in handoff.load_subscribers(subscribers).values():
        if sub.mode != "change_feed":
            continue
        target = target_for(sub) if target_for else handoff.target_uri(sub, store_root)
        imported = import_receipts(con, sub, target, run_id, (answers or {}).get(sub.name))
        for problem in imported.problems:
            log(f"{sub.name}: receipt refused: {problem}")
        if imported.files or imported.problems:
            log(f"{sub.name}: {imported.files} receipt(s), {imported.accepted} accepted, {imported.errors} erred")
            found[sub.name] = imported.as_dict()
    return found


# --- for audit and the replay ---------------------------------------------------------------------------

def has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store has the receipt tables (a read-only store cannot create them)."""
    (n,) = con.execute("select count(*) from duckdb_tables() where table_name in "
                       "('feed_entry', 'feed_receipt', 'feed_resend', 'handoff_ledger')").fetchall()[0]
    return n == 4


def outstanding(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The feed rows answered with an error (and where they were re-sent) and those not answered yet."""
    if not has_tables(con):
        ensure_tables(con)
        handoff.ensure_ledger(con)
    return con.sql(_sql("outstanding.sql")).pl().select(OUTSTANDING_COLUMNS).to_dicts()


def imported_by(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict]:
    """The receipt rows a run imported, as stored (the replay imports them again at that run)."""
    ensure_tables(con)
    cursor = con.execute("select * from feed_receipt where run_id = ? order by subscriber, sequence_no, entry_no",
                         [run_id])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


def restore(con: duckdb.DuckDBPyConnection, rows: Iterable[dict]) -> None:
    """Receipt rows recorded by a live run, into the replay's store before that run is replayed."""
    ensure_tables(con)
    rows = list(rows)
    if rows:
        columns = list(rows[0])
        con.executemany(f"insert into feed_receipt ({', '.join(columns)}) values ({', '.join('?' * len(columns))})",
                        [[r[c] for c in columns] for r in rows])
