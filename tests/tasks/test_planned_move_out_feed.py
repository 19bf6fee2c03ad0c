"""A planned move-out (転出予定) reaches the change feeds on its 予定日, not on the day it was notified (issue 11, 6)."""

from __future__ import annotations

from tasks.handoff import feed_frame
from tests.builders import event, foreigner, resident_code, write_file

R = resident_code


def city(register):
    """Foreigners 1-3 resident since 2020; on 04-10, 1 and 2 notify a move-out planned for 04-14, 3 one for that day."""
    register.ingest(write_file(register.inbox, "2026-04-01", [
        event(f"b{n}", "BASELINE", "2020-01-01", "2026-04-01", **foreigner(n)) for n in range(1, 4)]))
    (plans,) = register.ingest(write_file(register.inbox, "2026-04-10", [
        event("p1", "MOVE_OUT", "2026-04-14", "2026-04-10", resident_code=R(1), dest_address="東京都北区"),
        event("p2", "MOVE_OUT", "2026-04-14", "2026-04-10", resident_code=R(2), dest_address="東京都北区"),
        event("p3", "MOVE_OUT", "2026-04-10", resident_code=R(3), dest_address="東京都北区")]))
    assert plans.rows_applied == 3, register.quarantine()


def day_file(register, day: str, rows: list[dict]) -> None:
    (outcome,) = register.ingest(write_file(register.inbox, day, rows))
    assert outcome.rows_applied == len(rows), register.quarantine()


def sent(register, subscriber: str, delivery_no: int) -> list[tuple[str, str | None]]:
    """(event_id, record_status) of the rows of a subscriber's file for one delivery."""
    return [(r["event_id"], r["record_status"]) for r in feed_frame(register.con, subscriber, delivery_no).to_dicts()]


def test_a_plan_is_sent_on_its_date_and_a_cancelled_one_never(register):
    """04-10 sends only the move-out of that day; 2's plan is cancelled on 04-13; 04-14's file sends 1's plan."""
    city(register)
    day_file(register, "2026-04-13", [event("x2", "CANCEL", "2026-04-13", resident_code=R(2), cancels_event_id="p2")])
    day_file(register, "2026-04-14", [])
    for subscriber in ("immigration", "juki_net"):
        assert sent(register, subscriber, 2) == [("p3", "removed")]
        assert sent(register, subscriber, 3) == []  # neither the plan nor its CANCEL: the plan was never sent
        assert sent(register, subscriber, 4) == [("p1", "removed")]


def test_a_plan_cancelled_after_its_date_travels_as_a_cancel(register):
    """Sent on 04-14; a 転出取消 on 04-15 is its own CANCEL row, the person current again."""
    city(register)
    day_file(register, "2026-04-14", [])
    day_file(register, "2026-04-15", [event("x1", "CANCEL", "2026-04-15", resident_code=R(1),
                                            cancels_event_id="p1")])
    assert sent(register, "immigration", 3) == [("p1", "current"), ("p2", "removed")]
    assert sent(register, "immigration", 4) == [("x1", "current")]


def test_no_file_on_the_date_sends_it_with_the_next_and_a_confirmation_replaces_it(register):
    """No file on 04-14: the next one (04-16) sends 1's plan once; 2's plan confirmed on 04-13 is never sent,
    its confirmation is."""
    city(register)
    day_file(register, "2026-04-13", [event("c2", "MOVE_OUT_CONFIRMED", "2026-04-12", "2026-04-13",
                                            resident_code=R(2), dest_address="東京都北区赤羽1-1")])
    day_file(register, "2026-04-16", [])
    day_file(register, "2026-04-17", [])
    assert sent(register, "immigration", 3) == [("c2", "removed")]
    assert sent(register, "immigration", 4) == [("p1", "removed")]
    assert sent(register, "immigration", 5) == []
