"""Retention (保存期間): removed records (除票) logically erased 150 years after removal, refused rows' raw text purged.

Plain functions; flows/retention.py wraps them as Prefect tasks and the replay calls `erase` (through `rerun`) with
a recorded run's parameters. What a run returns, logs or shows is counts and dates: never a name, a resident code
or a My Number (erased_after hands resident codes to the replay only, which keeps them out of its sentences).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from juki_core.store import has_table
from tasks import chain, daily
from tasks.audit import AUDIT_SQL, refresh_register_digest, register_digest
from tasks.check import broken_invariants

FLOW_NAME = "retention"
YEARS = 150  # 住民基本台帳法施行令第34条: a removed record is kept 150 years from its removal
QUARANTINE_DAYS = 365
MIN_QUARANTINE_DAYS = 30  # below this the command line asks for --force: this month's refusals may still be worked on
RETENTION_SQL = Path(__file__).resolve().parent / "sql" / "retention"
TOKYO = ZoneInfo("Asia/Tokyo")

# The one list of what erasure does to a column, per table: the replacement in resident_version and in event
# (None: the table has no such column). Null unless the DDL says NOT NULL; every column not listed here is
# kept and named in KEPT, so a new column cannot slip past without a decision (tests/tasks/test_retention.py).
ERASED: dict[str, tuple[str | None, str | None]] = {
    #                            resident_version  event
    "my_number":                 ("null",          "null"),
    "household_id":              ("null",          "null"),
    "relationship":              ("null",          "null"),
    "family_name":               ("null",          "null"),
    "given_name":                ("null",          "null"),
    "family_name_kana":          ("null",          "null"),
    "given_name_kana":           ("null",          "null"),
    "alias_name":                ("null",          "null"),
    "birth_date":                ("null",          "null"),
    "sex":                       ("null",          "null"),
    "nationality":               ("null",          "null"),
    "town_code":                 ("null",          "null"),
    "address_line":              ("null",          "null"),
    "resident_since":            ("null",          None),
    "address_since":             ("null",          "null"),
    "address_notified_date":     ("null",          None),
    "prev_address":              ("null",          "null"),
    "dest_address":              ("null",          "null"),
    "honseki":                   ("null",          "null"),
    "hittousha":                 ("null",          "null"),
    "residence_status":          ("null",          "null"),
    "residence_card_no":         ("null",          "null"),
    "stay_expiry_date":          ("null",          "null"),
    "foreign_resident_category": ("null",          "null"),
    "former_surname":            ("null",          "null"),
    "stay_period":               ("null",          "null"),
    # not null in resident_version; that a person had DV support (支援措置) is itself sensitive
    "support_measure":           ("false",         "null"),
}
KEPT: dict[str, tuple[str, ...]] = {
    "resident_version": ("resident_code", "version_no", "valid_from", "valid_to", "recorded_from", "recorded_to",
                         "status", "event_id", "event_type", "new_resident_code"),
    # a code issued by a 住民票コードの変更 is a resident code like the first: kept, so it still finds the tombstone
    "event": ("event_id", "event_type", "effective_date", "notified_date", "resident_code", "cancels_event_id",
              "business_date", "delivery_no", "file_sha256", "line", "run_id", "recorded_at", "cancelled_by",
              "new_resident_code"),
}


class RetentionError(Exception):
    """An erasure could not be done and nothing was changed; the message is one sentence for a person."""


@dataclass(frozen=True)
class Erasure:
    """What a retention run erases, or would: counts only."""

    residents: int = 0
    versions: int = 0
    events: int = 0
    quarantine_rows: int = 0
    deliveries: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def cleared(table: str) -> str:
    """The `select * replace (…)` list that clears a table's personal columns."""
    position = ("resident_version", "event").index(table)
    return ", ".join(f"{values[position]} as {column}" for column, values in ERASED.items()
                     if values[position] is not None)


def today() -> dt.date:
    """Today in Asia/Tokyo, the city's calendar."""
    return dt.datetime.now(TOKYO).date()


def plan_erasure(con: duckdb.DuckDBPyConnection, as_of: dt.date, years: int = YEARS,
                 quarantine_days: int = QUARANTINE_DAYS) -> Erasure:
    """What an erasure as of `as_of` would clear: residents, their versions and events, refused rows, deliveries."""
    _check(years, quarantine_days)
    params = {"as_of": as_of, "years": years, "quarantine_days": quarantine_days}
    ((residents, versions, events),) = con.execute(
        f"select count(*), coalesce(sum(versions), 0), coalesce(sum(events), 0) from ({_sql('residents_to_erase')})",
        _used(_sql("residents_to_erase"), params)).fetchall()
    ((rows, deliveries),) = con.execute(
        f"select coalesce(sum(rows), 0), count(*) from ({_sql('deliveries_to_purge')})",
        _used(_sql("deliveries_to_purge"), params)).fetchall()
    return Erasure(residents, int(versions), int(events), int(rows), deliveries)


