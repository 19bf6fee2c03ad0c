"""The ledger chain: a tamper-evident hash chain over the audit ledgers, anchored in a file outside the store.

A seal covers the rows of run_ledger, file_ledger, handoff_ledger and disclosure_log that no earlier seal
covers, recording each row's key, run and a digest over every column (sql/audit/chain_rows.sql). It
appends one row to ledger_chain whose hash is sha256(previous hash || content digest) and the new head to
the anchor file beside the store (ledger-anchors.jsonl), which a rewrite of the store does not reach.
`verify` recomputes it all and gives one sentence per sealed row edited or deleted since, per seal
changed, missing or out of order, and per head the anchor file does not hold. Sentences carry ledger
names, row keys (delivery, sequence and disclosure numbers), run ids and digests; never personal data.

`anchors` defaults to ledger-anchors.jsonl beside the store (the connection's database file). Call
`seal(con, run_id)` as the last write of a run, and `seal(con)` after a write outside any run; with nothing
new to cover it adds no seal and returns the current head. Two rules: a run still running (finished_at
null) waits for a later seal, so its row is sealed as the run left it; a row under a run an earlier seal
already sealed is covered only by a seal of that same run, so a row back-dated into an old run stays
uncovered and reported, never laundered by the next day's seal.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from juki_core.store import has_table
from tasks.audit import AUDIT_SQL
from tasks.faults import fault

GENESIS = "0" * 64
ANCHOR_FILE = "ledger-anchors.jsonl"
CHAIN_SQL = Path(__file__).resolve().parent.parent / "schemas" / "ledger_chain.sql"
# the chained ledgers, each with the ledger_chain column that counts its rows in a seal
LEDGERS = {"run_ledger": "run_rows", "file_ledger": "file_rows", "handoff_ledger": "handoff_rows",
           "disclosure_log": "disclosure_rows"}
SHORT = 16  # hex digits of a digest in a sentence
SHOWN = 5  # anchor disagreements named one by one; the rest are counted


def anchors_beside(store: Path | str) -> Path:
    """The anchor file of a store: ledger-anchors.jsonl in the store's folder."""
    return Path(store).resolve().parent / ANCHOR_FILE


def anchor_path(con: duckdb.DuckDBPyConnection) -> Path:
    """The anchor file beside the connection's database file; ValueError for a database in memory."""
    (path,) = con.execute("select path from duckdb_databases() "
                          "where database_name = current_database()").fetchall()[0]
    if not path:
        raise ValueError("the store is in memory and has no folder for its anchor file: pass anchors=PATH")
    return anchors_beside(path)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def row_digests(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every chained ledger row: ledger, row_key, run_id, final (not a running run) and row_sha256."""
    return _rows(con, (AUDIT_SQL / "chain_rows.sql").read_text(encoding="utf-8"))


def seals(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The seals of the ledger chain in seq order (none when the store has no chain table)."""
    if not has_table(con, "ledger_chain"):
        return []
    return _rows(con, (AUDIT_SQL / "chain_seals.sql").read_text(encoding="utf-8"))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def _entry_order(entry: list) -> tuple:
    ledger, key, run_id, digest = entry
    return ledger, key, digest, run_id is not None, run_id or ""


def content_digest(seal_row: dict) -> str:
    """SHA-256 of a seal's canonical JSON: seq, run, time, counts and its covered rows sorted."""
    covered = sorted(([e["ledger"], e["row_key"], e["run_id"], e["row_sha256"]] for e in seal_row["covered"]),
                     key=_entry_order)
    content = {"seq": seal_row["seq"], "run_id": seal_row["run_id"], "sealed_at": _iso(seal_row["sealed_at"]),
               "rows": {ledger: seal_row[column] for ledger, column in LEDGERS.items()}, "covered": covered}
    return _sha256(json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True))


def chain_hash(previous: str, content: str) -> str:
    """The head after a seal: SHA-256 of the previous head's hex text followed by the content digest's."""
    return _sha256(previous + content)


# --- comparing the ledgers with what was sealed ----------------------------------------------------

