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


def test_stay_period_and_former_surname_are_kept(register):
    """在留期間 on a 中長期在留者 and 旧氏 on a Japanese resident are kept on the record and by a NAME_CHANGE."""
    (outcome,) = register.ingest(write_file(register.inbox, "2026-04-01", [
        event("b1", "BASELINE", "2020-01-01", "2026-04-01", **foreigner(1, stay_period="3年")),
        event("b2", "BASELINE", "2020-01-01", "2026-04-01", **person(2, former_surname="鈴木")),
        # 在留期間 belongs to 中長期在留者 only; 旧氏 to Japanese residents only; the format is years/months/days
        event("b3", "BASELINE", "2020-01-01", "2026-04-01", **foreigner(
            3, foreign_resident_category="SPECIAL_PERMANENT", residence_status=None, stay_expiry_date=None,
            residence_card_no="AB00000003CD", stay_period="3年")),
        event("b4", "BASELINE", "2020-01-01", "2026-04-01", **foreigner(4, former_surname="鈴木")),
        event("b5", "BASELINE", "2020-01-01", "2026-04-01", **foreigner(5, stay_period="3 years")),
        event("b6", "BASELINE", "2020-01-01", "2026-04-01", **person(6))]), max_refused_share=1.0)
    assert (outcome.rows_applied, outcome.rows_quarantined) == (3, 3)
    assert register.quarantine() == {4: ["FOREIGN_CATEGORY_FIELDS"], 5: ["JAPANESE_FIELDS_ON_FOREIGNER"],
                                     6: ["STAY_PERIOD_FORMAT"]}
    assert register.current(R(1), "2026-04-01")["stay_period"] == "3年"
    assert register.current(R(2), "2026-04-01")["former_surname"] == "鈴木"
    (changes,) = register.ingest(write_file(register.inbox, "2026-04-02", [
        event("n6", "NAME_CHANGE", "2026-04-02", resident_code=R(6), family_name="佐藤", given_name="太郎",
              family_name_kana="サトウ", given_name_kana="タロウ", former_surname="川口"),
        event("s1", "STATUS_CHANGE", "2026-04-02", resident_code=R(1), foreign_resident_category="MID_LONG",
              residence_status="技術・人文知識・国際業務", residence_card_no="AB00000001CD",
              stay_expiry_date="2031-04-01", stay_period="5年")]))
    assert changes.rows_applied == 2, register.quarantine()
    assert register.current(R(6), "2026-04-02")["former_surname"] == "川口"
    assert register.current(R(1), "2026-04-02")["stay_period"] == "5年"


def test_a_version_1_file_without_the_added_columns_is_whole(register):
    """A header without former_surname and stay_period is a version-1 file: read whole, the columns not given."""
    from schemas.change_file import COLUMNS_V1
    from tests.builders import csv_text

    path = register.inbox / "112038_changes_20260401.csv"
    path.write_text(csv_text([event("b1", "BASELINE", "2020-01-01", "2026-04-01", **foreigner(1))],
                             columns=COLUMNS_V1), encoding="utf-8")
    (outcome,) = register.ingest(path)
    assert (outcome.status, outcome.rows_applied) == ("applied", 1)
    assert register.current(R(1), "2026-04-01")["stay_period"] is None


def test_foreign_resident_since_is_set_by_a_loss_of_nationality(register):
    """外国人住民となった年月日: resident_since for a foreigner; the 国籍喪失 date for a Japanese who becomes foreign."""
    from juki.queries import show

    register.ingest(write_file(register.inbox, "2026-04-01", [
        event("b1", "BASELINE", "2020-01-01", "2026-04-01", **foreigner(1)),
        event("b2", "BASELINE", "2019-01-01", "2026-04-01", **person(2))]))
    register.ingest(write_file(register.inbox, "2026-04-10", [
        event("x2", "NATIONALITY_CHANGE", "2026-04-08", "2026-04-10", resident_code=R(2), nationality="US",
              foreign_resident_category="NATIONALITY_LOSS_TRANSITION")]))
    import datetime as dt

    one = show(register.con, R(1), dt.date(2026, 4, 10))["record"]
    two = show(register.con, R(2), dt.date(2026, 4, 10))
    assert str(one["foreign_resident_since"]) == "2020-01-01"
    assert str(two["record"]["foreign_resident_since"]) == "2026-04-08"
    assert [v["foreign_resident_since"] for v in two["history"]][0] is None
    assert (two["record"]["honseki"], str(two["record"]["resident_since"])) == (None, "2019-01-01")
