"""Judge a validated change file against the register and apply it in one DuckDB transaction."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import polars as pl
import pyarrow as pa

from schemas.change_file import ADDING, COLUMNS, DATE_COLUMNS, RECORD_COLUMNS, RULES, residence_status_starts
from tasks.audit import adjust_register_digest
from tasks.history import RECORD_FIELDS, codes as codes_of, judge, judge_cancel, judge_confirmation, replaced_on, versions
from tasks.read import ChangeFile, FileRefused

SQL_DIR = Path(__file__).resolve().parent / "sql"

VERSION_SCHEMA: dict[str, pl.DataType] = {
    "resident_code": pl.String, "version_no": pl.Int32, "valid_from": pl.Date, "valid_to": pl.Date,
    "status": pl.String, "event_id": pl.String, "event_type": pl.String,
    **{c: (pl.Date if c in DATE_COLUMNS or c.endswith(("_since", "_date")) else pl.String)
       for c in RECORD_FIELDS},
}
VERSION_SCHEMA["support_measure"] = pl.Boolean


def sql(name: str) -> str:
    """The text of a .sql file beside the tasks."""
    return (SQL_DIR / name).read_text(encoding="utf-8")


def run_script(con: duckdb.DuckDBPyConnection, name: str, **params) -> None:
    """Run a .sql file statement by statement, binding only the parameters each one names."""
    for statement in (s.strip() for s in sql(name).split(";")):
        body = "\n".join(l for l in statement.splitlines() if not l.lstrip().startswith("--")).strip()
        if body:
            used = {k: v for k, v in params.items() if f"${k}" in body}
            con.execute(body, used or None)


@dataclass
class Judgement:
    """What a file does to the register: accepted events, cancellations, versions, refusals."""

    accepted_lines: list[int] = field(default_factory=list)
    cancellations: dict[str, str] = field(default_factory=dict)  # target event_id -> cancelling event_id
    new_versions: pl.DataFrame | None = None
    touched: list[str] = field(default_factory=list)
    refusals: dict[int, list[tuple[str, str | None]]] = field(default_factory=dict)  # line -> (rule, column)
    skipped_lines: list[int] = field(default_factory=list)  # applied before with the same content
    persons: dict[int, str] = field(default_factory=dict)  # line -> person key, where the row named a later code


@dataclass
class CodeHistory:
    """The 住民票コード a file names that a RESIDENT_CODE_CHANGE issued, and the file's new codes already held."""

    person: dict[str, str] = field(default_factory=dict)  # issued code -> person key (the first code)
    in_register: set[str] = field(default_factory=set)  # new codes of the file's changes the register holds


def code_history(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame) -> CodeHistory:
    """What the register knows of the codes a file names (tasks/sql/resident_codes.sql)."""
    con.register("incoming", rows.select("resident_code", "new_resident_code"))
    try:
        found = con.sql(sql("resident_codes.sql")).fetchall()
    finally:
        con.unregister("incoming")
    return CodeHistory({code: person for code, person, _ in found if person is not None},
                       {code for code, _, held in found if held})


def with_person_keys(rows: pl.DataFrame, history: CodeHistory) -> pl.DataFrame:
    """resident_code replaced by the person key where the row names a code a RESIDENT_CODE_CHANGE issued."""
    if not history.person:
        return rows
    return rows.with_columns(resident_code=pl.col("resident_code").replace(history.person))


def typed(rows: pl.DataFrame) -> pl.DataFrame:
    """Dates as dates (invalid ones null; their rows are refused by the row rules)."""
    return rows.with_columns(pl.col(c).str.strptime(pl.Date, "%Y-%m-%d", strict=False) for c in DATE_COLUMNS)


def state_violations(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame) -> pl.DataFrame:
    """The SQL state rules (duplicate ids, BASELINE first, CANCEL targets): line, rule_id."""
    incoming = rows.select("line", "event_id", "event_type", "resident_code", "cancels_event_id")
    con.register("incoming", incoming)
    try:
        return con.sql(sql("state_rules.sql")).pl()
    finally:
        con.unregister("incoming")


