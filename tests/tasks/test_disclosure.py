"""The disclosure log (tasks/disclosure.py): reveals need a reason and are logged; My Number publishes are logged."""

from __future__ import annotations

import datetime as dt

import pytest

from tasks.summary import BeforeRegister
from tasks import disclosure
from tasks.disclosure import disclosures, record_publish, record_reveal, reveal
from tasks.handoff import HandoffError, load_subscribers, publish_conbini, publish_feed
from tests.builders import event, foreigner, my_number, person, resident_code, write_file

R = resident_code
D1, D2 = dt.date(2026, 4, 1), dt.date(2026, 4, 2)


def city(register) -> None:
    """Four residents on 2026-04-01; on 2026-04-02 a Japanese and a foreign resident move within the city."""
    base = [person(1), person(2), person(3, given_name="花子", sex="2"), foreigner(4)]
    (first,) = register.ingest(write_file(register.inbox, D1.isoformat(), [
        event(f"base{i}", "BASELINE", "2020-01-01", D1.isoformat(), **r) for i, r in enumerate(base, 1)]))
    (second,) = register.ingest(write_file(register.inbox, D2.isoformat(), [
        event("m1", "MOVE_WITHIN", D2.isoformat(), resident_code=R(1), town_code="0002", address_line="9-9"),
        event("m4", "MOVE_WITHIN", D2.isoformat(), resident_code=R(4), town_code="0003", address_line="7-7"),
    ]))
    assert (first.rows_applied, second.rows_applied) == (4, 2)


def logged(register) -> list[dict]:
    """Every row of the disclosure log."""
    return disclosures(register.con)


# --- reveal -----------------------------------------------------------------------------------

@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_reveal_without_a_reason_is_refused_and_records_nothing(register, reason):
    """No reason, no number, no row."""
    city(register)
    with pytest.raises(ValueError, match="reason"):
        reveal(register.con, R(1), D2, "clerk", reason)
    assert logged(register) == []


def test_a_reveal_records_who_why_and_when_and_returns_the_full_number(register):
    """The record and every version carry the full My Number; the log row names who, why and whose record."""
    city(register)
    before = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    shown = reveal(register.con, R(1), D2, "clerk-7", "  本人確認の照会 (case 2026-118)  ")
    after = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert shown["status"] == "current" and shown["record"]["town_code"] == "0002"
    assert shown["record"]["my_number"] == my_number(1)
    assert [v["my_number"] for v in shown["history"]] == [my_number(1), my_number(1)]
    (row,) = logged(register)
    assert (row["channel"], row["who"], row["why"], row["persons"], row["resident_code"]) == (
        "reveal", "clerk-7", "本人確認の照会 (case 2026-118)", 1, R(1))
    assert before <= row["disclosed_at"] <= after
    assert row["run_id"] is None and row["file_name"] is None
    assert shown["disclosure"] == row
    assert not any(my_number(1) in str(v) for v in row.values())


def test_the_log_row_is_written_before_the_number_is_returned(register, monkeypatch):
    """When the disclosure cannot be logged, the caller gets an error, not the number."""
    city(register)

    def broken(*args, **kwargs):
        raise RuntimeError("the log cannot be written")

    monkeypatch.setattr(disclosure, "record_reveal", broken)
    with pytest.raises(RuntimeError):
        reveal(register.con, R(1), D2, "clerk", "照会")


def test_a_reveal_of_a_bad_code_or_day_records_nothing(register):
    """A malformed resident code or a day before the register knew the city is refused before anything is logged."""
    city(register)
    with pytest.raises(BeforeRegister):
        reveal(register.con, "123", D2, "clerk", "照会")
    with pytest.raises(BeforeRegister):
        reveal(register.con, R(1), dt.date(2025, 1, 1), "clerk", "照会")
    with pytest.raises(ValueError, match="who"):
        reveal(register.con, R(1), D2, " ", "照会")
    assert logged(register) == []


def test_a_reveal_of_an_unknown_person_is_logged_with_no_person(register):
    """Asking is logged even when there is no My Number to show: persons 0."""
    city(register)
    shown = reveal(register.con, R(77), D2, "clerk", "照会")
    assert shown["status"] == "unknown" and shown["history"] == []
    assert [(r["resident_code"], r["persons"]) for r in logged(register)] == [(R(77), 0)]


def test_reveal_at_a_known_at_time_shows_what_was_known(register):
    """known_at goes through to the two-axis query, as for show."""
    city(register)
    (moment,) = register.rows("select max(recorded_at) from event where business_date = $d", d=D1)[0]
    shown = reveal(register.con, R(1), D2, "auditor", "監査", known_at=moment)
    assert shown["record"]["town_code"] == "0001" and len(shown["history"]) == 1


# --- the listing ------------------------------------------------------------------------------

