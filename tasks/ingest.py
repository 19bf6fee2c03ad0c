"""The stages of taking in one change file: land, read, validate, apply, each a plain function."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import asdict, dataclass
from typing import Callable
from zoneinfo import ZoneInfo

import duckdb
import polars as pl

from tasks.apply import (Delivery, already_applied, apply_file, code_history, judge_file, record_file,
                         state_violations, stored_events, with_person_keys)
from tasks.land import LandedFile, archive_file, check_regular_files, file_name, read_bytes
from tasks.read import ChangeFile, FileRefused, business_date_of, private_use_lines, read_change_file
from tasks.sliced import SlicedFile, apply_sliced, read_sliced, validate_sliced

Reasons = dict[int, list[tuple[str, str | None]]]
TOKYO = ZoneInfo("Asia/Tokyo")


@dataclass(frozen=True)
class Validation:
    """Every refusal reason by line, and the values ignored because their event type does not use them."""

    reasons: Reasons
    unused_values: int = 0
    applied_before: tuple[int, ...] = ()  # lines whose event id was applied before with the same content


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file, as `juki ingest --json` prints it (no personal data)."""

    file: str
    sha256: str
    status: str  # applied | duplicate | refused
    rows_read: int
    rows_applied: int
    rows_quarantined: int
    rows_skipped: int
    reason: str | None

    def as_dict(self) -> dict:
        return asdict(self)


def today() -> dt.date:
    """Today in Asia/Tokyo, the city's calendar (tests replace it)."""
    return dt.datetime.now(TOKYO).date()


def latest_business_date(parameters: dict) -> dt.date | None:
    """The latest business date a run takes in: its recorded day plus the days ahead; None when not recorded."""
    if not parameters.get("today"):
        return None  # a run recorded before the rule existed judged no date; its replay does not either
    return dt.date.fromisoformat(parameters["today"]) + dt.timedelta(days=parameters.get("max_days_ahead") or 0)


def check_date(change_file: ChangeFile, latest: dt.date | None) -> None:
    """A FileRefused when the file's business date is after the latest the run takes in."""
    if latest is not None and change_file.business_date > latest:
        raise FileRefused(change_file.name, "FILE_DATE_IN_FUTURE",
                          f"{change_file.business_date} is after {latest}")


def land(uri: str, archive: str) -> LandedFile:
    """Keep the exact bytes of a received file in the archive, keyed by SHA-256."""
    check_regular_files([uri])  # reading a folder fails, and a pipe blocks: neither is worth a retry
    return archive_file(read_bytes(uri), file_name(uri), archive)


def applied_before(con: duckdb.DuckDBPyConnection, sha256: str, name: str | None = None) -> dict | None:
    """An earlier applied delivery of the same bytes; a header-only file under another name is a new quiet day."""
    row = con.execute("select file_name, rows_read from file_ledger where file_sha256 = $sha and status = 'applied' "
                      "and (rows_read > 0 or $name is null or file_name = $name) order by delivery_no limit 1",
                      {"sha": sha256, "name": name}).fetchall()
    return {"file_name": row[0][0], "rows_read": row[0][1]} if row else None


def next_delivery(con: duckdb.DuckDBPyConnection, landed: LandedFile, run_id: str) -> Delivery:
    """Number the next delivery in the file ledger."""
    (last,) = con.execute("select coalesce(max(delivery_no), 0) from file_ledger").fetchall()[0]
    return Delivery(last + 1, landed.name, landed.sha256, run_id, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))


def read(landed: LandedFile, municipality_code: str, refuse_cut: bool = True) -> ChangeFile | SlicedFile:
    """Decode and parse the archived bytes (exactly what was kept, not what the inbox holds now); a large
    plain file (a city's BASELINE) is read in slices (tasks/sliced.py)."""
    sliced = read_sliced(landed, municipality_code)
    if sliced is not None:
        return sliced
    return read_change_file(landed.name, read_bytes(landed.archive_uri), municipality_code, refuse_cut)


def validate(con: duckdb.DuckDBPyConnection, change_file: ChangeFile) -> Validation:
    """Every refusal reason known before judging history: the GX row rules, then the SQL state rules."""
    from tasks.validate_rows import row_violations, unused_columns

    if isinstance(change_file, SlicedFile):
        return validate_sliced(con, change_file)
    reasons: Reasons = {}
    for line in change_file.field_count_errors:
        reasons.setdefault(line, []).append(("ROW_FIELD_COUNT", None))
    for line in private_use_lines(change_file):
        reasons.setdefault(line, []).append(("PRIVATE_USE_CHARACTER", None))
    rows = change_file.rows
    again: tuple[int, ...] = ()
    if rows.height:
        state = state_violations(con, rows)
        duplicates = state.filter(pl.col("rule_id") == "DUPLICATE_EVENT_ID")["line"]
        again = tuple(already_applied(con, rows.filter(pl.col("line").is_in(duplicates)))) if duplicates.len() else ()
        # A row applied before with the same content passed the row rules then and is skipped: GX skips it too.
        fresh = rows.filter(~pl.col("line").is_in(again)) if again else rows
        for line, rule, column in row_violations(fresh, change_file.business_date).iter_rows():
            reasons.setdefault(line, []).append((rule, column))
        for line, rule in state.iter_rows():
            reasons.setdefault(line, []).append((rule, None))
    unused = unused_columns(rows).height if rows.height else 0
    return Validation(reasons, unused, again)