def already_applied(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame) -> list[int]:
    """Lines whose event id was applied before with the same content (see `canonical`), first in the file only."""
    firsts = rows.filter(pl.col("event_id").is_not_null()).unique("event_id", keep="first", maintain_order=True)
    firsts = with_person_keys(firsts, code_history(con, firsts))  # stored under the person key
    con.register("incoming", firsts.select("event_id"))
    try:
        stored = con.sql(sql("applied_events.sql")).pl()
    finally:
        con.unregister("incoming")
    if not stored.height:
        return []
    stored = stored.select(pl.col(c).dt.strftime("%Y-%m-%d") if c in DATE_COLUMNS else pl.col(c) for c in COLUMNS)
    pairs = canonical(firsts).join(canonical(stored), on="event_id", suffix="_stored")
    same = pl.all_horizontal(pl.col(c).eq_missing(pl.col(f"{c}_stored")) for c in COLUMNS if c != "event_id")
    return sorted(pairs.filter(same & pl.col("dates_valid"))["line"].to_list())


def canonical(rows: pl.DataFrame) -> pl.DataFrame:
    """The content of change rows as compared for a re-sent row: typed values of the columns the type uses."""
    # Not the raw text: the same row re-sent in CP932, with CRLF, other quoting or columns in another order
    # is the same change. Columns the event type does not use are ignored by the agreement, so not content.
    from tasks.validate_rows import without_unused

    given = without_unused(rows.select(COLUMNS + (("line",) if "line" in rows.columns else ())))
    kept = typed(given)
    return kept.with_columns(dates_valid=pl.all_horizontal(  # a date that is not a date is no match for null
        [given[c].is_null() | kept[c].is_not_null() for c in DATE_COLUMNS]))


def stored_events(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame) -> dict[str, list[dict]]:
    """The accepted, not cancelled events of every resident the file names, in each person's order."""
    con.register("incoming", rows.select("resident_code"))
    try:
        frame = con.sql(sql("touched_events.sql")).pl()
    finally:
        con.unregister("incoming")
    events: dict[str, list[dict]] = defaultdict(list)
    for event in frame.to_dicts():
        events[event["resident_code"]].append(event)
    return events


def judge_file(change_file: ChangeFile, delivery_no: int, prior: dict[int, list[tuple[str, str | None]]],
               stored: dict[str, list[dict]], heads: pl.DataFrame | None = None,
               skipped: tuple[int, ...] = (), codes: CodeHistory | None = None) -> Judgement:
    """Judge every row in file order against the register; `prior` holds the row and SQL refusals.

    `heads` (the register's 世帯主 intervals, tasks/heads.py) turns on the one-head-per-household rule;
    `skipped` lines were applied before with the same content and are not judged again; `codes` maps the
    住民票コード that changes issued to their person (every row is judged, and stored, under the person key).
    """
    rows = judged_rows(change_file.rows, change_file.business_date, delivery_no, codes)
    result, fast = judge_rows(rows, lambda slow: slow, prior, stored, heads, skipped, codes)
    frames = [result.new_versions]
    if fast.height:
        frames.append(_first_versions(fast))
        result.accepted_lines.extend(fast["line"].to_list())
    result.new_versions = pl.concat([f.select(VERSION_SCHEMA.keys()) for f in frames])
    # sorted in polars (byte order of UTF-8 is Python's code-point order)
    result.touched = pl.concat([pl.Series(result.touched, dtype=pl.String), fast["resident_code"]]
                               ).unique().sort().to_list()
    result.accepted_lines.sort()
    return result


def judged_rows(rows: pl.DataFrame, business_date: dt.date, delivery_no: int,
                codes: CodeHistory | None) -> pl.DataFrame:
    """A file's rows as judge_rows takes them: typed, with the delivery's columns, under the person key."""
    dates = [c for c in DATE_COLUMNS if c in rows.columns]  # a BASELINE taken in slices judges a few columns
    rows = rows.with_columns(pl.col(c).str.strptime(pl.Date, "%Y-%m-%d", strict=False) for c in dates).with_columns(
        business_date=pl.lit(business_date), delivery_no=pl.lit(delivery_no, pl.Int64), sent_code=pl.col("resident_code"))
    return with_person_keys(rows, codes or CodeHistory())


