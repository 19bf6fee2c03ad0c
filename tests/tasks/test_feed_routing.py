"""The 附票 feeds routed by 本籍 and 支援措置 on every feed (issue 11, items 3 and 4), on a small inline register."""

from __future__ import annotations

import datetime as dt

import pytest

from juki_core.settings import Settings
from tasks.handoff import deliveries_on, feed_frame
from tests.builders import event, foreigner, person, resident_code, write_file

R = resident_code
HERE, TOKYO = "埼玉県川口市本町一丁目1番地", "東京都千代田区千代田1番地"


def ingest(register, business_date: str, rows: list[dict]) -> int:
    """Ingest one day's file, every row applied; its delivery number."""
    (outcome,) = register.ingest(write_file(register.inbox, business_date, rows))
    assert outcome.rows_applied == len(rows), register.quarantine()
    return deliveries_on(register.con, dt.date.fromisoformat(business_date))[-1]


def rows(register, name: str, delivery: int, city_name: str | None = None) -> list[tuple]:
    """(event_id, resident_code, record_status, support_measure) of a feed's rows for one delivery."""
    frame = feed_frame(register.con, name, delivery, city_name=city_name)
    flags = frame["support_measure"] if "support_measure" in frame.columns else [None] * frame.height
    return list(zip(frame["event_id"], frame["resident_code"], frame["record_status"], flags))


@pytest.fixture
def routed(register):
    """1 and 2 with the 本籍 here, 3 in Tokyo (one with a space in it), 4 foreign; a day of address changes."""
    ingest(register, "2026-04-01", [
        event(f"base{n}", "BASELINE", "2020-01-01", "2026-04-01", **r) for n, r in (
            (1, person(1)), (2, person(2)), (3, person(3, honseki="東京都 千代田区千代田1番地")), (4, foreigner(4)))])
    return register


def test_each_fuhyo_feed_gets_the_persons_whose_fuhyo_it_keeps(routed):
    """管内本籍人 go to this city's 附票 system, the others via CS; 国外転出 too; a foreigner to neither."""
    d = ingest(routed, "2026-04-02", [
        event("m1", "MOVE_WITHIN", "2026-04-02", resident_code=R(1), town_code="0002", address_line="1-1"),
        event("m3", "MOVE_WITHIN", "2026-04-02", resident_code=R(3), town_code="0002", address_line="3-3"),
        event("m4", "MOVE_WITHIN", "2026-04-02", resident_code=R(4), town_code="0002", address_line="4-4"),
        event("a2", "MOVE_ABROAD", "2026-04-02", resident_code=R(2), dest_address="アメリカ合衆国"),
    ])
    assert rows(routed, "koseki_fuhyo", d) == [("m1", R(1), "current", False), ("a2", R(2), "removed", False)]
    assert rows(routed, "koseki_fuhyo_cs", d) == [("m3", R(3), "current", False)]
    # another city's name in the settings: what was here is elsewhere (the 本籍 text decides, spaces ignored)
    assert [r[0] for r in rows(routed, "koseki_fuhyo", d, "東京都千代田区")] == ["m3"]
    assert [r[0] for r in rows(routed, "koseki_fuhyo_cs", d, "東京都千代田区")] == ["m1", "a2"]


def test_a_honseki_that_moves_changes_the_feed_from_the_change_on(routed):
    """転籍 out of the city: this city's 附票 gets a row with no record (drop the person), the 本籍地 via CS the
    record; later changes go via CS only."""
    d = ingest(routed, "2026-04-02", [
        event("t1", "CORRECTION_BY_AUTHORITY", "2026-04-02", resident_code=R(1), honseki=TOKYO,
              hittousha="川口　太郎"),
    ])
    (gone,) = feed_frame(routed.con, "koseki_fuhyo", d).to_dicts()
    assert (gone["event_id"], gone["resident_code"], gone["record_status"]) == ("t1", R(1), None)
    assert gone["honseki"] is None and gone["address"] is None and gone["family_name"] is None
    (came,) = feed_frame(routed.con, "koseki_fuhyo_cs", d).to_dicts()
    assert (came["event_id"], came["honseki"], came["record_status"]) == ("t1", TOKYO, "current")
    later = ingest(routed, "2026-04-03", [
        event("n1", "NAME_CHANGE", "2026-04-03", resident_code=R(1), family_name="蕨", given_name="太郎",
              family_name_kana="ワラビ", given_name_kana="タロウ"),
        event("d1", "DEATH", "2026-04-03", resident_code=R(1)),
    ])
    assert rows(routed, "koseki_fuhyo", later) == []
    assert rows(routed, "koseki_fuhyo_cs", later) == [("n1", R(1), "removed", False), ("d1", R(1), "removed", False)]


def test_a_support_measure_starts_and_ends_on_its_own_rows_and_flags_the_rest(routed):
    """支援措置: its start and end are rows of juki_net and the 附票 feeds; a row of a protected person is flagged;
    immigration and the 附票 feed that does not keep the person get nothing."""
    start = ingest(routed, "2026-04-02", [
        event("s1", "SUPPORT_MEASURE", "2026-04-02", resident_code=R(1), support_measure="1"),
        event("s4", "SUPPORT_MEASURE", "2026-04-02", resident_code=R(4), support_measure="1"),
    ])
    assert rows(routed, "juki_net", start) == [("s1", R(1), "current", True), ("s4", R(4), "current", True)]
    assert rows(routed, "koseki_fuhyo", start) == [("s1", R(1), "current", True)]
    assert rows(routed, "koseki_fuhyo_cs", start) == [] and feed_frame(routed.con, "immigration", start).height == 0
    move = ingest(routed, "2026-04-03", [
        event("m1", "MOVE_WITHIN", "2026-04-03", resident_code=R(1), town_code="0002", address_line="1-1"),
    ])
    assert rows(routed, "juki_net", move) == [("m1", R(1), "current", True)]
    assert rows(routed, "koseki_fuhyo", move) == [("m1", R(1), "current", True)]
    end = ingest(routed, "2026-04-04", [
        event("e1", "SUPPORT_MEASURE", "2026-04-04", resident_code=R(1), support_measure="0"),
    ])
    assert rows(routed, "juki_net", end) == [("e1", R(1), "current", False)]
    assert rows(routed, "koseki_fuhyo", end) == [("e1", R(1), "current", False)]


def test_the_city_name_is_a_setting(monkeypatch, tmp_path):
    """Default: the synthetic city's name; $JUKI_CITY_NAME overrides it."""
    monkeypatch.delenv("JUKI_CITY_NAME", raising=False)
    assert Settings.resolve(tmp_path / "s.duckdb").city_name == "埼玉県川口市"
    monkeypatch.setenv("JUKI_CITY_NAME", "東京都千代田区")
    assert Settings.resolve(tmp_path / "s.duckdb").city_name == "東京都千代田区"