@dataclass
class Gone:
    """A sealed ledger key whose rows are no longer all as sealed."""

    ledger: str
    row_key: str
    run_id: str | None
    seal: dict
    sealed: int  # rows sealed under the key (more than one only for a repeated hand-off key)
    missing: int  # sealed digests no current row has
    present: int  # rows under the key now


@dataclass
class Comparison:
    """Sealed rows that changed, rows the next seal covers, and rows it leaves uncovered."""

    gone: list[Gone] = field(default_factory=list)
    fresh: list[dict] = field(default_factory=list)  # uncovered, and coverable by any seal
    late: list[tuple[dict, dict]] = field(default_factory=list)  # (row, the seal of its run): written after it
    open: list[dict] = field(default_factory=list)  # run_ledger rows of runs still running


def compare(current: list[dict], sealed: list[dict]) -> Comparison:
    """The ledgers now against every seal's covered rows, as multisets of digests per (ledger, key)."""
    now: dict[tuple, collections.Counter] = collections.defaultdict(collections.Counter)
    rows_now: dict[tuple, list[dict]] = collections.defaultdict(list)
    for row in current:
        key = (row["ledger"], row["row_key"])
        now[key][row["row_sha256"]] += 1
        rows_now[key].append(row)
    before: dict[tuple, collections.Counter] = collections.defaultdict(collections.Counter)
    first_seal: dict[tuple, tuple[dict, str | None]] = {}
    run_seal: dict[str, dict] = {}
    for s in sealed:
        if s["run_id"] is not None:
            run_seal.setdefault(s["run_id"], s)
        for e in s["covered"]:
            key = (e["ledger"], e["row_key"])
            before[key][e["row_sha256"]] += 1
            first_seal.setdefault(key, (s, e["run_id"]))
    found = Comparison()
    for key, digests in before.items():
        missing = digests - now.get(key, collections.Counter())
        if missing:
            s, run_id = first_seal[key]
            found.gone.append(Gone(key[0], key[1], run_id, s, sum(digests.values()), sum(missing.values()),
                                   sum(now.get(key, collections.Counter()).values())))
    changed = {(g.ledger, g.row_key) for g in found.gone}
    for key, rows in rows_now.items():
        if key in changed:  # an edited key keeps being reported, never re-sealed
            continue
        extra = now[key] - before.get(key, collections.Counter())
        for row in rows:
            if extra[row["row_sha256"]] <= 0:
                continue
            extra[row["row_sha256"]] -= 1
            if not row["final"]:
                found.open.append(row)
            elif row["run_id"] in run_seal:
                found.late.append((row, run_seal[row["run_id"]]))
            else:
                found.fresh.append(row)
    return found


# --- sealing -------------------------------------------------------------------------------------

