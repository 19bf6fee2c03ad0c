"""Items of the record (issue 11, item 12): 育成就労 from its start date, the 通称 cleared on 帰化."""

from __future__ import annotations

from schemas.change_file import residence_status_starts, residence_statuses
from tests.builders import event, foreigner, person, resident_code, write_file

R = resident_code


def test_ikusei_shuro_is_in_the_reference_data_from_2027_04_01():
    """育成就労 (the status replacing 技能実習) is registrable, with its start date."""
    assert residence_statuses()["育成就労"] is True
    assert str(residence_status_starts()["育成就労"]) == "2027-04-01"


def test_ikusei_shuro_before_its_start_date_is_refused(register):
    """A new resident and a status change with 育成就労 before 2027-04-01 are refused; on that day accepted."""
    (base,) = register.ingest(write_file(register.inbox, "2027-03-30", [
        event("b1", "BASELINE", "2020-01-01", "2027-03-30", **foreigner(1)),
        event("b2", "BASELINE", "2020-01-01", "2027-03-30", **foreigner(2, residence_card_no="AB00000002CD")),
        event("b3", "BASELINE", "2020-01-01", "2027-03-30", **person(3)),
        event("b4", "BASELINE", "2027-03-30", **foreigner(4, residence_status="育成就労",
                                                          residence_card_no="AB00000004CD"))]))
    assert (base.rows_applied, base.rows_quarantined) == (3, 1)
    assert register.quarantine() == {5: ["RESIDENCE_STATUS_NOT_IN_FORCE"]}
    (early,) = register.ingest(write_file(register.inbox, "2027-04-01", [
        event("s1", "STATUS_CHANGE", "2027-03-31", "2027-04-01", resident_code=R(1),
              foreign_resident_category="MID_LONG", residence_status="育成就労",
              residence_card_no="AB00000001CD", stay_expiry_date="2030-03-31"),
        event("s2", "STATUS_CHANGE", "2027-04-01", resident_code=R(2), foreign_resident_category="MID_LONG",
              residence_status="育成就労", residence_card_no="AB00000002CD", stay_expiry_date="2030-03-31")]),
        max_refused_share=1.0)
    assert (early.rows_applied, early.rows_quarantined) == (1, 1)
    assert register.quarantine() == {2: ["RESIDENCE_STATUS_NOT_IN_FORCE"]}
    assert register.current(R(2), "2027-04-01")["residence_status"] == "育成就労"