def judge_rows(rows: pl.DataFrame, full: Callable[[pl.DataFrame], pl.DataFrame],
               prior: dict[int, list[tuple[str, str | None]]], stored: dict[str, list[dict]],
               heads: pl.DataFrame | None, skipped: tuple[int, ...], codes: CodeHistory | None
               ) -> tuple[Judgement, pl.DataFrame]:
    """judge_file's rule work on `rows` (judged_rows): the judgement of every row but the bulk, and the bulk rows
    accepted (one adding row of a person the register does not know). `full(slow)` gives the other rows with
    every column (`rows` may hold only the columns that split and the 世帯主 rule read); the judgement's
    accepted_lines, touched and new_versions are the other rows' only."""
    codes = codes or CodeHistory()
    issued_here = set(rows.filter(pl.col("event_type") == "RESIDENT_CODE_CHANGE")["new_resident_code"]
                      .drop_nulls().to_list())
    # looked up only for the codes a change issues (_code_change_problem): not a dict of every code of a BASELINE
    first_line = dict(rows.filter(pl.col("sent_code").is_in(list(issued_here)))
                      .group_by("sent_code").agg(pl.col("line").min()).iter_rows())
    person_of = dict(codes.person)  # grows with the file's accepted changes
    person_at: dict[int, str] = {}  # accepted line -> person key
    if skipped:
        rows = rows.filter(~pl.col("line").is_in(list(skipped)))
    result = Judgement(refusals={line: list(reasons) for line, reasons in prior.items()},
                       skipped_lines=sorted(skipped))
    # (one row of a person the register does not know) in polars, not as Python sets of a BASELINE's codes
    is_fast = ((pl.len().over("resident_code") == 1) & ~pl.col("resident_code").is_in(list(stored.keys() | issued_here))
               & pl.col("event_type").is_in(ADDING) & ~pl.col("line").is_in(list(prior))
               # a status with a start date is judged by the history replay (RESIDENCE_STATUS_NOT_IN_FORCE)
               & ~pl.col("residence_status").fill_null("").is_in(list(residence_status_starts())))
    fast = rows.filter(is_fast)
    slow = full(rows.filter(~is_fast))

    chains: dict[str, list[dict]] = {}
    states: dict[str, dict | None] = {}
    steps: dict[str, list[tuple[int, list[dict]]]] = defaultdict(list)  # (line, chain after it) per person
    refused_residents: set[str] = set()
    for event in slow.to_dicts():
        line, sent = event["line"], event["sent_code"]
        code = event["resident_code"] = person_of.get(sent, sent)
        if code in refused_residents:
            result.refusals.setdefault(line, []).append(("DEPENDS_ON_REFUSED_ROW", None))
            continue
        if line in result.refusals:
            if code is not None:
                refused_residents.add(code)
            continue
        if code not in chains:
            chains[code] = list(stored.get(code, []))
            states[code] = _final_state(chains[code])
        # the code a row names must still be the person's on its effective date: a late event with a code
        # replaced since lands on the person, one dated on or after the replacement is refused
        replaced = replaced_on(code, chains[code], sent)
        if replaced is not None and replaced <= event["effective_date"] and event["event_type"] != "CANCEL":
            problem = "RESIDENT_CODE_REPLACED"
        elif event["event_type"] == "CANCEL":
            problem = _cancel_target_problem(chains[code], event["cancels_event_id"], result)
            if problem is None:
                problem, chains[code], states[code] = judge_cancel(
                    chains[code], states[code], event["cancels_event_id"])
            if problem is None:
                result.cancellations[event["cancels_event_id"]] = event["event_id"]
        elif event["event_type"] == "RESIDENT_CODE_CHANGE":
            problem = _code_change_problem(code, chains[code], event, codes, first_line, person_of)
            if problem is None:
                problem, chains[code], states[code] = judge(chains[code], states[code], event)
            if problem is None:
                person_of[event["new_resident_code"]] = code
        elif event["event_type"] == "MOVE_OUT_CONFIRMED":
            problem, plan, chains[code], states[code] = judge_confirmation(chains[code], states[code], event)
            if problem is None:  # the plan stays in the ledger, marked replaced like a cancelled event
                result.cancellations[plan] = event["event_id"]
        else:
            problem, chains[code], states[code] = judge(chains[code], states[code], event)
        if problem is None:
            if sent != code:
                result.persons[line] = code
            person_at[line] = code
            result.accepted_lines.append(line)
            steps[code].append((line, chains[code]))
        else:
            result.refusals[line] = [(problem, None)]
            refused_residents.add(code)

    if heads is not None:
        fast = _refuse_second_heads(result, slow, fast, stored, steps, chains, heads)
    accepted = set(result.accepted_lines)
    changed = {person_at[line] for line in accepted if line in person_at}
    slow_versions = [v for code in sorted(changed) for v in versions(code, chains[code])]
    result.new_versions = (pl.DataFrame(slow_versions, schema=VERSION_SCHEMA, orient="row")
                           if slow_versions else pl.DataFrame(schema=VERSION_SCHEMA))
    result.touched = sorted(changed)
    return result, fast


