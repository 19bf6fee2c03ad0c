"""Retention: removed records erased 150 years after removal, refused rows' raw text purged; replay still matches."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from juki_core.settings import Settings
from juki_core.store import connect
from tasks import retention
from tasks.audit import AUDIT_SQL, register_digest
from tasks.check import broken_invariants
from tasks import daily
from tasks.replay import plan, replay
from tests.builders import event, foreigner, my_number, person, resident_code, write_file

R = resident_code
FULL_NUMBERS = [my_number(n) for n in (1, 2, 3, 4, 5)]
AS_OF = dt.date(2175, 4, 2)  # person 1 was removed 151 years before (2024-04-01), person 3 149 years (2026-04-02)


def _files(inbox: Path) -> list[Path]:
    base = [event("b1", "BASELINE", "2020-01-01", "2026-04-01", **person(1, support_measure="1")),
            event("b2", "BASELINE", "2020-01-01", "2026-04-01", **person(2)),
            event("b3", "BASELINE", "2020-01-01", "2026-04-01", **foreigner(3)),
            event("bad1", "BASELINE", "2020-01-01", "2026-04-01", **person(4, sex="9"))]
    changes = [event("d1", "DEATH", "2024-04-01", "2026-04-02", resident_code=R(1)),
               event("o3", "MOVE_OUT", "2026-04-02", resident_code=R(3), dest_address="東京都新宿区"),
               event("bad2", "MOVE_WITHIN", "2026-04-02", resident_code=R(2), town_code="9999", address_line="1")]
    return [write_file(inbox, "2026-04-01", base), write_file(inbox, "2026-04-02", changes)]


@pytest.fixture
def city(register):
    """Persons 1-3 from a BASELINE; 1 died in 2024 (a late death), 3 moved out in 2026; one refused row a file."""
    outcomes = register.ingest(*_files(register.inbox))
    assert [(o.rows_applied, o.rows_quarantined) for o in outcomes] == [(3, 1), (2, 1)], register.quarantine()
    return register


def _ledgers(con) -> tuple:
    digests = con.execute((AUDIT_SQL / "ledger_digests.sql").read_text(encoding="utf-8")).fetchall()[0]
    return register_digest(con), digests


def _assert_no_my_number(text: str) -> None:
    assert not any(number in text for number in FULL_NUMBERS)
    assert not re.search(r"(?<!\d)\d{12}(?!\d)", text)


def test_every_column_is_either_erased_or_kept(register):
    """A new column of resident_version or event needs a decision in tasks/retention.py before erasure runs."""
    for position, table in enumerate(("resident_version", "event")):
        columns = {c for (c,) in register.rows(f"select column_name from information_schema.columns "
                                               f"where table_name = '{table}'")}
        erased = {c for c, values in retention.ERASED.items() if values[position] is not None}
        assert erased | set(retention.KEPT[table]) == columns and not erased & set(retention.KEPT[table])


def test_only_the_record_removed_more_than_150_years_ago_is_erased(city):
    """Person 1 (removed 151 years before) loses every personal column in all versions (both axes) and events,
    and gets a tombstone; person 3 (149 years) and the current person 2 are untouched; the invariants hold."""
    before = {code: city.rows("select * from resident_version where resident_code = $c order by version_no", c=code)
              for code in (R(2), R(3))}

    erased = retention.erase(city.con, AS_OF, run_id="ret-1")

    assert erased == retention.Erasure(residents=1, versions=3, events=2, quarantine_rows=2, deliveries=2)
    for position, table in enumerate(("resident_version", "event")):
        columns = [c for c, values in retention.ERASED.items() if values[position] is not None]
        rows = city.rows(f"select {', '.join(columns)} from {table} where resident_code = $c", c=R(1))
        assert len(rows) == (3, 2)[position]  # the BASELINE version as first recorded, closed by the late death
        for row in rows:
            cleared = dict(zip(columns, row))
            assert cleared.pop("support_measure", None) in (None, False)
            assert set(cleared.values()) == {None}, table
    kept = city.rows("select version_no, valid_from, valid_to, status, event_type from resident_version "
                     "where resident_code = $c and recorded_to is null order by version_no", c=R(1))
    assert kept == [(1, dt.date(2020, 1, 1), dt.date(2024, 4, 1), "current", "BASELINE"),
                    (2, dt.date(2024, 4, 1), None, "removed", "DEATH")]
    assert city.rows("select event_id, event_type, effective_date, notified_date from event "
                     "where resident_code = $c order by event_id", c=R(1)) == [
        ("b1", "BASELINE", dt.date(2020, 1, 1), dt.date(2026, 4, 1)),
        ("d1", "DEATH", dt.date(2024, 4, 1), dt.date(2026, 4, 2))]
    assert city.rows("select resident_code, removed_on, as_of, years, versions, events, run_id "
                     "from erased_resident") == [(R(1), dt.date(2024, 4, 1), AS_OF, 150, 3, 2, "ret-1")]
    for code, rows in before.items():
        assert city.rows("select * from resident_version where resident_code = $c order by version_no", c=code) == rows
    assert city.rows("select count(*) from event where my_number is not null") == [(2,)]  # persons 2 and 3
    assert broken_invariants(city.con) == {}


def test_a_removal_exactly_150_years_ago_stays_and_a_day_more_goes(city):
    """Calendar years: removed on 2026-04-02, kept as of 2176-04-02, due as of 2176-04-03."""
    assert retention.plan_erasure(city.con, dt.date(2176, 4, 2)).residents == 1  # person 1 only
    assert retention.plan_erasure(city.con, dt.date(2176, 4, 3)).residents == 2
    assert retention.plan_erasure(city.con, dt.date(2174, 4, 1)).residents == 0


def test_a_second_erasure_with_the_same_as_of_does_nothing_more(city):
    """Idempotent: no more rows, no other tombstone, the same register and ledgers."""
    retention.erase(city.con, AS_OF, run_id="ret-1")
    after_first = _ledgers(city.con)

    again = retention.erase(city.con, AS_OF, run_id="ret-2")

    assert again == retention.Erasure()
    assert _ledgers(city.con) == after_first
    assert city.rows("select run_id, count(*) from erased_resident group by run_id") == [("ret-1", 1)]
    assert city.rows("select count(*) from quarantine_purge where run_id = 'ret-2'") == [(0,)]


def test_a_dry_run_counts_and_changes_nothing(city):
    """plan_erasure gives the counts erase would; the register and ledgers keep their digests."""
    before = _ledgers(city.con)

    planned = retention.plan_erasure(city.con, AS_OF)

    assert planned == retention.Erasure(residents=1, versions=3, events=2, quarantine_rows=2, deliveries=2)
    assert _ledgers(city.con) == before
    assert city.rows("select count(*) from erased_resident") == [(0,)]
    assert retention.erase(city.con, AS_OF) == planned


@pytest.mark.parametrize(("as_of", "days", "purged"), [
    (dt.date(2027, 4, 1), 365, []),  # the first delivery (2026-04-01) is exactly 365 days old: kept
    (dt.date(2027, 4, 2), 365, [1]),
    (dt.date(2027, 4, 3), 365, [1, 2]),
    (dt.date(2026, 4, 12), 10, [1]),  # a custom period: delivery 2 (2026-04-02) is exactly 10 days old
])
def test_refused_rows_lose_their_raw_text_after_the_quarantine_period(city, as_of, days, purged):
    """The raw text goes per delivery by its business date; file, line, ids and rule ids stay; logged per delivery."""
    erased = retention.erase(city.con, as_of, quarantine_days=days, run_id="ret-q")

    assert (erased.residents, erased.quarantine_rows, erased.deliveries) == (0, len(purged), len(purged))
    rows = city.rows("select delivery_no, event_id, rule_ids, raw_row = '', purged_by from quarantine "
                     "order by delivery_no")
    assert [r[:3] for r in rows] == [(1, "bad1", ["SEX_CODE_INVALID"]), (2, "bad2", ["TOWN_CODE_UNKNOWN"])]
    assert [(r[0], r[3], r[4]) for r in rows] == [(n, n in purged, "ret-q" if n in purged else None) for n in (1, 2)]
    assert city.rows("select delivery_no, file_name, rows, quarantine_days from quarantine_purge "
                     "order by delivery_no") == [
        (n, f"112038_changes_2026040{n}.csv", 1, days) for n in purged]
    assert broken_invariants(city.con) == {}


def test_my_numbers_appear_in_no_output(city):
    """Counts, sentences, the artifact, the tombstone and the purge log carry no My Number."""
    planned = retention.plan_erasure(city.con, AS_OF)
    erased = retention.erase(city.con, AS_OF, run_id="ret-1")
    texts = [json.dumps(planned.as_dict()), json.dumps(erased.as_dict()),
             retention.summary(erased, AS_OF, 150, 365, False),
             retention.summary_markdown(planned, AS_OF, 150, 365, True),
             str(city.rows("select * from erased_resident")), str(city.rows("select * from quarantine_purge"))]
    for text in texts:
        _assert_no_my_number(text)
    assert "1 removed record(s)" in texts[2] and "before 2025-04-02" in texts[2]


def test_periods_shorter_than_the_law_or_nonsense_are_refused_with_a_sentence(city):
    """Erasing after fewer than 150 years, or counting with a negative quarantine period, changes nothing;
    a shorter period may still be counted."""
    before = _ledgers(city.con)
    with pytest.raises(retention.RetentionError, match="shorter than the 150 years"):
        retention.erase(city.con, AS_OF, years=149)
    with pytest.raises(retention.RetentionError, match="years must be at least 1"):
        retention.erase(city.con, AS_OF, years=0)
    assert retention.plan_erasure(city.con, AS_OF, years=148).residents == 2
    with pytest.raises(retention.RetentionError, match="days at least 0"):
        retention.plan_erasure(city.con, AS_OF, quarantine_days=-1)
    assert _ledgers(city.con) == before


def test_a_replay_after_a_retention_run_still_matches(tmp_path):
    """Daily runs, a dry run, a retention run, another daily run: replay --verify matches every digest, with the
    erasure repeated at its place; the runs before it are proved without the residents it erased."""
    settings = Settings(store=tmp_path / "live" / "registry.duckdb")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    first, second = _files(inbox)
    third = write_file(inbox, "2026-04-03", [event("m2", "MOVE_WITHIN", "2026-04-03", resident_code=R(2),
                                                   town_code="0002", address_line="9-9")])
    con = connect(settings.store)
    try:
        daily.run(con, settings, "run-1", [str(first)], {}, plaintext=True)
        daily.run(con, settings, "run-2", [str(second)], {}, plaintext=True)
        for run_id, dry_run in (("ret-dry", True), ("ret-1", False)):
            retention.record_start(con, run_id, retention.parameters(AS_OF, 150, 365, dry_run, str(settings.store)))
            erasure = (retention.plan_erasure(con, AS_OF) if dry_run
                       else retention.erase(con, AS_OF, 150, 365, run_id))
            retention.record_finish(con, run_id, "completed", erasure, dry_run)
        assert erasure.residents == 1
        daily.run(con, settings, "run-3", [str(third)], {}, plaintext=True)
        assert con.execute("select count(*) from run_ledger where status = 'completed'").fetchall() == [(5,)]
    finally:
        con.close()

    recorded = plan(settings, verify=True)
    assert [r.erased_later for r in recorded.runs] == [(R(1),), (R(1),), (), ()]

    report = replay(settings, tmp_path / "scratch", verify=True)

    assert report.ok, report.text()
    assert [(r.run_id, r.verdict) for r in report.runs] == [
        ("run-1", "match"), ("run-2", "match"), ("ret-1", "match"), ("run-3", "match")]
    assert report.runs[2].dates == [AS_OF.isoformat()] and report.other_flows == 1 and report.checks == []
    scratch = connect(tmp_path / "scratch" / "registry.duckdb", read_only=True)
    try:
        assert scratch.execute("select resident_code, run_id from erased_resident").fetchall() == [(R(1), "ret-1")]
    finally:
        scratch.close()


def test_an_erasure_that_would_break_an_invariant_changes_nothing(city, monkeypatch):
    """ONE transaction: a broken invariant found before commit rolls back versions, events, tombstones and purge."""
    before = _ledgers(city.con)
    monkeypatch.setattr(retention, "broken_invariants", lambda con: {"version_chains": 1})

    with pytest.raises(retention.RetentionError, match="version_chains: 1"):
        retention.erase(city.con, AS_OF, run_id="ret-1")

    assert _ledgers(city.con) == before
    assert city.rows("select (select count(*) from erased_resident), (select count(*) from quarantine_purge), "
                     "(select count(*) from quarantine where purged_by is not null)") == [(0, 0, 0)]
