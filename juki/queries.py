"""Read-only questions to the register for the command line: quarantine listings and one person."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb

from juki_core.store import has_table
from schemas.change_file import ADDING, mask_my_number
from tasks.heads import household_head
from tasks.summary import BeforeRegister, check_known, person_key

# read here, not through tasks.apply, which would import polars and pyarrow into every read command
PERSON_VERSIONS = Path(__file__).resolve().parent.parent / "tasks" / "sql" / "person_versions.sql"

SHOWN_DATES = ("valid_from", "valid_to")
HIDDEN = ("recorded_from", "recorded_to", "resident_code")


def dicts(relation: duckdb.DuckDBPyRelation) -> list[dict]:
    """The rows of a relation as dicts of Python values (what polars' to_dicts gave, without polars)."""
    return [dict(zip(relation.columns, row)) for row in relation.fetchall()]


def quarantine_rows(con: duckdb.DuckDBPyConnection, file: str | None = None) -> list[dict]:
    """Refused rows: file, line, event_id, resident_code and rule ids; never the row's values."""
    where = "where file_name = $file" if file else ""
    return dicts(con.sql(
        f"select file_name as file, line, event_id, resident_code, rule_ids as rules from quarantine {where} "
        "order by delivery_no, line", params={"file": file} if file else None))


def show(con: duckdb.DuckDBPyConnection, resident_code: str, day: dt.date,
         known_at: dt.datetime | None = None) -> dict:
    """One person on a day: status, the record (My Number masked) and the version history."""
    if not re.fullmatch(r"\d{11}", resident_code):
        raise BeforeRegister(f"{resident_code!r} is not a resident code (11 digits)")
    check_known(con, day)
    person = person_key(con, resident_code)
    versions = dicts(con.sql(PERSON_VERSIONS.read_text(encoding="utf-8"),
                             params={"resident_code": person, "known_at": known_at}))
    history = _with_foreign_resident_since([_public(v) for v in versions])
    on_day = [v for v in history if v["valid_from"] <= day and (v["valid_to"] is None or v["valid_to"] > day)]
    record = on_day[-1] if on_day else None
    shown = {"resident_code": resident_code, "status": record["status"] if record else "unknown",
             "record": record, "history": history}
    shown |= resident_codes(person, history, resident_code)
    if record and record["status"] == "current" and record.get("household_id") and known_at is None:
        # the head as the register knows it now (declared, or the only member 職権: tasks/sql/household_heads.sql)
        shown["household_head"] = household_head(con, record["household_id"], day)
    erased = _erasure(con, person)
    if erased:
        shown["erased"] = erased
    return shown


def resident_codes(person: str, history: list[dict], asked: str) -> dict:
    """The person's 住民票コード when one was changed (住民票コードの変更): each with its first day, and whether the
    code asked for has been replaced."""
    held = [{"resident_code": person, "since": None}] + [
        {"resident_code": v.get("new_resident_code"), "since": v["valid_from"]} for v in history
        if v["event_type"] == "RESIDENT_CODE_CHANGE"]
    if len(held) == 1:
        return {}
    at = next(i for i, h in enumerate(held) if h["resident_code"] == asked)
    found = {"resident_codes": held, "current_resident_code": held[-1]["resident_code"]}
    if at + 1 < len(held):
        found["code_changed"] = {"replaced_on": held[at + 1]["since"], "by": held[at + 1]["resident_code"]}
    return found


def _with_foreign_resident_since(history: list[dict]) -> list[dict]:
    """外国人住民となった年月日 on each foreign version: the day a 国籍喪失 (NATIONALITY_CHANGE from JP) made the
    person foreign, else the day they became a resident; derived, so the stored register (and its digests) keep
    their version-1 shape."""
    since, before = None, None
    for v in history:
        if v["nationality"] in (None, "JP"):  # Japanese, or erased under retention
            since = None
        elif v["event_type"] in ADDING:
            since = v["resident_since"]
        elif before == "JP":
            since = v["valid_from"]
        v["foreign_resident_since"] = since
        before = v["nationality"]
    return history


def _erasure(con: duckdb.DuckDBPyConnection, resident_code: str) -> dict | None:
    # the tombstone says why the record is blank: erased under the retention rule, not lost
    if not has_table(con, "erased_resident"):
        return None
    found = dicts(con.sql("select removed_on, as_of, years, run_id, erased_at from erased_resident "
                          "where resident_code = $c", params={"c": resident_code}))
    return found[0] if found else None


def _public(version: dict) -> dict:
    shown = {k: v for k, v in version.items() if k not in HIDDEN}
    shown["my_number"] = mask_my_number(shown["my_number"])
    return shown


def show_text(shown: dict) -> str:
    """A person as readable lines."""
    lines = [f"resident_code  {shown['resident_code']}", f"status         {shown['status']}"]
    changed = shown.get("code_changed")
    if changed:
        lines.append(f"code changed   this 住民票コード was replaced on {changed['replaced_on']} by {changed['by']}; "
                     f"the current code is {shown['current_resident_code']}")
    if shown.get("resident_codes"):
        lines.append("codes          " + ", ".join(
            h["resident_code"] + (f" (from {h['since']})" if h["since"] else "") for h in shown["resident_codes"]))
    erased = shown.get("erased")
    if erased:
        lines.append(f"erased         {erased['erased_at']:%Y-%m-%d} UTC by retention run {erased['run_id']} (removed "
                     f"{erased['removed_on']}, more than {erased['years']} years before {erased['as_of']}); "
                     "personal columns cleared")
    head = shown.get("household_head")
    if head:
        basis = "職権, the only member" + (f" since {head['by_authority_since']}" if head["by_authority_since"] else "") \
            if head["head_basis"] == "by_authority" else "declared"
        lines.append(f"household head {head['head_resident_code']} {head['head_name']} ({basis})")
    record = shown["record"]
    if record:
        lines.append("record:")
        lines += [f"  {k:<26} {v}" for k, v in record.items() if v is not None]
    lines.append("history:")
    for v in shown["history"]:
        until = v["valid_to"] or "…"
        lines.append(f"  {v['version_no']:>3}  {v['valid_from']} → {until}  {v['event_type']:<24} "
                     f"{v['status']:<8} {v['event_id']}")
    if not shown["history"]:
        lines.append("  (the register knows no such person)")
    return "\n".join(lines)