def _refuse_second_heads(result: Judgement, slow: pl.DataFrame, fast: pl.DataFrame, stored: dict[str, list[dict]],
                         steps: dict[str, list[tuple[int, list[dict]]]], chains: dict[str, list[dict]],
                         register: pl.DataFrame) -> pl.DataFrame:
    """Refuse the rows that make a second 世帯主 (and the person's later rows); the fast rows still accepted."""
    from tasks.heads import RULE, second_heads

    event_of = dict(slow.select("line", "event_id").iter_rows())
    fast_heads = fast.filter(pl.col("relationship") == "世帯主").select(
        "line", "resident_code", "household_id", "effective_date")
    fast_lines = set(fast_heads["line"].to_list())
    person_of = {line: code for code, chain_steps in steps.items() for line, _ in chain_steps}
    while lines := second_heads(register, stored, steps, fast_heads):
        for line in sorted(lines):
            if line in result.refusals:  # a later row of a person already cut back at an earlier line
                continue
            if line in fast_lines:
                result.refusals[line] = [(RULE, None)]
                continue
            code = person_of[line]
            at = next(i for i, (l, _) in enumerate(steps[code]) if l == line)
            for later, _ in steps[code][at:]:
                result.refusals[later] = [(RULE if later == line else "DEPENDS_ON_REFUSED_ROW", None)]
                result.accepted_lines.remove(later)
                for target in [t for t, by in result.cancellations.items() if by == event_of[later]]:
                    del result.cancellations[target]  # a refused CANCEL or 転出確定 undoes nothing
            chains[code] = steps[code][at - 1][1] if at else list(stored.get(code, []))
            steps[code] = steps[code][:at]
            if not steps[code]:
                del steps[code]
        fast_heads = fast_heads.filter(~pl.col("line").is_in(list(lines)))
    return fast.filter(~pl.col("line").is_in([l for l in result.refusals if l in fast_lines]))


def _final_state(events: list[dict]) -> dict | None:
    chain = versions(events[0]["resident_code"], events) if events else []
    if not chain:
        return None
    last = chain[-1]
    return {c: last[c] for c in RECORD_FIELDS} | {"status": last["status"]}


def _code_change_problem(code: str, chain: list[dict], event: dict, history: CodeHistory,
                         first_line: dict[str, int], person_of: dict[str, str]) -> str | None:
    """A 住民票コードの変更 gives up the person's newest code, after their last change, for a code nobody holds."""
    new = event["new_resident_code"]
    held = codes_of(code, chain)
    if new in history.in_register or new in person_of or first_line.get(new, event["line"]) < event["line"]:
        return "RESIDENT_CODE_IN_USE"
    if held[-1][1] != event["sent_code"]:
        return "RESIDENT_CODE_REPLACED"
    if held[-1][0] is not None and event["effective_date"] < held[-1][0]:
        return "LATE_EVENT_CONFLICT"
    return None