def seal(con: duckdb.DuckDBPyConnection, run_id: str | None = None, anchors: Path | None = None) -> str:
    """Seal the chained rows no earlier seal covers, append the new head to the anchor file; the head.

    Three steps, so that a process killed anywhere leaves an interrupted seal, never a false alarm: the seal
    is committed to ledger_chain_pending, its head appended to the anchor file, then the seal moved into
    ledger_chain. The next seal first completes (anchored) or drops (not anchored) a pending one."""
    path = Path(anchors) if anchors is not None else anchor_path(con)
    con.execute(CHAIN_SQL.read_text(encoding="utf-8"))
    complete_interrupted(con, path)
    sealed = seals(con)
    found = compare(row_digests(con), sealed)
    # the run's own rows written after an earlier seal of the same run (a retried flow run) are its to cover
    covered = found.fresh + [row for row, s in found.late if run_id is not None and s["run_id"] == run_id]
    previous = sealed[-1]["chain_sha256"] if sealed else GENESIS
    if not covered:
        return previous
    row = {"seq": (sealed[-1]["seq"] if sealed else 0) + 1, "run_id": run_id, "previous_sha256": previous,
           "covered": [{k: r[k] for k in ("ledger", "row_key", "run_id", "row_sha256")} for r in covered],
           "sealed_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)}
    counts = collections.Counter(r["ledger"] for r in covered)
    row |= {column: counts[ledger] for ledger, column in LEDGERS.items()}
    row["content_sha256"] = content_digest(row)
    row["chain_sha256"] = chain_hash(previous, row["content_sha256"])
    con.execute(f"insert into ledger_chain_pending ({', '.join(row)}) values ({', '.join('$' + k for k in row)})", row)
    fault("after-seal-pending")
    _append_anchor(path, {"seq": row["seq"], "run_id": run_id, "head": row["chain_sha256"],
                          "sealed_at": _iso(row["sealed_at"]) + "Z"})
    fault("after-anchor")
    _move_pending(con)
    fault("after-seal-commit")
    return row["chain_sha256"]


def _move_pending(con: duckdb.DuckDBPyConnection) -> None:
    con.begin()
    try:
        con.execute("insert into ledger_chain select * from ledger_chain_pending")
        con.execute("delete from ledger_chain_pending")
        con.commit()
    except BaseException:
        con.rollback()
        raise


def _pending(con: duckdb.DuckDBPyConnection) -> list[dict]:
    if not has_table(con, "ledger_chain_pending"):
        return []
    return _rows(con, (AUDIT_SQL / "chain_seals.sql").read_text(encoding="utf-8").replace(
        "from ledger_chain\n", "from ledger_chain_pending\n"))


def _anchored(pending: dict, path: Path) -> bool:
    """Whether the anchor file holds the pending seal's head (it was written before the process died)."""
    if not path.exists():
        return False
    return any(a is not None and a["seq"] == pending["seq"] and a["head"] == pending["chain_sha256"]
               for _, a in read_anchors(path))


def complete_interrupted(con: duckdb.DuckDBPyConnection, anchors: Path | None = None) -> str | None:
    """Finish a seal a killed process left: into the chain when its head is anchored, else dropped; what was done."""
    path = Path(anchors) if anchors is not None else anchor_path(con)
    pending = _pending(con)
    if not pending:
        return None
    (seal_row,) = pending
    if _anchored(seal_row, path) and seal_row["seq"] not in {s["seq"] for s in seals(con)}:
        _move_pending(con)
        return f"completed the interrupted {seal_name(seal_row)}"
    con.execute("delete from ledger_chain_pending")
    return f"dropped the interrupted {seal_name(seal_row)}, which never reached the anchor file"


def interrupted(con: duckdb.DuckDBPyConnection, anchors: Path | None = None) -> str | None:
    """A sentence when a seal was interrupted (the next run or seal completes it), else None."""
    pending = _pending(con)
    if not pending:
        return None
    path = Path(anchors) if anchors is not None else anchor_path(con)
    name = seal_name(pending[0])
    where = "its head is in the anchor file" if _anchored(pending[0], path) else "its head never reached the anchor file"
    return (f"an interrupted seal: {name} was being made when its process ended ({where}); the next run "
            "or seal completes it.")


def _torn_tail(path: Path) -> int | None:
    """Where a last line cut short by a dying process starts (no line end, not a record); None when there is none."""
    if not path.exists():
        return None
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return None
    start = data.rfind(b"\n") + 1
    try:
        json.loads(data[start:])
        return None
    except ValueError:
        return start


def _append_anchor(path: Path, anchor: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torn = _torn_tail(path)
    if torn is not None:  # a line the last seal could not finish writing: it never named a head
        os.truncate(path, torn)
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(anchor, sort_keys=True) + "\n")
        out.flush()
        os.fsync(out.fileno())


def read_anchors(path: Path) -> list[tuple[int, dict | None]]:
    """(line number, record) for each non-blank line of an anchor file; None for a line that is not a record."""
    found = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("seq"), int) or \
                not isinstance(record.get("head"), str):
            record = None
        found.append((number, record))
    return found


# --- verifying -----------------------------------------------------------------------------------

def verify(con: duckdb.DuckDBPyConnection, anchors: Path | None = None) -> list[str]:
    """One sentence per problem with the chain, its anchor file or a sealed row; empty when all is intact.

    An interrupted seal is no problem (see `interrupted`): its anchor line names the pending seal."""
    path = Path(anchors) if anchors is not None else anchor_path(con)
    sealed = seals(con)
    found = chain_problems(sealed) + anchor_problems(sealed, path, _pending(con))
    if sealed:
        found += row_problems(compare(row_digests(con), sealed))
    return found


