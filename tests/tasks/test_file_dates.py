"""A change file dated after today (Asia/Tokyo) is refused whole; the run records the day it judged by (issue 10)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from juki_core.settings import Settings
from juki_core.store import connect
from tasks import daily, ingest
from tasks.replay import replay
from tests.builders import event, person, resident_code, write_file

KEY = bytes(range(32))
TODAY = dt.date(2026, 4, 2)


def _run(con, settings: Settings, run_id: str, paths: list[Path]) -> daily.RunRecord:
    uris = [str(p) for p in paths]
    return daily.run(con, settings, run_id, uris, daily.parameters(settings, uris), key_for=lambda sub: KEY)


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setattr(ingest, "today", lambda: TODAY)
    (tmp_path / "inbox").mkdir()
    return Settings(store=tmp_path / "registry.duckdb")


def test_a_file_named_for_2099_is_refused_and_nothing_is_published_as_of_it(settings, tmp_path):
    """Issue 10, case 7: a file named for 2099-12-31 was applied and the snapshot published as of that day."""
    inbox = Path(settings.inbox)
    base = write_file(inbox, "2026-04-01", [event("B1", "BASELINE", "2000-01-01", "2026-04-01", **person(1))])
    future = write_file(inbox, "2099-12-31", [event("M1", "MOVE_WITHIN", "2099-12-31", resident_code=resident_code(1),
                                                    town_code="0002", address_line="9-9")])
    with connect(settings.store) as con:
        record = _run(con, settings, "run-1", [base, future])
        by_file = {o["file"]: o for o in record.outcomes}
        refused = by_file[future.name]
        assert (refused["status"], refused["rows_read"], refused["rows_skipped"]) == ("refused", 1, 1)
        assert refused["reason"] == (
            "112038_changes_20991231.csv: refused (FILE_DATE_IN_FUTURE): The business date in the file name is "
            "after today in Asia/Tokyo (plus the days ahead the settings allow): 2099-12-31 is after 2026-04-02.")
        assert record.status == "failed"
        assert con.execute("select count(*) from event where event_id = 'M1'").fetchall() == [(0,)]
        assert con.execute("select max(business_date) from file_ledger where status = 'applied'").fetchall() == [
            (dt.date(2026, 4, 1),)]
        recorded = json.loads(con.execute("select parameters from run_ledger").fetchall()[0][0])
        assert (recorded["today"], recorded["max_days_ahead"]) == ("2026-04-02", 0)
    manifest = json.loads((tmp_path / "outbox" / "conbini" / "manifest.json").read_text())
    assert manifest["as_of"] == "2026-04-01"


def test_days_ahead_are_a_setting_and_the_replay_judges_by_the_recorded_day(settings, tmp_path, monkeypatch):
    """--max-days-ahead 1 takes tomorrow's file, not the day after's; a replay years later refuses the same."""
    inbox = Path(settings.inbox)
    ahead = Settings(store=settings.store, max_days_ahead=1)
    base = write_file(inbox, "2026-04-01", [event("B1", "BASELINE", "2000-01-01", "2026-04-01", **person(1))])
    tomorrow = write_file(inbox, "2026-04-03", [event("M1", "MOVE_WITHIN", "2026-04-03",
                                                      resident_code=resident_code(1), town_code="0002",
                                                      address_line="9-9")])
    after = write_file(inbox, "2026-04-04", [event("M2", "MOVE_WITHIN", "2026-04-04", resident_code=resident_code(1),
                                                   town_code="0003", address_line="1-1")])
    with connect(settings.store) as con:
        _run(con, ahead, "run-1", [base])
        record = _run(con, ahead, "run-2", [tomorrow, after])
    assert [o["status"] for o in record.outcomes] == ["applied", "refused"]
    assert "2026-04-04 is after 2026-04-03" in record.outcomes[1]["reason"]

    monkeypatch.setattr(ingest, "today", lambda: dt.date(2030, 1, 1))
    report = replay(settings, tmp_path / "scratch", verify=True)
    assert report.ok, report.summary()


def test_the_days_ahead_come_from_the_flag_else_the_environment(monkeypatch):
    """--max-days-ahead, else $JUKI_MAX_DAYS_AHEAD, else 0; a negative or non-number setting is refused."""
    monkeypatch.delenv("JUKI_MAX_DAYS_AHEAD", raising=False)
    assert Settings.resolve("s.duckdb").max_days_ahead == 0
    monkeypatch.setenv("JUKI_MAX_DAYS_AHEAD", "3")
    assert Settings.resolve("s.duckdb").max_days_ahead == 3
    assert Settings.resolve("s.duckdb", max_days_ahead=1).max_days_ahead == 1
    monkeypatch.setenv("JUKI_MAX_DAYS_AHEAD", "soon")
    with pytest.raises(ValueError, match="JUKI_MAX_DAYS_AHEAD"):
        Settings.resolve("s.duckdb")
    with pytest.raises(ValueError, match="at least 0"):
        Settings(store=Path("s.duckdb"), max_days_ahead=-1)


def test_the_command_line_passes_the_days_ahead_to_the_flow(tmp_path, monkeypatch):
    """`juki daily --max-days-ahead 2` runs the flow with that setting; a bad value is a usage error."""
    import juki.runner
    from juki.cli import main

    seen = []
    monkeypatch.setattr(juki.runner, "run_daily_linkage", lambda settings, **kw: seen.append(settings) or 0)
    assert main(["--store", str(tmp_path / "registry.duckdb"), "daily", "--max-days-ahead", "2"]) == 0
    assert seen[0].max_days_ahead == 2
    monkeypatch.setenv("JUKI_MAX_DAYS_AHEAD", "-1")
    assert main(["--store", str(tmp_path / "registry.duckdb"), "daily"]) == 2