def _cancel_target_problem(chain: list[dict], target_id: str, result: Judgement) -> str | None:
    # Where the target is was checked in SQL; whether it is still there is known only now.
    if target_id in result.cancellations:
        return "CANCEL_TARGET_CANCELLED"
    target = next((e for e in chain if e["event_id"] == target_id), None)
    if target is None:
        return "CANCEL_TARGET_UNKNOWN"
    if target["event_type"] == "MOVE_OUT_CONFIRMED":
        return "CANCEL_TARGET_IS_CONFIRMATION"
    if target["event_type"] == "RESIDENT_CODE_CHANGE":
        return "CANCEL_TARGET_IS_CODE_CHANGE"
    return None


def _first_versions(rows: pl.DataFrame) -> pl.DataFrame:
    """Version 1 of people the register never knew, added by one row each (the bulk of a baseline)."""
    return rows.select(
        "resident_code",
        version_no=pl.lit(1, pl.Int32),
        valid_from=pl.col("effective_date"),
        valid_to=pl.lit(None, pl.Date),
        status=pl.lit("current"),
        event_id=pl.col("event_id"),
        event_type=pl.col("event_type"),
        **{c: pl.col(c) for c in RECORD_COLUMNS if c != "support_measure"},
        support_measure=pl.col("support_measure").fill_null("0") == "1",
        resident_since=pl.col("effective_date"),
        address_since=pl.when(pl.col("event_type") == "BASELINE")
        .then(pl.coalesce("address_since", "effective_date")).otherwise(pl.col("effective_date")),
        address_notified_date=pl.col("notified_date"),
        dest_address=pl.lit(None, pl.String),
        new_resident_code=pl.lit(None, pl.String),
    ).select(VERSION_SCHEMA.keys())


def quarantine_frame(change_file: ChangeFile, refusals: dict[int, list[tuple[str, str | None]]]) -> pl.DataFrame:
    """One row per refused line with every rule id and sentence (no values from the row)."""
    refused = change_file.rows.select("line", raw=change_file.raw).filter(pl.col("line").is_in(list(refusals)))
    raw = dict(refused.iter_rows())
    keys = change_file.rows.select("line", "event_id", "resident_code")
    records = []
    for line in sorted(refusals):
        reasons = sorted(set(refusals[line]), key=lambda r: (r[0], r[1] or ""))
        rule_ids = list(dict.fromkeys(rule for rule, _ in reasons))
        messages = [f"{rule}: {RULES[rule].sentence}" + (f" (column {column})" if column else "")
                    for rule, column in reasons]
        records.append({"line": line, "rule_ids": rule_ids, "messages": messages, "raw_row": raw[line]})
    frame = pl.DataFrame(records, schema={"line": pl.Int64, "rule_ids": pl.List(pl.String),
                                          "messages": pl.List(pl.String), "raw_row": pl.String})
    return frame.join(keys, on="line", how="left").with_columns(
        # A malformed id could be anything, even a My Number typed in the wrong column.
        event_id=pl.when(pl.col("event_id").str.contains(r"^\d{12}$"))
        .then(pl.lit("********") + pl.col("event_id").str.slice(8)).otherwise(pl.col("event_id").str.slice(0, 36)),
        resident_code=pl.when(pl.col("resident_code").str.contains(r"^\d{11}$"))
        .then(pl.col("resident_code")).otherwise(pl.lit(None)),
    )


@dataclass(frozen=True)
class Delivery:
    """Who and when: the ledger columns every row of one file delivery carries."""

    delivery_no: int
    file_name: str
    file_sha256: str
    run_id: str
    recorded_at: dt.datetime