def _short(digest: str | None) -> str:
    return f"{digest[:SHORT]}…" if digest else "none"


def _when(moment: dt.datetime | str | None) -> str:
    if isinstance(moment, str):
        try:
            moment = dt.datetime.fromisoformat(moment.removesuffix("Z"))
        except ValueError:
            return moment
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else "an unknown time"


def seal_name(s: dict) -> str:
    """`seal 3 (run X, sealed 2026-04-02 09:00:00 UTC)`."""
    by = f"run {s['run_id']}" if s["run_id"] is not None else "outside a run"
    return f"seal {s['seq']} ({by}, sealed {_when(s['sealed_at'])})"


def chain_problems(sealed: list[dict]) -> list[str]:
    """The chain table itself: seals missing, out of order, edited, or hashes that do not follow."""
    found, expected, previous = [], 1, GENESIS
    for s in sealed:
        name = seal_name(s)
        if s["seq"] != expected:
            missing = f"{expected}" if s["seq"] == expected + 1 else f"{expected}-{s['seq'] - 1}"
            found.append(f"the ledger chain has no seal {missing} before {name}: seals were deleted from the "
                         "ledger_chain table.")
        elif s["previous_sha256"] != previous:
            before = f"seal {expected - 1}'s head {_short(previous)}" if expected > 1 else "the start of the chain"
            found.append(f"{name} does not follow {before}: its previous hash is {_short(s['previous_sha256'])}; "
                         "the ledger_chain table was re-ordered or rewritten.")
        if content_digest(s) != s["content_sha256"]:
            found.append(f"{name} was edited after it was written: its run, time, row counts or covered rows no "
                         f"longer give its content digest {_short(s['content_sha256'])}.")
        if chain_hash(s["previous_sha256"], s["content_sha256"]) != s["chain_sha256"]:
            found.append(f"{name} has the chain hash {_short(s['chain_sha256'])}, which does not follow from its "
                         "previous hash and content digest: the ledger_chain table was edited.")
        expected, previous = s["seq"] + 1, s["chain_sha256"]
    return found


def _capped(sentences: list[str], what: str) -> list[str]:
    if len(sentences) <= SHOWN:
        return sentences
    return sentences[:SHOWN] + [f"… and {len(sentences) - SHOWN} more {what}."]


def anchor_problems(sealed: list[dict], path: Path, pending: list[dict] = ()) -> list[str]:
    """The heads in the store against the anchor file written beside it, seal by seal (a pending seal's too)."""
    if not path.exists():
        if not sealed:
            return []
        return [f"the anchor file {path} is missing: the chain head {_short(sealed[-1]['chain_sha256'])} "
                f"({seal_name(sealed[-1])}) and its {len(sealed)} seal(s) cannot be checked against the heads "
                "written outside the store."]
    found, differ, unknown = [], [], []
    by_seq = {s["seq"]: s for s in sealed}
    anchored = set()
    torn = _torn_tail(path) is not None and bool(pending)
    lines = read_anchors(path)
    for number, anchor in lines:
        if anchor is None and torn and number == lines[-1][0]:
            continue  # cut short while a seal was being made: part of the interrupted seal
        if anchor is None:
            found.append(f"line {number} of the anchor file {path} is not a seal record: the file was edited.")
            continue
        anchored.add(anchor["seq"])
        if any(p["seq"] == anchor["seq"] and p["chain_sha256"] == anchor["head"] and p["seq"] not in by_seq
               for p in pending):
            continue  # an interrupted seal: reported by `interrupted`, completed by the next seal
        s = by_seq.get(anchor["seq"])
        by = f"run {anchor.get('run_id')}" if anchor.get("run_id") is not None else "outside a run"
        if s is None:
            unknown.append(f"the anchor written at {_when(anchor.get('sealed_at'))} holds the head "
                           f"{_short(anchor['head'])} of seal {anchor['seq']} ({by}), which the ledger_chain table "
                           "does not hold: seals were deleted or the chain was replaced.")
        elif s["chain_sha256"] != anchor["head"] or s["run_id"] != anchor.get("run_id"):
            differ.append(f"the chain head of {seal_name(s)} is {_short(s['chain_sha256'])} in the store and does "
                          f"not match the anchor written at {_when(anchor.get('sealed_at'))} for seal "
                          f"{anchor['seq']} ({by}), {_short(anchor['head'])}: the ledger_chain table was rewritten.")
    missing = [f"{seal_name(s)} has no line in the anchor file {path}: it was added to the store without its "
               "anchor, or its line was removed." for s in sealed if s["seq"] not in anchored]
    return (found + _capped(differ, "seal(s) whose head the anchor file does not hold")
            + _capped(unknown, "anchor(s) of seals the chain does not hold")
            + _capped(missing, "seal(s) without an anchor"))


