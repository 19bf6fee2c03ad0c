"""転出確定 (MOVE_OUT_CONFIRMED): the actual move-out date from the 転入通知 replaces the planned one."""

from __future__ import annotations

import datetime as dt

from tasks import stats
from tests.builders import event, person, resident_code, write_file

R = resident_code
BASELINE_DATE = "2026-04-01"


def city(register):
    """Persons 1-4 resident since 2020; 1 and 2 file a move-out planned for 04-20 on 04-10."""
    register.ingest(write_file(register.inbox, BASELINE_DATE, [
        event(f"b{n}", "BASELINE", "2020-01-01", BASELINE_DATE, **person(n)) for n in range(1, 5)]))
    (plans,) = register.ingest(write_file(register.inbox, "2026-04-10", [
        event("p1", "MOVE_OUT", "2026-04-20", "2026-04-10", resident_code=R(1), dest_address="東京都北区"),
        event("p2", "MOVE_OUT", "2026-04-10", resident_code=R(2), dest_address="東京都北区")]))
    assert plans.rows_applied == 2


def moved_out(register, first: str, last: str) -> int:
    """moved_out_domestic summed over the keys for effective dates first..last."""
    table = stats.movements(register.con, dt.date.fromisoformat(first), dt.date.fromisoformat(last))
    return int(table["moved_out_domestic"].sum() or 0)


def test_the_actual_date_replaces_the_plan_earlier_or_later(register):
    """1 moved earlier than planned (04-15), 2 later (04-18): removed on the actual dates, one move-out each."""
    city(register)
    (outcome,) = register.ingest(write_file(register.inbox, "2026-04-25", [
        event("c1", "MOVE_OUT_CONFIRMED", "2026-04-15", "2026-04-25", resident_code=R(1), dest_address="東京都北区赤羽1-1"),
        event("c2", "MOVE_OUT_CONFIRMED", "2026-04-18", "2026-04-25", resident_code=R(2), dest_address="東京都北区赤羽2-2")]))
    assert (outcome.rows_applied, outcome.rows_quarantined) == (2, 0), register.quarantine()
    assert register.current(R(1), "2026-04-14")["status"] == "current"
    assert register.current(R(1), "2026-04-15")["status"] == "removed"
    assert register.current(R(1), "2026-04-15")["dest_address"] == "東京都北区赤羽1-1"
    assert register.current(R(2), "2026-04-17")["status"] == "current"  # the plan of 04-10 no longer removes
    assert register.current(R(2), "2026-04-18")["status"] == "removed"
    assert register.rows("select event_id, cancelled_by from event where event_id in ('p1', 'p2') order by 1") == [
        ("p1", "c1"), ("p2", "c2")]
    assert moved_out(register, "2026-04-01", "2026-04-30") == 2
    assert (moved_out(register, "2026-04-10", "2026-04-10"), moved_out(register, "2026-04-18", "2026-04-18")) == (0, 1)
    assert stats.balance_breaks(register.con, dt.date(2026, 4, 2), dt.date(2026, 4, 30)).height == 0


def test_a_confirmation_needs_a_planned_move_out(register):
    """Without a MOVE_OUT as the last removal (none, or a death) there is nothing to confirm; nor is a confirmation
    cancelled."""
    city(register)
    register.ingest(write_file(register.inbox, "2026-04-11", [event("d4", "DEATH", "2026-04-11", resident_code=R(4))]))
    (outcome,) = register.ingest(write_file(register.inbox, "2026-04-25", [
        event("c3", "MOVE_OUT_CONFIRMED", "2026-04-15", "2026-04-25", resident_code=R(3), dest_address="東京都北区"),
        event("c4", "MOVE_OUT_CONFIRMED", "2026-04-15", "2026-04-25", resident_code=R(4), dest_address="東京都北区"),
        event("c1", "MOVE_OUT_CONFIRMED", "2026-04-15", "2026-04-25", resident_code=R(1), dest_address="東京都北区")]),
        max_refused_share=1.0)
    assert register.quarantine() == {2: ["MOVE_OUT_NOT_PLANNED"], 3: ["MOVE_OUT_NOT_PLANNED"]}
    (cancel,) = register.ingest(write_file(register.inbox, "2026-04-26", [
        event("x1", "CANCEL", "2026-04-26", resident_code=R(1), cancels_event_id="c1")]), max_refused_share=1.0)
    assert register.quarantine() == {2: ["CANCEL_TARGET_IS_CONFIRMATION"]}