def apply_file(con: duckdb.DuckDBPyConnection, change_file: ChangeFile, judgement: Judgement,
               delivery: Delivery, max_refused_share: float, unused_values: int = 0) -> dict:
    """Write the file's events, versions, quarantine and ledger row in ONE transaction; the file's counts."""
    rows_read = change_file.rows.height
    check_refused_share(change_file.name, rows_read, judgement.refusals, max_refused_share)
    quarantine = quarantine_frame(change_file, judgement.refusals)
    touched = pl.DataFrame({"resident_code": judgement.touched}, schema={"resident_code": pl.String})
    lines = pl.Series("line", judgement.accepted_lines, dtype=pl.Int64)
    taken = change_file.rows.select(pl.col("line").is_in(lines).alias("accepted"), "event_type").filter("accepted")
    counts = {"rows_read": rows_read, "rows_applied": taken.height,
              "rows_quarantined": len(judgement.refusals), "rows_skipped": len(judgement.skipped_lines)}
    has_baseline = bool(taken.filter(pl.col("event_type") == "BASELINE").height)
    accepted = accepted_events(change_file, judgement, delivery, lines)
    write_batch(con, change_file, delivery, counts, has_baseline, unused_values, accepted, quarantine,
                judgement.cancellations, touched, as_arrow(judgement.new_versions))
    return counts


def check_refused_share(name: str, rows_read: int, refusals: dict[int, list[tuple[str, str | None]]],
                        max_refused_share: float) -> None:
    """FILE_TOO_MANY_REFUSED when more than the share of a file's rows is refused, naming the top rules."""
    quarantined = len(refusals)
    if rows_read and quarantined / rows_read > max_refused_share:
        by_rule: dict[str, int] = defaultdict(int)
        for reasons in refusals.values():
            for rule in {r for r, _ in reasons}:
                by_rule[rule] += 1
        top = ", ".join(f"{r} {n}" for r, n in sorted(by_rule.items(), key=lambda x: (-x[1], x[0]))[:5])
        raise FileRefused(name, "FILE_TOO_MANY_REFUSED",
                          f"{quarantined} of {rows_read} rows refused, more than "
                          f"{max_refused_share:.0%} ({top})")


def write_batch(con: duckdb.DuckDBPyConnection, change_file, delivery: Delivery, counts: dict, has_baseline: bool,
                unused_values: int, accepted: pa.RecordBatchReader,
                quarantine: pl.DataFrame | Callable[[], pl.DataFrame],
                cancellations: dict[str, str], touched: pl.DataFrame, new_versions) -> None:
    """The ledger row, events, cancellations, versions and quarantine of one file in ONE transaction; `quarantine`
    may be a function, called once the events are in (a sliced file gathers its refused rows while they go in)."""
    cancels = pl.DataFrame({"target_id": list(cancellations), "cancel_id": list(cancellations.values())},
                           schema={"target_id": pl.String, "cancel_id": pl.String})
    con.execute("begin transaction")
    try:
        con.register("accepted", accepted)
        con.register("new_versions", new_versions)
        for name, frame in (("cancels", cancels), ("touched", touched)):
            con.register(name, as_arrow(frame))
        record_file(con, change_file.name, delivery, change_file.business_date, change_file.encoding,
                    "applied", None, counts, has_baseline, unused_values, change_file.extra_columns)
        con.execute("insert into event by name select * from accepted")
        if cancels.height:
            con.execute(sql("cancel_events.sql"))
        rebuild_versions(con, delivery.recorded_at)
        refused = (quarantine() if callable(quarantine) else quarantine).with_columns(
            delivery_no=pl.lit(delivery.delivery_no, pl.Int64), file_name=pl.lit(delivery.file_name),
            file_sha256=pl.lit(delivery.file_sha256), run_id=pl.lit(delivery.run_id),
            recorded_at=pl.lit(delivery.recorded_at))
        con.register("quarantined", as_arrow(refused))
        con.execute("insert into quarantine by name select * from quarantined")
        con.execute("commit")
    except Exception as exc:
        con.execute("rollback")
        raise RuntimeError(f"{change_file.name}: applying failed and nothing was changed: "
                           f"{_safe(exc)}") from None
    finally:
        for name in ("accepted", "quarantined", "cancels", "touched", "new_versions"):
            con.unregister(name)


# The accepted events go to DuckDB in slices of this many file rows: a BASELINE's are never one more whole frame.
ACCEPTED_SLICE_ROWS = 100_000