def row_label(ledger: str, row_key: str, run_id: str | None) -> str:
    """`the file_ledger row of delivery 3 (run X)`: the row by its key and run, no personal data."""
    run = f"run {run_id}" if run_id is not None else "recorded outside a run"
    if ledger == "run_ledger":
        return f"the run_ledger row of run {row_key}"
    if ledger == "file_ledger":
        return f"the file_ledger row of delivery {row_key} ({run})"
    if ledger == "handoff_ledger":
        subscriber, _, rest = row_key.partition("#")
        return f"the handoff_ledger row of {subscriber} sequence {rest.partition('@')[0]} ({run})"
    return f"the disclosure_log row {row_key} ({run})"


def row_problems(found: Comparison) -> list[str]:
    """Sealed rows edited or deleted since, and rows written under a run after that run was sealed."""
    sentences = []
    for g in sorted(found.gone, key=lambda g: (g.seal["seq"], g.ledger, g.row_key)):
        label, by = row_label(g.ledger, g.row_key, g.run_id), seal_name(g.seal)
        if g.sealed == 1:
            what = "deleted" if g.present == 0 else "edited"
            sentences.append(f"{label} was {what} after it was sealed by {by}.")
        elif g.present == 0:
            sentences.append(f"{label}: all {g.sealed} rows sealed under it by {by} were deleted.")
        else:
            sentences.append(f"{label}: {g.missing} of the {g.sealed} rows sealed under it by {by} were edited "
                             "or deleted.")
    for row, s in found.late:
        sentences.append(f"{row_label(row['ledger'], row['row_key'], row['run_id'])} was written after run "
                         f"{row['run_id']} was sealed by {seal_name(s)}, and no seal covers it.")
    return sentences


# --- the state, for the audit report -------------------------------------------------------------

def status(con: duckdb.DuckDBPyConnection, anchors: Path | None = None) -> dict:
    """The chain for a report: seals, the head and its seal, rows not yet sealed, the anchor file and problems."""
    try:
        path = Path(anchors) if anchors is not None else anchor_path(con)
    except ValueError:
        path = None
    sealed = seals(con)
    found = compare(row_digests(con), sealed) if has_table(con, "ledger_chain") else None
    problems = chain_problems(sealed)
    if path is not None:
        problems += anchor_problems(sealed, path, _pending(con))
    elif sealed:
        problems.append("the store is in memory: its chain cannot be checked against an anchor file.")
    if found is not None and sealed:
        problems += row_problems(found)
    unsealed = collections.Counter(r["ledger"] for r in (found.fresh + found.open + [r for r, _ in found.late]))\
        if found is not None else collections.Counter()
    last = sealed[-1] if sealed else None
    return {"seals": len(sealed), "head": last["chain_sha256"] if last else None,
            "interrupted": interrupted(con, path) if path is not None else None,
            "last_seal": seal_name(last) if last else None, "sealed_at": last["sealed_at"] if last else None,
            "unsealed": {ledger: unsealed[ledger] for ledger in LEDGERS if unsealed[ledger]},
            "anchors": str(path) if path else None, "problems": problems}