def erase(con: duckdb.DuckDBPyConnection, as_of: dt.date, years: int = YEARS, quarantine_days: int = QUARANTINE_DAYS,
          run_id: str = "retention") -> Erasure:
    """Erase in ONE transaction: clear the personal columns of the residents due, tombstone each, purge the raw
    text of refused rows past the quarantine period and log it per delivery. A second call erases nothing more."""
    _check(years, quarantine_days, erasing=True)
    params = {"as_of": as_of, "years": years, "quarantine_days": quarantine_days}
    done = {"run_id": run_id, "as_of": as_of, "at": daily.utc_now()}
    con.execute("begin transaction")
    try:
        for table, name in (("erasing", "residents_to_erase"), ("purging", "deliveries_to_purge")):
            con.execute(f"create or replace temp table {table} as {_sql(name)}", _used(_sql(name), params))
        ((residents, versions, events),) = con.execute(
            "select count(*), coalesce(sum(versions), 0), coalesce(sum(events), 0) from erasing").fetchall()
        ((rows, deliveries),) = con.execute("select coalesce(sum(rows), 0), count(*) from purging").fetchall()
        erasure = Erasure(residents, int(versions), int(events), int(rows), deliveries)
        con.execute("insert into erased_resident (resident_code, removed_on, as_of, years, versions, events, run_id, "
                    "erased_at) select resident_code, removed_on, $as_of, $years, versions, events, $run_id, $at "
                    "from erasing", done | {"years": years})
        for table in ("resident_version", "event"):
            _run(con, "erase_rows", cleared=cleared(table), table=table)
        con.execute("insert into quarantine_purge (run_id, delivery_no, file_name, business_date, rows, as_of, "
                    "quarantine_days, purged_at) select $run_id, delivery_no, file_name, business_date, rows, $as_of, "
                    "$days, $at from purging", done | {"days": quarantine_days})
        _run(con, "purge_quarantine", run_id=run_id)
        broken = broken_invariants(con)
        if broken:
            raise RetentionError(f"the erasure as of {as_of} would break the register's invariants "
                                 f"({', '.join(f'{name}: {n}' for name, n in broken.items())}); nothing was erased")
        con.execute("drop table erasing")
        con.execute("drop table purging")
        con.execute("commit")
    except RetentionError:
        con.execute("rollback")
        raise
    except duckdb.Error as exc:
        con.execute("rollback")
        raise RetentionError(f"the erasure as of {as_of} failed and nothing was erased: {_safe(exc)}") from None
    return erasure


# --- the run ledger (the flow and the replay write the same rows) ----------------------------------

def parameters(as_of: dt.date, years: int, quarantine_days: int, dry_run: bool, store: str) -> dict:
    """The run's parameters as the run ledger keeps them: what the replay needs to erase alike."""
    return {"as_of": as_of.isoformat(), "years": years, "quarantine_days": quarantine_days, "dry_run": dry_run,
            "store": store}


def record_start(con: duckdb.DuckDBPyConnection, run_id: str, recorded: dict) -> None:
    """The run's run-ledger row, status running."""
    daily.record_start(con, run_id, recorded, flow_name=FLOW_NAME)


def record_finish(con: duckdb.DuckDBPyConnection, run_id: str, status: str, erasure: Erasure | None,
                  dry_run: bool = False) -> str:
    """Close the run's row: status, the counts, and the register digest after the run (returned)."""
    digest = refresh_register_digest(con)  # an erasure is not a batch: the kept sums are recomputed
    outputs = {"would_erase" if dry_run else "erased": erasure.as_dict() if erasure else None}
    con.execute("update run_ledger set status = $s, finished_at = $t, outputs = $o, input_sha256 = $i, "
                "register_sha256 = $g where run_id = $r",
                {"s": status, "t": daily.utc_now(), "o": json.dumps(outputs), "i": [], "g": digest, "r": run_id})
    chain.seal(con, run_id)  # the run's last ledger write, as for a daily run
    return digest


def replayable(ledger_row: dict) -> bool:
    """A retention run the replay must repeat: completed and not a dry run (a failed one erased nothing)."""
    recorded = ledger_row.get("parameters") or {}
    return (ledger_row["flow_name"] == FLOW_NAME and ledger_row["status"] == "completed"
            and not recorded.get("dry_run", False))