# A run recorded with this parameter drops values in columns their event type does not use; a run recorded
# before it kept them, and its replay keeps them too, so its digests still verify (docs/decisions.md).
UNUSED_COLUMNS = {"unused_columns": "ignored"}
# Likewise for the one-世帯主-per-household rule (HOUSEHOLD_HAS_HEAD).
ONE_HEAD = {"household_heads": "one"}
# Likewise for a file cut short (FILE_TRUNCATED) and a row applied before with the same content (skipped).
CUT_FILES = {"cut_files": "refused"}
APPLIED_ROWS = {"applied_rows": "skipped"}
RULE_PARAMETERS = UNUSED_COLUMNS | ONE_HEAD | CUT_FILES | APPLIED_ROWS


def run_follows(con: duckdb.DuckDBPyConnection, run_id: str, rule: dict) -> bool:
    """Whether this run follows a rule: yes unless its run ledger row was recorded without the rule's parameter."""
    row = con.execute("select parameters from run_ledger where run_id = $r", {"r": run_id}).fetchall()
    if not row or row[0][0] is None:
        return True
    recorded = json.loads(row[0][0])
    return all(recorded.get(k) == v for k, v in rule.items())


def apply(con: duckdb.DuckDBPyConnection, change_file: ChangeFile, validation: Validation, delivery: Delivery,
          max_refused_share: float) -> FileOutcome:
    """Judge the file's rows against each person's history and apply it in one transaction."""
    from tasks.validate_rows import without_unused

    from tasks.heads import register_heads

    if isinstance(change_file, SlicedFile):
        skipped = validation.applied_before if run_follows(con, delivery.run_id, APPLIED_ROWS) else ()
        counts = apply_sliced(con, change_file, {line: found for line, found in validation.reasons.items()
                                                 if line not in skipped}, skipped, validation.unused_values,
                              delivery, max_refused_share, run_follows(con, delivery.run_id, UNUSED_COLUMNS),
                              run_follows(con, delivery.run_id, ONE_HEAD))
        return FileOutcome(change_file.name, delivery.file_sha256, "applied", reason=None, **counts)
    if run_follows(con, delivery.run_id, UNUSED_COLUMNS):
        change_file = dataclasses.replace(change_file, rows=without_unused(change_file.rows))
    codes = code_history(con, change_file.rows)  # a code a 住民票コードの変更 issued names its person
    persons = with_person_keys(change_file.rows, codes)
    heads = register_heads(con, persons) if run_follows(con, delivery.run_id, ONE_HEAD) else None
    skipped = validation.applied_before if run_follows(con, delivery.run_id, APPLIED_ROWS) else ()
    reasons = {line: found for line, found in validation.reasons.items() if line not in skipped}
    judgement = judge_file(change_file, delivery.delivery_no, reasons, stored_events(con, persons), heads,
                           skipped, codes)
    counts = apply_file(con, change_file, judgement, delivery, max_refused_share, validation.unused_values)
    return FileOutcome(change_file.name, delivery.file_sha256, "applied", reason=None, **counts)


def refuse(con: duckdb.DuckDBPyConnection, landed: LandedFile, delivery: Delivery, refusal: FileRefused,
           rows_read: int = 0, business_date: dt.date | None = None) -> FileOutcome:
    """Record a whole-file refusal: nothing applied, every row skipped, the reason kept."""
    counts = {"rows_read": rows_read, "rows_applied": 0, "rows_quarantined": 0, "rows_skipped": rows_read}
    record_file(con, landed.name, delivery, business_date, None, "refused", str(refusal), counts, False)
    return FileOutcome(landed.name, landed.sha256, "refused", reason=str(refusal), **counts)


def duplicate(con: duckdb.DuckDBPyConnection, landed: LandedFile, delivery: Delivery, earlier: dict,
              municipality_code: str) -> FileOutcome:
    """Record a second delivery of bytes already applied: nothing changes, every row skipped."""
    reason = f"{landed.name}: the same bytes were ingested before as {earlier['file_name']}; nothing changed."
    counts = {"rows_read": earlier["rows_read"], "rows_applied": 0, "rows_quarantined": 0,
              "rows_skipped": earlier["rows_read"]}
    try:
        business_date = business_date_of(landed.name, municipality_code)
    except FileRefused:
        business_date = None
    record_file(con, landed.name, delivery, business_date, None, "duplicate", reason, counts, False)
    return FileOutcome(landed.name, landed.sha256, "duplicate", reason=reason, **counts)


def _unless_refused(value):
    # A stage run as a Prefect task hands a refusal back as a value (no traceback in the run's log).
    if isinstance(value, FileRefused):
        raise value
    return value


@dataclass(frozen=True)
class Stages:
    """The four stages; the flow passes the same functions wrapped as Prefect tasks."""

    land: Callable = land
    read: Callable = read
    validate: Callable = validate
    apply: Callable = apply


def ingest_file(con: duckdb.DuckDBPyConnection, uri: str, archive: str, municipality_code: str,
                max_refused_share: float, run_id: str, stages: Stages = Stages(),
                latest: dt.date | None = None) -> FileOutcome:
    """Take in one file: land, then a duplicate, a refusal, or read, validate and apply (dated up to `latest`)."""
    landed = stages.land(uri, archive)
    delivery = next_delivery(con, landed, run_id)
    earlier = applied_before(con, landed.sha256, landed.name)
    if earlier:
        return duplicate(con, landed, delivery, earlier, municipality_code)
    change_file = None
    try:
        change_file = _unless_refused(stages.read(landed, municipality_code, run_follows(con, run_id, CUT_FILES)))
        check_date(change_file, latest)
        validation = stages.validate(con, change_file)
        return _unless_refused(stages.apply(con, change_file, validation, delivery, max_refused_share))
    except FileRefused as refusal:
        rows = (0 if change_file is None else change_file.keys.height if isinstance(change_file, SlicedFile)
                else change_file.rows.height)
        return refuse(con, landed, delivery, refusal, rows, change_file.business_date if change_file else None)

