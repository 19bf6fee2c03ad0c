"""The movements artifact: what a run's rows changed in the movement table, whatever their effective dates."""

from __future__ import annotations

import datetime as dt

from tasks.ingest import ingest_file
from tasks.summary import run_movements
from tests.builders import event, person, resident_code, write_file


def _ingest(register, day: str, rows: list[dict], run_id: str) -> None:
    path = write_file(register.inbox, day, rows)
    [outcome] = [ingest_file(register.con, str(path), register.settings.archive, "112038", 0.5, run_id)]
    assert outcome.status == "applied", outcome.reason


def test_a_monday_file_shows_the_weekend_and_late_movements_it_brought(register):
    """Monday's file reports a move-in of the Thursday before and a death on Saturday: both are in its table,
    though the movement table of Monday itself is empty; a later cancel shows as minus one."""
    _ingest(register, "2026-04-01", [event("B1", "BASELINE", "2026-04-01", **person(1)),
                                     event("B2", "BASELINE", "2026-04-01", **person(2, sex="2"))], "base")
    _ingest(register, "2026-04-06", [
        event("I3", "MOVE_IN", "2026-04-02", "2026-04-06", **person(3), prev_address="東京都千代田区"),
        event("D2", "DEATH", "2026-04-04", "2026-04-06", resident_code=resident_code(2)),
    ], "monday")
    reach, rows = run_movements(register.con, "monday")
    assert reach == (dt.date(2026, 4, 2), dt.date(2026, 4, 4))
    assert [(r["nationality_group"], r["sex"], r["moved_in_domestic"], r["deaths"], r["net_change"]) for r in rows] == [
        ("japanese", "1", 1, 0, 1), ("japanese", "2", 0, 1, -1)]

    _ingest(register, "2026-04-07", [event("C1", "CANCEL", "2026-04-07", cancels_event_id="I3",
                                           resident_code=resident_code(3))], "tuesday")
    reach, rows = run_movements(register.con, "tuesday")
    assert reach == (dt.date(2026, 4, 2), dt.date(2026, 4, 7))
    assert [(r["sex"], r["moved_in_domestic"], r["net_change"]) for r in rows] == [("1", -1, -1)]
    assert run_movements(register.con, "base") == (None, [])
