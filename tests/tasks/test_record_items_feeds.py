"""旧氏 and 在留期間 (issue 11, item 12) reach the outputs that carry them: the snapshot, 住基ネット, 法務省."""

from __future__ import annotations

import datetime as dt

from tasks.handoff import conbini_frame, feed_frame
from tests.builders import event, foreigner, person, resident_code, write_file

R = resident_code


def test_the_items_reach_the_snapshot_and_the_feeds_that_carry_them(register):
    """A wife with a 旧氏 and a student with a 在留期間 move in; the 在留期間 changes with a STATUS_CHANGE."""
    register.ingest(write_file(register.inbox, "2026-04-01", [
        event("b1", "BASELINE", "2020-01-01", "2026-04-01", **person(1))]))
    (moved,) = register.ingest(write_file(register.inbox, "2026-04-02", [
        event("i2", "MOVE_IN", "2026-04-02", **person(2, household_id="H1", relationship="妻", given_name="花子",
                                                   sex="2", former_surname="鈴木", prev_address="東京都北区")),
        event("i3", "MOVE_IN", "2026-04-02", **foreigner(3, stay_period="2年3月", prev_address="東京都北区"))]))
    assert moved.rows_applied == 2, register.quarantine()
    (renewed,) = register.ingest(write_file(register.inbox, "2026-04-03", [
        event("s3", "STATUS_CHANGE", "2026-04-03", resident_code=R(3), foreign_resident_category="MID_LONG",
              residence_status="留学", residence_card_no="AB12345678CD", stay_expiry_date="2030-03-31",
              stay_period="4年")]))
    assert renewed.rows_applied == 1, register.quarantine()

    snapshot, _ = conbini_frame(register.con, dt.date(2026, 4, 3))
    rows = {r["resident_code"]: r for r in snapshot.to_dicts()}
    assert (rows[R(2)]["former_surname"], rows[R(2)]["stay_period"]) == ("鈴木", None)
    assert (rows[R(3)]["former_surname"], rows[R(3)]["stay_period"]) == (None, "4年")
    net = {r["event_id"]: r for r in feed_frame(register.con, "juki_net", 2).to_dicts()}
    assert net["i2"]["former_surname"] == "鈴木" and "stay_period" not in net["i2"]
    immigration = {r["event_id"]: r for r in feed_frame(register.con, "immigration", 2).to_dicts()}
    assert set(immigration) == {"i3"} and "former_surname" not in immigration["i3"]
    assert feed_frame(register.con, "immigration", 3).is_empty()  # STATUS_CHANGE comes from 法務省 (item 5)
    assert "former_surname" not in feed_frame(register.con, "koseki_fuhyo", 2).columns