def _accepted(rows: pl.DataFrame, judgement: Judgement, delivery: Delivery, business_date: dt.date,
              lines: pl.Series) -> pl.DataFrame:
    """The event rows of these file rows that were accepted, typed, with the delivery's ledger columns."""
    accepted = typed(rows.filter(pl.col("line").is_in(lines)))
    if judgement.persons:  # stored under the person key (a BASELINE names none: no join copying every row)
        persons = pl.DataFrame({"line": list(judgement.persons), "person": list(judgement.persons.values())},
                               schema={"line": pl.Int64, "person": pl.String})
        accepted = accepted.join(persons, on="line", how="left", maintain_order="left").with_columns(
            resident_code=pl.coalesce("person", "resident_code"))
    return accepted.select(
        *COLUMNS,
        business_date=pl.lit(business_date),
        delivery_no=pl.lit(delivery.delivery_no, pl.Int64),
        file_sha256=pl.lit(delivery.file_sha256),
        line=pl.col("line"),
        run_id=pl.lit(delivery.run_id),
        recorded_at=pl.lit(delivery.recorded_at),
    )


def accepted_events(change_file: ChangeFile, judgement: Judgement, delivery: Delivery,
                    lines: pl.Series) -> pa.RecordBatchReader:
    """The accepted events in file order as Arrow batches, built one slice of the file at a time as DuckDB reads."""
    rows, day = change_file.rows, change_file.business_date

    def batches():
        for offset in range(0, rows.height, ACCEPTED_SLICE_ROWS):
            yield from as_arrow(_accepted(rows.slice(offset, ACCEPTED_SLICE_ROWS), judgement, delivery, day,
                                          lines)).to_batches()

    schema = as_arrow(_accepted(rows.head(0), judgement, delivery, day, lines)).schema
    return pa.RecordBatchReader.from_batches(schema, batches())


def rebuild_versions(con: duckdb.DuckDBPyConnection, recorded_at: dt.datetime) -> None:
    """Inside a batch's transaction: close and replace the `touched` residents' versions, digest sums adjusted."""
    run_script(con, "rebuild_touched.sql", recorded_at=recorded_at)
    adjust_register_digest(con, closed="closed_versions", inserted="inserted_versions")
    con.execute("drop table closed_versions")
    con.execute("drop table inserted_versions")


def as_arrow(frame: pl.DataFrame):
    """The frame as Arrow for DuckDB without a copy of its strings (polars' own string views, which DuckDB reads;
    the default conversion copies every string column, +0.5 GiB at a 607,000-row BASELINE)."""
    return frame.to_arrow(compat_level=pl.CompatLevel.newest())


def record_file(con: duckdb.DuckDBPyConnection, name: str, delivery: Delivery, business_date: dt.date | None,
                encoding: str | None, status: str, reason: str | None, counts: dict, has_baseline: bool,
                unused_values: int = 0, extra_columns: list[str] | None = None) -> None:
    """One row of the file ledger."""
    con.execute(
        "insert into file_ledger (delivery_no, file_name, file_sha256, business_date, encoding, status, reason, "
        "rows_read, rows_applied, rows_quarantined, rows_skipped, has_baseline, unused_values, extra_columns, "
        "run_id, received_at) values ($no, $name, $sha, $date, $enc, $status, $reason, $read, $applied, "
        "$quarantined, $skipped, $baseline, $unused, $extra, $run, $at)",
        {"no": delivery.delivery_no, "name": name, "sha": delivery.file_sha256, "date": business_date,
         "enc": encoding, "status": status, "reason": reason, "read": counts["rows_read"],
         "applied": counts["rows_applied"], "quarantined": counts["rows_quarantined"],
         "skipped": counts["rows_skipped"], "baseline": has_baseline, "unused": unused_values,
         "extra": extra_columns or [], "run": delivery.run_id,
         "at": delivery.recorded_at})


def _safe(exc: Exception) -> str:
    # DuckDB error texts quote key values; never let a number of 6+ digits through.
    return re.sub(r"\d{6,}", "…", str(exc).splitlines()[0])