def rerun(con: duckdb.DuckDBPyConnection, run_id: str, recorded: dict) -> tuple[str, str]:
    """A recorded retention run again, without Prefect, with its parameters and run id: (status, register digest)."""
    record_start(con, run_id, recorded)
    try:
        erasure, status = erase(con, dt.date.fromisoformat(recorded["as_of"]), int(recorded["years"]),
                                int(recorded["quarantine_days"]), run_id), "completed"
    except RetentionError:
        erasure, status = None, "failed"
    return status, record_finish(con, run_id, status, erasure)


def erased_after(con: duckdb.DuckDBPyConnection, moment: dt.datetime) -> tuple[str, ...]:
    """Residents erased after `moment` (UTC): their rows as the register knew them then are gone by design."""
    if not has_table(con, "erased_resident"):
        return ()
    rows = con.execute("select resident_code from erased_resident where erased_at > $t order by resident_code",
                       {"t": moment}).fetchall()
    return tuple(code for (code,) in rows)


def digest_without(con: duckdb.DuckDBPyConnection, residents: tuple[str, ...],
                   known_at: dt.datetime | None = None) -> str:
    """The register digest (tasks/audit.register_digest) over every resident but these."""
    return register_digest(con, known_at, full=True, without=residents)


# --- words ---------------------------------------------------------------------------------------

def summary(erasure: Erasure, as_of: dt.date, years: int, quarantine_days: int, dry_run: bool) -> str:
    """One sentence of counts for the command line and the run's state."""
    verb = "would erase" if dry_run else "erased"
    return (f"As of {as_of}, retention {verb} {erasure.residents} removed record(s) (除票) removed before "
            f"{_cutoff(as_of, years)} ({erasure.versions} version(s), {erasure.events} event(s)) and "
            f"{'would purge' if dry_run else 'purged'} the raw text of {erasure.quarantine_rows} refused row(s) "
            f"from {erasure.deliveries} delivery(ies) dated before "
            f"{as_of - dt.timedelta(days=quarantine_days)}.")


def summary_markdown(erasure: Erasure, as_of: dt.date, years: int, quarantine_days: int, dry_run: bool) -> str:
    """The retention artifact: the rule applied and the counts, no personal data."""
    head = "would go (dry run: nothing was changed)" if dry_run else "erased"
    rows = (("residents (除票) erased, one tombstone each", erasure.residents),
            ("record versions cleared", erasure.versions),
            ("events cleared", erasure.events),
            ("refused rows whose raw text was purged", erasure.quarantine_rows),
            ("deliveries those rows came in", erasure.deliveries))
    lines = [f"# Retention as of {as_of}{' (dry run)' if dry_run else ''}", "",
             summary(erasure, as_of, years, quarantine_days, dry_run), "",
             f"Rule: a removed record is erased more than {years} year(s) after its removal; the raw text of a "
             f"refused row more than {quarantine_days} day(s) after its delivery's business date. Kept: resident "
             "codes, version numbers, dates on both axes, statuses, event ids and types, and one tombstone per "
             "erased resident.", "",
             f"| what | {head} |", "|---|---:|"]
    lines += [f"| {what} | {n} |" for what, n in rows]
    return "\n".join(lines) + "\n"


def _cutoff(as_of: dt.date, years: int) -> dt.date:
    try:
        return as_of.replace(year=as_of.year - years)
    except ValueError:  # 29 February in a common year: DuckDB's to_years gives 28 February too
        return as_of.replace(year=as_of.year - years, day=28)


def _check(years: int, quarantine_days: int, erasing: bool = False) -> None:
    if years < 1 or quarantine_days < 0:
        raise RetentionError(f"a retention of {years} year(s) and a quarantine period of {quarantine_days} day(s) "
                             "make no sense: years must be at least 1 and days at least 0")
    if erasing and years < YEARS:  # a shorter period may be counted (a dry run), never erased
        raise RetentionError(f"a retention of {years} year(s) is shorter than the {YEARS} years a removed record "
                             "must be kept; nothing was erased")


def _sql(name: str) -> str:
    return (RETENTION_SQL / f"{name}.sql").read_text(encoding="utf-8")


def _used(text: str, params: dict) -> dict | None:
    return {k: v for k, v in params.items() if f"${k}" in text} or None


def _run(con: duckdb.DuckDBPyConnection, name: str, cleared: str = "", table: str = "", **params) -> None:
    """A .sql file of this folder statement by statement, with the table and cleared-column list filled in."""
    text = "\n".join(line for line in _sql(name).splitlines() if not line.lstrip().startswith("--"))
    for statement in text.replace("{cleared}", cleared).replace("{table}", table).split(";"):
        if statement.strip():
            con.execute(statement, _used(statement, params))


def _safe(exc: Exception) -> str:
    # DuckDB error texts quote key values; never let a number of 6+ digits through.
    return re.sub(r"\d{6,}", "…", str(exc).splitlines()[0])