def test_disclosures_are_listed_by_date(register):
    """date_from and date_to are inclusive UTC dates, either may be open; the order is the order written."""
    sub = load_subscribers()["juki_net"]
    for n, day in enumerate(["2026-04-01", "2026-04-02", "2026-04-03"], 1):
        record_publish(register.con, sub, {"file": f"changes-{n:08d}-x.parquet", "sequence_no": n, "rows": 3,
                                           "created_at": f"{day}T23:59:59+00:00", "fields": list(sub.fields)}, "run")
    days = lambda rows: [r["disclosed_at"].date().isoformat() for r in rows]  # noqa: E731
    assert days(disclosures(register.con)) == ["2026-04-01", "2026-04-02", "2026-04-03"]
    assert days(disclosures(register.con, dt.date(2026, 4, 2))) == ["2026-04-02", "2026-04-03"]
    assert days(disclosures(register.con, None, dt.date(2026, 4, 2))) == ["2026-04-01", "2026-04-02"]
    assert days(disclosures(register.con, dt.date(2026, 4, 2), dt.date(2026, 4, 2))) == ["2026-04-02"]
    assert disclosures(register.con, dt.date(2026, 5, 1)) == []
    assert [r["disclosure_no"] for r in disclosures(register.con)] == [1, 2, 3]


def test_a_store_without_the_log_lists_nothing(register):
    """Reading an older store that never had a disclosure_log is not an error."""
    register.con.execute("drop table if exists disclosure_log")
    assert disclosures(register.con) == []


def test_disclosures_csv_has_a_header_and_one_line_per_row(register):
    """The CSV form for juki audit disclosures."""
    city(register)
    record_reveal(register.con, R(2), "clerk", "照会")
    lines = disclosure.disclosures_csv(disclosures(register.con)).splitlines()
    assert lines[0].split(",") == list(disclosure.COLUMNS) and len(lines) == 2 and R(2) in lines[1]


# --- publishes --------------------------------------------------------------------------------

def test_publishes_of_my_number_are_logged_and_others_are_not(register, tmp_path):
    """conbini and juki_net carry my_number: one row each, written with the ledger row; the others: no row."""
    city(register)
    subscribers = load_subscribers()
    con = register.con
    snapshot = publish_conbini(con, str(tmp_path / "conbini"), D2, None, True, "run-1")
    feeds = {name: publish_feed(con, name, str(tmp_path / name), 2, None, True, "run-1")
             for name in ("juki_net", "immigration", "koseki_fuhyo")}
    assert snapshot["rows"] == 4 and all(f["rows"] > 0 for f in feeds.values())
    # logged already, in the transaction of the hand-off's ledger row: logging again adds nothing
    assert record_publish(con, subscribers["conbini"], snapshot, "run-1") is None
    assert record_publish(con, "juki_net", feeds["juki_net"], "run-1") is None

    rows = logged(register)
    assert [(r["channel"], r["who"], r["file_name"], r["sequence_no"], r["run_id"], r["persons"]) for r in rows] == [
        ("publish", "conbini", snapshot["file"], snapshot["snapshot_id"], "run-1", 4),
        ("publish", "juki_net", feeds["juki_net"]["file"], feeds["juki_net"]["sequence_no"], "run-1",
         feeds["juki_net"]["rows"])]
    assert rows[0]["why"] == subscribers["conbini"].description
    assert rows[0]["disclosed_at"] == dt.datetime.fromisoformat(snapshot["created_at"]).replace(tzinfo=None)
    assert rows[0]["resident_code"] is None
    numbers = {my_number(n) for n in range(1, 5)}
    assert not any(n in str(v) for r in rows for v in r.values() for n in numbers)


def test_a_file_is_not_sent_twice_and_an_empty_one_is_not_logged(register, tmp_path):
    """A delivery already published is refused, not sent or logged again; a file of no rows discloses nothing."""
    city(register)
    target = str(tmp_path / "juki_net")
    publish_feed(register.con, "juki_net", target, 2, None, True, "run-1")
    with pytest.raises(HandoffError, match="already published"):
        publish_feed(register.con, "juki_net", target, 2, None, True, "run-2")
    assert len(logged(register)) == 1
    assert record_publish(register.con, "conbini", {"file": "residents-9.parquet", "snapshot_id": 9, "rows": 0},
                          "run-3") is None
    assert len(logged(register)) == 1


def test_an_interrupted_publish_is_logged_when_it_is_found(register, tmp_path):
    """A file that went out but was never logged is logged when publish_feed reports it as already published."""
    city(register)
    header = {"file": "changes-00000001-20260402.parquet", "sequence_no": 1, "rows": 2, "status": "already_published",
              "created_at": "2026-04-02T10:00:00+00:00", "fields": ["entry_no", "resident_code", "my_number"]}
    assert record_publish(register.con, "juki_net", header, "run-2")["persons"] == 2
    assert record_publish(register.con, "juki_net", header, "run-2") is None
