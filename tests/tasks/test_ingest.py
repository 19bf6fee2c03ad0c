"""Ingesting small inline change files through every stage (tasks/ingest.py) into a fresh register."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
from pathlib import Path

import polars as pl
import pytest

from juki.cli import main
from schemas.change_file import COLUMNS, EVENT_TYPES
from tasks.ingest import ingest_file
from tasks.summary import residents_on
from tests.builders import csv_text, event, foreigner, my_number, person, resident_code, write_file
from tests.conftest import Register

R = resident_code
BASELINE_DATE = "2026-04-01"


def baseline_row(record: dict, event_id: str | None = None) -> dict:
    """A BASELINE row for a full record, resident since 2020."""
    n = int(record["resident_code"][:10])
    return event(event_id or f"base{n}", "BASELINE", "2020-01-01", BASELINE_DATE, **record)


# The city every test but a few starts from: the BASELINE file of 2026-04-01 with 12 residents,
# Japanese persons 1-3 and 6-12 and the foreign residents 4 and 5.
CITY = ([person(n) for n in (1, 2, 3)] + [foreigner(4), foreigner(5, residence_card_no="XY00000005ZZ")]
        + [person(n) for n in range(6, 13)])


@pytest.fixture(scope="module")
def city_snapshot(tmp_path_factory) -> Path:
    """The CITY baseline ingested once per module into a closed store."""
    root = tmp_path_factory.mktemp("city")
    reg = Register(root)
    try:
        (outcome,) = reg.ingest(write_file(reg.inbox, BASELINE_DATE, [baseline_row(r) for r in CITY]))
        assert (outcome.status, outcome.rows_applied) == ("applied", len(CITY)), reg.quarantine()
    finally:
        reg.con.close()
    return root


@pytest.fixture
def city(city_snapshot: Path, tmp_path: Path):
    """A fresh register holding the CITY baseline (a copy of the module's snapshot)."""
    for path in city_snapshot.glob("registry.duckdb*"):
        shutil.copy(path, tmp_path / path.name)
    shutil.copytree(city_snapshot / "archive", tmp_path / "archive")
    reg = Register(tmp_path)
    yield reg
    reg.con.close()


def ingest_rows(register, business_date: str, rows: list[dict], **kwargs):
    """Write one day's file and ingest it; its outcome."""
    (outcome,) = register.ingest(write_file(register.inbox, business_date, rows), **kwargs)
    return outcome


def day(value: str) -> dt.date:
    """An ISO date."""
    return dt.date.fromisoformat(value)


def table_counts(register) -> dict[str, int]:
    """Row counts of the register's tables that a file may change."""
    return {t: register.rows(f"select count(*) from {t}")[0][0]
            for t in ("event", "resident_version", "quarantine")}


def move(n: int, event_id: str, effective: str, notified: str | None = None, **columns) -> dict:
    """A MOVE_WITHIN of person n to town 0002."""
    return event(event_id, "MOVE_WITHIN", effective, notified, resident_code=R(n),
                 **{"town_code": "0002", "address_line": "9-9", **columns})


def support(n: int, event_id: str, effective: str, value: str = "1") -> dict:
    """A SUPPORT_MEASURE row of person n."""
    return event(event_id, "SUPPORT_MEASURE", effective, resident_code=R(n), support_measure=value)


def cancel(n: int, event_id: str, effective: str, target: str) -> dict:
    """A CANCEL row of person n."""
    return event(event_id, "CANCEL", effective, resident_code=R(n), cancels_event_id=target)


def ledger(register) -> list[tuple]:
    """The file ledger: (file_name, status, read, applied, quarantined, skipped, reason)."""
    return register.rows("select file_name, status, rows_read, rows_applied, rows_quarantined, rows_skipped, "
                         "reason from file_ledger order by delivery_no")


# --- every event type -----------------------------------------------------------------------

def test_every_event_type_is_applied(city):
    """One file with each event type: all rows applied, each record changed as the type says."""
    d = "2026-04-02"
    rows = [
        event("n1", "BIRTH", d, **person(20, birth_date=d, relationship="子", household_id="H1")),
        event("n2", "MOVE_IN", d, **person(21), prev_address="東京都千代田区"),
        event("n3", "RETURN_FROM_ABROAD", d, **person(22), prev_address="アメリカ合衆国"),
        event("n4", "ENTRY_BY_AUTHORITY", d, **person(23)),
        move(1, "n5", d),
        event("n6", "HOUSEHOLD_CHANGE", d, resident_code=R(2), household_id="H1", relationship="妻"),
        event("n7", "NAME_CHANGE", d, resident_code=R(3), family_name="山田", given_name="花子",
              family_name_kana="ヤマダ", given_name_kana="ハナコ"),
        event("n8", "STATUS_CHANGE", d, resident_code=R(4), foreign_resident_category="SPECIAL_PERMANENT",
              residence_card_no="ZZ87654321YY"),
        event("n9", "NATIONALITY_CHANGE", d, resident_code=R(5), nationality="JP", honseki="埼玉県川口市",
              hittousha="王　偉"),
        support(6, "n10", d),
        event("n11", "CORRECTION_BY_AUTHORITY", d, resident_code=R(7), sex="2"),
        event("n12", "MOVE_OUT", d, resident_code=R(8), dest_address="東京都千代田区"),
        event("n13", "MOVE_ABROAD", d, resident_code=R(9), dest_address="フランス"),
        event("n14", "DEATH", d, resident_code=R(10)),
        event("n15", "REMOVAL_BY_AUTHORITY", d, resident_code=R(11)),
        support(12, "n16", d),
        cancel(12, "n17", d, "n16"),
        event("n18", "MOVE_OUT_CONFIRMED", d, resident_code=R(8), dest_address="東京都千代田区永田町1-1"),
        event("n19", "RESIDENT_CODE_CHANGE", d, resident_code=R(3), new_resident_code=R(303)),
    ]
    outcome = ingest_rows(city, d, rows)
    assert (outcome.status, outcome.rows_read, outcome.rows_applied, outcome.rows_quarantined) == \
        ("applied", 19, 19, 0), city.quarantine()
    types = {t for (t,) in city.rows("select distinct event_type from event")}
    assert types == set(EVENT_TYPES)

    def rec(n: int) -> dict:
        return city.current(R(n), d)

    for n in (20, 21, 22, 23):
        assert rec(n)["status"] == "current" and rec(n)["resident_since"] == day(d)
    assert rec(22)["prev_address"] == "アメリカ合衆国"
    assert (rec(1)["town_code"], rec(1)["address_line"], rec(1)["address_since"]) == ("0002", "9-9", day(d))
    assert (rec(2)["household_id"], rec(2)["relationship"]) == ("H1", "妻")
    assert (rec(3)["family_name"], rec(3)["new_resident_code"]) == ("山田", R(303))
    assert (rec(4)["foreign_resident_category"], rec(4)["residence_status"]) == ("SPECIAL_PERMANENT", None)
    assert (rec(5)["nationality"], rec(5)["residence_card_no"], rec(5)["honseki"]) == ("JP", None, "埼玉県川口市")
    assert rec(6)["support_measure"] is True
    assert rec(7)["sex"] == "2"
    assert [rec(n)["status"] for n in (8, 9, 10, 11)] == ["removed"] * 4
    assert rec(9)["dest_address"] == "フランス"
    assert rec(8)["dest_address"] == "東京都千代田区永田町1-1"  # 転出確定 replaced the plan n12
    assert rec(12)["support_measure"] is False
    assert residents_on(city.con, day(d)) == 12 + 4 - 4


def test_fast_and_replayed_first_versions_agree(city):
    """A person added alone and one added with a later same-file row get the same first version."""
    d = "2026-04-02"
    a = foreigner(30, alias_name="王偉", support_measure="1")
    b = foreigner(31, alias_name="王偉", support_measure="1")
    outcome = ingest_rows(city, d, [event("a", "MOVE_IN", d, **a, prev_address="中国"),
                                    event("b", "MOVE_IN", d, **b, prev_address="中国"),
                                    support(31, "y2", "2026-04-02", "0")])
    assert outcome.rows_applied == 3, city.quarantine()
    differ = {"resident_code", "my_number", "household_id", "event_id", "valid_to", "recorded_from"}
    va, vb = (version_one(city, R(n)) for n in (30, 31))
    assert city.current(R(31), d)["version_no"] == 2
    assert {k: v for k, v in va.items() if k not in differ} == {k: v for k, v in vb.items() if k not in differ}


def version_one(register, code: str) -> dict:
    """Version 1 of a person, as the register knows it now."""
    cur = register.con.execute("select * from resident_version where resident_code = ? and version_no = 1 "
                               "and recorded_to is null", [code])
    names = [c[0] for c in cur.description]
    (row,) = cur.fetchall()
    return dict(zip(names, row))


# --- state rules ----------------------------------------------------------------------------

def test_duplicate_event_id_in_the_ledger_and_in_the_file(city):
    """An id applied before and the second use of an id within the file are DUPLICATE_EVENT_ID."""
    d = "2026-04-02"
    outcome = ingest_rows(city, d, [move(1, "base2", d), move(2, "x", d), support(3, "x", d),
                                    support(2, "ok2", d), event("ok4", "BIRTH", d, **person(40, birth_date=d))])
    assert city.quarantine() == {2: ["DUPLICATE_EVENT_ID"], 4: ["DUPLICATE_EVENT_ID"]}
    assert outcome.rows_applied == 3, city.quarantine()
    assert city.rows("select event_type from event where event_id = 'x'") == [("MOVE_WITHIN",)]


def test_only_baseline_before_the_first_baseline_file(register):
    """Rows other than BASELINE in the first BASELINE file are BASELINE_FIRST; afterwards they are accepted."""
    rows = [baseline_row(person(1)), baseline_row(person(2)), move(1, "m1", BASELINE_DATE)]
    outcome = ingest_rows(register, BASELINE_DATE, rows)
    assert register.quarantine() == {4: ["BASELINE_FIRST"]}
    assert outcome.rows_applied == 2
    ingest_rows(register, "2026-04-02", [move(1, "m1", "2026-04-02")])
    assert register.quarantine() == {}
    assert register.current(R(1), "2026-04-02")["town_code"] == "0002"


def test_person_rules(city):
    """PERSON_ALREADY_KNOWN, _ALREADY_CURRENT, _NOT_CURRENT and _NOT_FOREIGN refuse rows; the good rows apply."""
    d = "2026-04-02"
    rows = [
        event("k", "BIRTH", d, **person(1, birth_date=d)),
        event("c", "MOVE_IN", d, **person(2), prev_address="東京都"),
        event("u", "DEATH", d, resident_code=R(90)),
        event("f", "STATUS_CHANGE", d, resident_code=R(3), foreign_resident_category="BIRTH_TRANSITION"),
        event("s", "STATUS_CHANGE", d, resident_code=R(4), foreign_resident_category="BIRTH_TRANSITION"),
        move(4, "m4", d), event("i", "MOVE_IN", d, **person(40), prev_address="東京都"), move(40, "m40", d),
    ]
    outcome = ingest_rows(city, d, rows)
    assert city.quarantine() == {2: ["PERSON_ALREADY_KNOWN"], 3: ["PERSON_ALREADY_CURRENT"],
                                 4: ["PERSON_NOT_CURRENT"], 5: ["PERSON_NOT_FOREIGN"]}
    assert (outcome.status, outcome.rows_applied, outcome.rows_quarantined) == ("applied", 4, 4)
    assert city.current(R(4), d)["foreign_resident_category"] == "BIRTH_TRANSITION"
    assert city.current(R(40), d)["town_code"] == "0002"
    assert city.current(R(90), d) is None
    assert city.rows("select count(*) from event where event_id in ('k', 'c', 'u', 'f')") == [(0,)]


def test_cancel_target_rules(city):
    """CANCEL_TARGET_UNKNOWN, _OTHER_PERSON, _CANCELLED and _IS_CANCEL."""
    ingest_rows(city, "2026-04-02", [support(1, "s1", "2026-04-02"), cancel(1, "c1", "2026-04-02", "s1"),
                                     support(3, "s3", "2026-04-02"), cancel(3, "c3", "2026-04-02", "s3")])
    assert city.quarantine() == {}
    d = "2026-04-03"
    outcome = ingest_rows(city, d, [
        cancel(4, "x1", d, "no-such-event"),   # line 2
        cancel(2, "x2", d, "base1"),           # line 3: person 1's BASELINE
        cancel(1, "x3", d, "s1"),              # line 4: cancelled by c1
        cancel(3, "x4", d, "c3"),              # line 5: a CANCEL
        support(5, "ok5", d), support(6, "ok6", d), move(5, "m5", d), move(6, "m6", d),
    ])
    assert city.quarantine() == {2: ["CANCEL_TARGET_UNKNOWN"], 3: ["CANCEL_TARGET_OTHER_PERSON"],
                                 4: ["CANCEL_TARGET_CANCELLED"], 5: ["CANCEL_TARGET_IS_CANCEL"]}
    assert outcome.rows_applied == 4
    assert city.rows("select event_id, cancelled_by from event where event_id in ('base1', 's1', 'c3') "
                     "order by event_id") == [("base1", None), ("c3", None), ("s1", "c1")]


def test_an_id_both_re_sent_and_cancelled_in_one_file_is_judged_once(city):
    """A stored id the file re-sends and also names as a CANCEL target is one event (looked up by both kinds)."""
    from tasks.apply import state_violations

    ingest_rows(city, "2026-04-02", [support(1, "s1", "2026-04-02"), support(2, "s2", "2026-04-02")])
    d = "2026-04-03"
    rows = pl.DataFrame([move(1, "s1", d), cancel(1, "c9", d, "s1"), cancel(2, "c8", d, "s1"),
                         cancel(2, "c7", d, "zz-no-such-event"), cancel(1, "a0", d, "base1")]).with_row_index(
        "line", offset=2).with_columns(pl.col("line").cast(pl.Int64))
    assert sorted(state_violations(city.con, rows).iter_rows()) == [
        (2, "DUPLICATE_EVENT_ID"), (4, "CANCEL_TARGET_OTHER_PERSON"), (5, "CANCEL_TARGET_UNKNOWN")]


def test_cancel_target_cancelled_earlier_in_the_same_file(city):
    """A second CANCEL of the same target in one file is CANCEL_TARGET_CANCELLED."""
    d = "2026-04-02"
    ingest_rows(city, d, [support(1, "s1", d), cancel(1, "c1", d, "s1"), cancel(1, "c2", d, "s1"),
                          support(2, "s2", d)])
    assert city.quarantine() == {4: ["CANCEL_TARGET_CANCELLED"]}


def test_cancel_of_another_persons_event_in_the_same_file(city):
    """Cancelling another resident's event from earlier in the file is CANCEL_TARGET_OTHER_PERSON."""
    d = "2026-04-02"
    ingest_rows(city, d, [support(1, "s1", d), cancel(2, "c1", d, "s1"), support(3, "s3", d)])
    assert city.quarantine() == {3: ["CANCEL_TARGET_OTHER_PERSON"]}


def test_cancel_of_a_cancel_in_the_same_file(city):
    """Cancelling a CANCEL from earlier in the same file is CANCEL_TARGET_IS_CANCEL."""
    d = "2026-04-02"
    ingest_rows(city, d, [support(1, "s1", d), cancel(1, "c1", d, "s1"), cancel(1, "c2", d, "c1"),
                          support(2, "s2", d), support(3, "s3", d)])
    assert city.quarantine() == {4: ["CANCEL_TARGET_IS_CANCEL"]}


def test_late_event_conflict(city):
    """A death dated before an applied move is LATE_EVENT_CONFLICT and changes nothing."""
    ingest_rows(city, "2026-04-10", [move(1, "m1", "2026-04-10")])
    versions_before = city.rows(f"select version_no, valid_from, valid_to, status from resident_version "
                                f"where resident_code = '{R(1)}' and recorded_to is null order by 1")
    outcome = ingest_rows(city, "2026-04-12", [event("x1", "DEATH", "2026-04-05", "2026-04-12",
                                                     resident_code=R(1)), support(2, "s2", "2026-04-12")])
    assert city.quarantine() == {2: ["LATE_EVENT_CONFLICT"]}
    assert outcome.rows_applied == 1
    assert city.rows(f"select version_no, valid_from, valid_to, status from resident_version "
                     f"where resident_code = '{R(1)}' and recorded_to is null order by 1") == versions_before


def test_cancel_breaks_history(city):
    """Cancelling a MOVE_OUT that a later MOVE_IN depends on is CANCEL_BREAKS_HISTORY."""
    ingest_rows(city, "2026-04-05", [
        event("o1", "MOVE_OUT", "2026-04-02", "2026-04-02", resident_code=R(1), dest_address="東京都"),
        event("i1", "MOVE_IN", "2026-04-05", **person(1, address_line="5-5"), prev_address="東京都")])
    assert city.quarantine() == {}
    outcome = ingest_rows(city, "2026-04-06", [cancel(1, "c1", "2026-04-06", "o1"),
                                               support(2, "s2", "2026-04-06")])
    assert city.quarantine() == {2: ["CANCEL_BREAKS_HISTORY"]}
    assert outcome.rows_applied == 1
    assert city.rows("select cancelled_by from event where event_id = 'o1'") == [(None,)]
    assert city.current(R(1), "2026-04-03")["status"] == "removed"


def test_later_rows_of_a_refused_resident_depend_on_it(city):
    """After a refused row, later rows of that resident are DEPENDS_ON_REFUSED_ROW; earlier rows and others apply."""
    d = "2026-04-02"
    outcome = ingest_rows(city, d, [
        support(1, "a1", d),                                                  # line 2: applied
        move(1, "a2", d, town_code="9999"),                                   # line 3: TOWN_CODE_UNKNOWN
        event("a3", "HOUSEHOLD_CHANGE", d, resident_code=R(1), household_id="H2", relationship="子"),
        support(1, "a4", d, "0"),                                             # line 5
        move(2, "b1x", d),                                                    # line 6: other person
        move(3, "c1", d), support(3, "c2", d), support(2, "b2", d),
    ])
    assert city.quarantine() == {3: ["TOWN_CODE_UNKNOWN"], 4: ["DEPENDS_ON_REFUSED_ROW"],
                                 5: ["DEPENDS_ON_REFUSED_ROW"]}
    assert outcome.rows_applied == 5
    record = city.current(R(1), d)
    assert record["support_measure"] is True and record["household_id"] == "H1" and record["town_code"] == "0001"


def test_state_refusal_then_depends(city):
    """A state refusal also makes the resident's later rows DEPENDS_ON_REFUSED_ROW, keeping their own reasons."""
    d = "2026-04-02"
    ingest_rows(city, d, [
        event("x1", "STATUS_CHANGE", d, resident_code=R(1), foreign_resident_category="BIRTH_TRANSITION"),
        move(1, "x2", d, sex="9"),
        support(2, "ok2", d), support(3, "ok3", d),
    ])
    assert city.quarantine() == {2: ["PERSON_NOT_FOREIGN"], 3: ["DEPENDS_ON_REFUSED_ROW", "SEX_CODE_INVALID"]}


def test_a_row_with_two_problems_keeps_both(city):
    """A row breaking two row rules, and one breaking a row and a state rule, keep every rule id."""
    d = "2026-04-02"
    ingest_rows(city, d, [
        event("t1", "BIRTH", d, **person(40, birth_date=d, sex="9", town_code="9999")),
        move(1, "base2", d, address_line="x" * 81),
        support(2, "ok2", d), support(3, "ok3", d),
    ])
    assert city.quarantine() == {2: ["SEX_CODE_INVALID", "TOWN_CODE_UNKNOWN"],
                                 3: ["DUPLICATE_EVENT_ID", "TEXT_TOO_LONG"]}
    (messages,) = city.rows("select messages from quarantine where line = 2")[0]
    assert len(messages) == 2 and all(re.match(r"^[A-Z_]+: ", m) for m in messages)


def test_private_use_and_field_count_are_row_refusals(city):
    """A 外字 row and a row with a wrong field count are quarantined; the rest of the file is applied."""
    d = "2026-04-02"
    text = csv_text([move(1, "p1", d, address_line="1-\ue0002"), support(2, "f1", d), support(3, "ok3", d),
                     move(3, "ok4", d)])
    lines = text.splitlines()
    lines[2] += ",surplus"
    path = city.inbox / "112038_changes_20260402.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    (outcome,) = city.ingest(path)
    quarantine = city.quarantine()
    assert quarantine[2] == ["PRIVATE_USE_CHARACTER"]
    assert quarantine[3][0] == "ROW_FIELD_COUNT"
    assert set(quarantine) == {2, 3}
    assert (outcome.status, outcome.rows_applied) == ("applied", 2)


# --- CANCEL ---------------------------------------------------------------------------------

def test_cancel_restores_the_register_and_the_ledger_keeps_both(city):
    """After a CANCEL the register is as if the event never happened; the event keeps cancelled_by."""
    ingest_rows(city, "2026-04-02", [move(1, "m1", "2026-04-02")])
    assert city.current(R(1), "2026-04-05")["town_code"] == "0002"
    ingest_rows(city, "2026-04-03", [cancel(1, "c1", "2026-04-03", "m1")])
    assert city.quarantine() == {}
    assert city.rows("select event_id, event_type, cancelled_by from event where resident_code = $c "
                     "order by event_id", c=R(1)) == [
        ("base1", "BASELINE", None), ("c1", "CANCEL", None), ("m1", "MOVE_WITHIN", "c1")]
    assert city.rows("select version_no, event_id, valid_from, valid_to from resident_version "
                     "where resident_code = $c and recorded_to is null", c=R(1)) == [
        (1, "base1", day("2020-01-01"), None)]
    assert city.current(R(1), "2026-04-05")["town_code"] == "0001"


def test_planned_move_out_and_its_cancellation(city):
    """A planned MOVE_OUT keeps the person current until its date; cancelling it keeps them current."""
    ingest_rows(city, "2026-04-02", [event("o1", "MOVE_OUT", "2026-04-10", "2026-04-02",
                                           resident_code=R(1), dest_address="東京都")])
    assert city.quarantine() == {}
    assert city.current(R(1), "2026-04-09")["status"] == "current"
    assert city.current(R(1), "2026-04-10")["status"] == "removed"
    assert residents_on(city.con, day("2026-04-09")) == 12
    assert residents_on(city.con, day("2026-04-10")) == 11
    ingest_rows(city, "2026-04-03", [cancel(1, "c1", "2026-04-03", "o1")])
    assert city.quarantine() == {}
    assert city.current(R(1), "2026-04-10")["status"] == "current"
    assert residents_on(city.con, day("2026-04-10")) == 12
    assert city.rows("select cancelled_by from event where event_id = 'o1'") == [("c1",)]


def test_cancel_in_the_same_file_as_its_target(city):
    """A target and its CANCEL in one file: both in the ledger, the target marked, no trace in the record."""
    d = "2026-04-02"
    outcome = ingest_rows(city, d, [support(1, "s1", d), cancel(1, "c1", d, "s1")])
    assert (outcome.rows_applied, outcome.rows_quarantined) == (2, 0)
    assert city.rows("select event_id, cancelled_by from event where event_id in ('s1', 'c1') "
                     "order by event_id") == [("c1", None), ("s1", "c1")]
    assert city.current(R(1), d)["support_measure"] is False
    assert city.rows("select count(*) from resident_version where event_id = 's1' and recorded_to is null"
                     ) == [(0,)]


# --- late events and the recorded-at axis ---------------------------------------------------

def test_late_death_is_counted_at_its_effective_date(city):
    """A DEATH notified a week late changes residents-on-date from its effective date on."""
    assert residents_on(city.con, day("2026-04-05")) == 12
    outcome = ingest_rows(city, "2026-04-10", [event("x1", "DEATH", "2026-04-03", "2026-04-10",
                                                     resident_code=R(2))])
    assert outcome.rows_applied == 1
    assert residents_on(city.con, day("2026-04-02")) == 12
    assert residents_on(city.con, day("2026-04-03")) == 11
    assert residents_on(city.con, day("2026-04-05")) == 11
    assert city.current(R(2), "2026-04-02")["status"] == "current"
    assert city.current(R(2), "2026-04-03")["status"] == "removed"


def test_recorded_at_axis_keeps_what_was_known(city):
    """After a late event, the versions known before are kept with recorded_to set."""
    ingest_rows(city, "2026-04-02", [move(1, "m1", "2026-04-02")])
    known = city.rows("select version_no, valid_from, valid_to, status, event_id, recorded_from "
                      "from resident_version where resident_code = $c and recorded_to is null order by 1", c=R(1))
    assert [k[:5] for k in known] == [(1, day("2020-01-01"), day("2026-04-02"), "current", "base1"),
                                      (2, day("2026-04-02"), None, "current", "m1")]
    ingest_rows(city, "2026-04-12", [event("x1", "DEATH", "2026-04-05", "2026-04-12", resident_code=R(1))])
    (recorded_at,) = city.rows("select max(recorded_at) from event")[0]
    closed = city.rows("select version_no, valid_from, valid_to, status, event_id, recorded_from, recorded_to "
                       "from resident_version where resident_code = $c and recorded_to = $t order by 1",
                       c=R(1), t=recorded_at)
    assert [c[:6] for c in closed] == known
    now = city.rows("select version_no, valid_to, status, recorded_from from resident_version "
                    "where resident_code = $c and recorded_to is null order by 1", c=R(1))
    assert [n[:3] for n in now] == [(1, day("2026-04-02"), "current"), (2, day("2026-04-05"), "current"),
                                    (3, None, "removed")]
    assert all(n[3] == recorded_at for n in now)
    # as known before the late event, the person was a resident on 2026-04-06
    before = city.rows("select status from resident_version where resident_code = $c and recorded_from < $t "
                       "and (recorded_to is null or recorded_to >= $t) and valid_from <= '2026-04-06' "
                           "and (valid_to is null or valid_to > '2026-04-06')", c=R(1), t=recorded_at)
    assert before == [("current",)]


# --- whole files ----------------------------------------------------------------------------

def test_duplicate_file_changes_nothing(city):
    """The same bytes again (even under another name) are a duplicate: nothing changes, rows skipped."""
    path = write_file(city.inbox, "2026-04-02", [move(1, "m1", "2026-04-02"), move(2, "z", "2026-04-02",
                                                                                         sex="9")])
    city.ingest(path)
    counts = table_counts(city)
    renamed = city.root / "elsewhere" / "112038_changes_20260403.csv"
    renamed.parent.mkdir()
    renamed.write_bytes(path.read_bytes())
    outcomes = city.ingest(path, renamed)
    assert [o.status for o in outcomes] == ["duplicate", "duplicate"]
    assert all((o.rows_read, o.rows_applied, o.rows_quarantined, o.rows_skipped) == (2, 0, 0, 2) for o in outcomes)
    assert "112038_changes_20260403.csv" in outcomes[1].reason and "112038_changes_20260402.csv" in outcomes[1].reason
    assert table_counts(city) == counts
    assert [r[1] for r in ledger(city)] == ["applied", "applied", "duplicate", "duplicate"]


WHOLE_FILE_REFUSALS = {
    "FILE_NAME_INVALID": ("112038_changes_2026-04-02.csv", None),
    "FILE_MUNICIPALITY_MISMATCH": ("131016_changes_20260402.csv", None),
    "FILE_DATE_INVALID": ("112038_changes_20260231.csv", None),
    "FILE_EMPTY": (None, b""),
    "FILE_ENCODING": (None, "utf-16"),
    "FILE_MISSING_COLUMN": (None, COLUMNS[1:]),
    "FILE_REPEATED_COLUMN": (None, COLUMNS + ("event_id",)),
    "FILE_NOT_CSV": (None, '"quoted"then text'),
    "FILE_TRUNCATED": (None, '"unterminated'),
}


def refused_file(folder: Path, rule_id: str) -> Path:
    """A file that the rule refuses whole; its rows are otherwise good."""
    name, variant = WHOLE_FILE_REFUSALS[rule_id]
    rows = [move(1, f"{rule_id}-1", "2026-04-02"), support(2, f"{rule_id}-2", "2026-04-02")]
    text = csv_text(rows, columns=variant) if isinstance(variant, tuple) else csv_text(rows)
    data = (b"" if variant == b"" else text.encode("utf-16") if variant == "utf-16"
            else (text + variant + "\n").encode() if isinstance(variant, str) else text.encode())
    folder.mkdir(exist_ok=True)
    path = folder / (name or "112038_changes_20260402.csv")
    path.write_bytes(data)
    return path


def test_whole_file_refusals_change_nothing(city):
    """Each whole-file refusal adds only a refused file_ledger row with the reason; the bytes are archived."""
    counts = table_counts(city)
    for rule_id in WHOLE_FILE_REFUSALS:
        path = refused_file(city.root / rule_id, rule_id)
        (outcome,) = city.ingest(path)
        assert outcome.status == "refused", rule_id
        assert rule_id in outcome.reason and path.name in outcome.reason, outcome.reason
        assert outcome.rows_applied == outcome.rows_quarantined == 0
        assert outcome.rows_read == outcome.rows_skipped
        assert table_counts(city) == counts, rule_id
        (status, reason) = city.rows("select status, reason from file_ledger order by delivery_no desc "
                                     "limit 1")[0]
        assert (status, reason) == ("refused", outcome.reason)
        assert (Path(city.settings.archive) / hashlib.sha256(path.read_bytes()).hexdigest()).exists()
    assert city.current(R(1), "2026-04-02")["town_code"] == "0001"


def test_too_many_refused_is_strictly_more_than_half(city):
    """3 of 5 rows refused refuses the file (nothing applied); 2 of 4 is exactly 50 % and is applied."""
    counts = table_counts(city)
    bad = lambda n, i, d: move(n, i, d, town_code="9999")  # noqa: E731
    d = "2026-04-02"
    outcome = ingest_rows(city, d, [bad(1, "a", d), bad(2, "b", d), bad(3, "c", d), support(4, "d", d),
                                    support(5, "e", d)])
    assert outcome.status == "refused"
    assert "FILE_TOO_MANY_REFUSED" in outcome.reason and "3 of 5" in outcome.reason
    assert (outcome.rows_read, outcome.rows_applied, outcome.rows_quarantined, outcome.rows_skipped) == (5, 0, 0, 5)
    assert table_counts(city) == counts
    d = "2026-04-03"
    outcome = ingest_rows(city, d, [bad(1, "f", d), bad(2, "g", d), support(4, "h", d), support(5, "i", d)])
    assert (outcome.status, outcome.rows_applied, outcome.rows_quarantined) == ("applied", 2, 2)


def test_configured_share_is_used(city):
    """With a share of 0.2, one refused row of four refuses the file."""
    d = "2026-04-02"
    outcome = ingest_rows(city, d, [move(1, "a", d, town_code="9999"), support(1, "b", d), support(2, "c", d),
                                    support(3, "d", d)], max_refused_share=0.2)
    assert outcome.status == "refused" and "FILE_TOO_MANY_REFUSED" in outcome.reason


def test_accounting_identity_over_many_files(city):
    """rows_read = applied + quarantined + skipped for every delivery of a mixed run."""
    inbox = city.inbox
    files = [
        write_file(inbox, "2026-04-02", [move(1, "m1", "2026-04-02"), move(2, "m2", "2026-04-02", sex="9"),
                                         support(3, "s3", "2026-04-02")]),
        write_file(inbox, "2026-04-03", []),
        write_file(inbox, "2026-04-04", [move(1, "m1", "2026-04-04"), move(2, "q", "2026-04-04")]),
        write_file(inbox, "2026-04-05", [move(3, "t", "2026-04-05", town_code="9999"),
                                         move(2, "u", "2026-04-05", town_code="9998"),
                                         support(1, "v", "2026-04-05")]),
        refused_file(city.root / "bad", "FILE_ENCODING"),
    ]
    outcomes = city.ingest(*files, files[0], files[1])
    assert [o.status for o in outcomes] == ["applied", "applied", "applied", "refused", "refused", "duplicate",
                                            "duplicate"]
    rows = ledger(city)
    assert len(rows) == 8
    for name, status, read, applied, quarantined, skipped, _ in rows:
        assert read == applied + quarantined + skipped, (name, status)
    assert [r[2:6] for r in rows[1:]] == [(3, 2, 1, 0), (0, 0, 0, 0), (2, 1, 1, 0), (3, 0, 0, 3), (0, 0, 0, 0),
                                          (3, 0, 0, 3), (0, 0, 0, 0)]
    (applied, quarantined) = city.rows(
        "select sum(rows_applied), sum(rows_quarantined) from file_ledger")[0]
    assert applied == city.rows("select count(*) from event")[0][0]
    assert quarantined == city.rows("select count(*) from quarantine")[0][0]


def test_archive_holds_the_exact_bytes(register):
    """The archive keeps a CP932 CRLF file byte for byte under its SHA-256; the ledger names the digest."""
    rows = [baseline_row(person(1, family_name="髙橋")), baseline_row(person(2))]
    data = csv_text(rows, newline="\r\n").encode("cp932")
    path = register.inbox / "112038_changes_20260401.csv"
    path.write_bytes(data)
    (outcome,) = register.ingest(path)
    digest = hashlib.sha256(data).hexdigest()
    assert outcome.sha256 == digest and outcome.status == "applied"
    assert (Path(register.settings.archive) / digest).read_bytes() == data
    assert register.rows("select file_sha256, encoding from file_ledger") == [(digest, "cp932")]
    assert register.rows("select distinct file_sha256 from event") == [(digest,)]
    assert register.current(R(1), BASELINE_DATE)["family_name"] == "髙橋"


def test_extra_column_is_ignored_on_ingest(register):
    """A file with an unknown extra column is applied as if the column were not there."""
    columns = COLUMNS[:3] + ("memo",) + COLUMNS[3:]
    rows = [dict(baseline_row(person(1)), memo="メモ"), dict(baseline_row(person(2)), memo="x")]
    (outcome,) = register.ingest(write_file(register.inbox, BASELINE_DATE, rows, columns=columns))
    assert (outcome.status, outcome.rows_applied) == ("applied", 2)
    assert register.current(R(1), BASELINE_DATE)["family_name"] == "川口"


def test_quiet_day(city):
    """A header-only file is applied with zero rows and changes nothing."""
    counts = table_counts(city)
    outcome = ingest_rows(city, "2026-04-02", [])
    assert (outcome.status, outcome.rows_read, outcome.rows_applied) == ("applied", 0, 0)
    assert table_counts(city) == counts


# --- My Number never shown ------------------------------------------------------------------

def test_no_full_my_number_in_quarantine_or_its_listing(city, capsys):
    """Quarantine rule ids, messages, ids and `juki quarantine` output never carry a full My Number."""
    d = "2026-04-02"
    bad_check = my_number(77)[:11] + str((int(my_number(77)[11]) + 1) % 10)
    rows = [
        event("q1", "BIRTH", d, **person(77, birth_date=d, my_number=bad_check)),     # MY_NUMBER_CHECK_DIGIT
        event("q2", "BIRTH", d, **person(78, birth_date=d, resident_code=my_number(78))),  # 12 digits
        event("q3", "BIRTH", d, **person(1, birth_date=d)),                           # PERSON_ALREADY_KNOWN
        support(2, "ok2", d), support(3, "ok3", d), move(2, "ok4", d), move(3, "ok5", d), support(4, "ok6", d),
    ]
    text = csv_text(rows)
    lines = text.splitlines()
    shifted = event("q4", "MOVE_IN", d, **person(79), prev_address="東京都")
    lines.append(",".join(["" if shifted.get(c) is None else shifted[c] for c in COLUMNS if c != "notified_date"]))
    path = city.inbox / "112038_changes_20260402.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    (outcome,) = city.ingest(path)
    assert outcome.status == "applied" and outcome.rows_quarantined == 4
    secrets = {bad_check, my_number(78), my_number(1), my_number(79)}
    shown = json.dumps(city.rows("select file_name, line, event_id, resident_code, rule_ids, messages "
                                 "from quarantine"), ensure_ascii=False, default=str)
    shown += json.dumps(ledger(city), ensure_ascii=False, default=str)
    city.con.close()
    store = str(city.settings.store)
    assert main(["--store", store, "quarantine"]) == 0
    assert main(["--store", store, "quarantine", "--format", "json"]) == 0
    shown += capsys.readouterr().out
    assert "q1" in shown and "PERSON_ALREADY_KNOWN" in shown
    for secret in secrets:
        assert secret not in shown
    assert not re.search(r"(?<!\d)\d{12}(?!\d)", shown)


def test_values_in_unused_columns_are_ignored_and_counted(register):
    """A DEATH that gives dest_address is applied; the ignored value is counted in the file ledger."""
    from tests.builders import event, person, resident_code, write_file

    register.ingest(write_file(register.inbox, "2026-04-01",
                               [event("B1", "BASELINE", "2000-01-01", "2026-04-01", **person(1))]))
    register.ingest(write_file(register.inbox, "2026-04-02",
                               [event("D1", "DEATH", "2026-04-02", resident_code=resident_code(1), dest_address="x")]))
    assert register.rows("select unused_values from file_ledger where delivery_no = 2") == [(1,)]
    assert register.current(resident_code(1), "2026-04-02")["dest_address"] is None


def test_a_twelve_digit_event_id_is_masked_in_the_quarantine(register):
    """An event id that could be a My Number is never listed in full."""
    from juki.queries import quarantine_rows
    from tests.builders import event, my_number, person, write_file

    register.ingest(write_file(register.inbox, "2026-04-01", [
        event("B1", "BASELINE", "2000-01-01", "2026-04-01", **person(1)),
        event(my_number(7), "BASELINE", "2000-01-01", "2026-04-01", **person(2, sex="9")),
        event("B3", "BASELINE", "2000-01-01", "2026-04-01", **person(3)),
    ]))
    (row,) = quarantine_rows(register.con)
    assert row["event_id"] == "********" + my_number(7)[8:]


def test_a_quiet_day_under_a_new_name_is_not_a_duplicate(register):
    """Header-only files share their bytes; each new business date is its own quiet day."""
    from tests.builders import event, person, write_file

    register.ingest(write_file(register.inbox, "2026-04-01",
                               [event("B1", "BASELINE", "2000-01-01", "2026-04-01", **person(1))]))
    first = write_file(register.inbox, "2026-04-02", [])
    second = write_file(register.inbox, "2026-04-03", [])
    assert first.read_bytes() == second.read_bytes()
    outcomes = register.ingest(first, second, first)
    assert [o.status for o in outcomes] == ["applied", "applied", "duplicate"]
    assert register.rows("select business_date from file_ledger where status = 'duplicate'") == [
        (__import__("datetime").date(2026, 4, 2),)]


def test_a_stray_value_is_not_stored(register):
    """A BIRTH with a stray prev_address: the newborn has no 転入前住所, the event row keeps no value; counted."""
    register.ingest(write_file(register.inbox, BASELINE_DATE, [baseline_row(person(1))]))
    (outcome,) = register.ingest(write_file(register.inbox, "2026-04-02", [
        event("bir2", "BIRTH", "2026-04-02", **person(2, household_id="H1", relationship="子", birth_date="2026-04-02"),
              prev_address="東京都千代田区", cancels_event_id="base1"),
        event("dth1", "DEATH", "2026-04-02", resident_code=R(1), dest_address="東京都北区", town_code="0002")]))
    assert (outcome.rows_applied, outcome.rows_quarantined) == (2, 0)
    assert register.rows("select unused_values from file_ledger where delivery_no = 2") == [(4,)]
    assert register.current(R(2), "2026-04-02")["prev_address"] is None
    assert register.current(R(1), "2026-04-02")["town_code"] == "0001"
    assert register.rows("select event_id, prev_address, cancels_event_id, dest_address, town_code from event "
                         "where business_date = '2026-04-02' order by line") == [
        ("bir2", None, None, None, "0001"), ("dth1", None, None, None, None)]


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_no_event_type_stores_a_column_it_does_not_use(event_type):
    """For every event type and every column it does not use, the value is gone before judging."""
    from tasks.validate_rows import without_unused

    unused = [c for c in COLUMNS if c not in EVENT_TYPES[event_type].uses]
    frame = pl.DataFrame([{"line": 2, **{c: "x" for c in COLUMNS}, "event_type": event_type}])
    cleared = without_unused(frame).row(0, named=True)
    assert [c for c in COLUMNS if cleared[c] is None] == unused
    assert all(cleared[c] is not None for c in EVENT_TYPES[event_type].uses)


def test_a_run_recorded_before_the_rule_keeps_stray_values(register):
    """A run whose ledger parameters predate the rule stores them as it did, so its replay still verifies."""
    register.con.execute("insert into run_ledger (run_id, flow_name, parameters, status, started_at) "
                         "values ('old', 'daily-linkage', '{\"files\": []}', 'running', now())")
    base = write_file(register.inbox, BASELINE_DATE, [baseline_row(person(1))])
    ingest_file(register.con, str(base), register.settings.archive, "112038", 0.5, "old")
    birth = write_file(register.inbox, "2026-04-02", [event(
        "bir2", "BIRTH", "2026-04-02", **person(2, birth_date="2026-04-02"), prev_address="東京都千代田区")])
    ingest_file(register.con, str(birth), register.settings.archive, "112038", 0.5, "old")
    assert register.current(R(2), "2026-04-02")["prev_address"] == "東京都千代田区"


def test_a_folder_or_a_pipe_is_not_landed_and_a_run_of_it_records_nothing(register, tmp_path):
    """Issue 10, case 10: not a regular file is NotAFile at once (a pipe would block a read forever)."""
    import os

    from tasks.daily import run
    from tasks.ingest import land
    from tasks.land import NotAFile

    folder = register.inbox / "112038_changes_20260402.csv"
    folder.mkdir()
    pipe = register.inbox / "112038_changes_20260403.csv"
    os.mkfifo(pipe)
    for path in (folder, pipe):
        with pytest.raises(NotAFile, match="112038_changes_2026040[23].csv is (a folder|not a regular file)"):
            land(str(path), register.settings.archive)
    good = write_file(register.inbox, "2026-04-01", [baseline_row(person(1))])
    with pytest.raises(NotAFile):
        run(register.con, register.settings, "r1", [str(good), str(folder)], {})
    assert register.rows("select count(*) from run_ledger") == [(0,)]
    assert register.rows("select count(*) from file_ledger") == [(0,)]
