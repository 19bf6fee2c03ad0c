"""The per-person replay of tasks/history.py: event effects, state rules and version chains."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas.change_file import COLUMNS, DATE_COLUMNS, FOREIGN_ONLY
from tasks.history import apply_event, insertion_point, judge, judge_cancel, replay, versions
from tests.builders import event, foreigner, person, resident_code

CODE = resident_code(1)


def d(value: str) -> dt.date:
    """An ISO date."""
    return dt.date.fromisoformat(value)


def ev(event_id: str, kind: str, effective: str, notified: str | None = None, *,
       business_date: str | None = None, line: int = 2, delivery_no: int = 1, **columns) -> dict:
    """An event as the replay sees it: every column (None when not given), dates typed, ledger keys set."""
    row = {c: None for c in COLUMNS}
    row.update(event(event_id, kind, effective, notified, resident_code=CODE, **columns))
    for column in DATE_COLUMNS:
        if isinstance(row[column], str):
            row[column] = d(row[column])
    row.update(business_date=d(business_date or row["notified_date"].isoformat()), delivery_no=delivery_no,
               line=line)
    return row


def jp(**overrides) -> dict:
    """The full record of the Japanese person 1 (without resident_code, which ev sets)."""
    record = person(1, **overrides)
    del record["resident_code"]
    return record


def fr(**overrides) -> dict:
    """The full record of the foreign person 1 (MID_LONG)."""
    record = foreigner(1, **overrides)
    del record["resident_code"]
    return record


def run(*events: dict) -> dict:
    """Replay events that must all hold; the final record."""
    state, failed_at, problem = replay(list(events))
    assert failed_at is None, (failed_at, problem)
    return state


def refused(*events: dict) -> str:
    """Replay events whose last one must break a rule; the rule id."""
    state, failed_at, problem = replay(list(events))
    assert failed_at == len(events) - 1, (failed_at, problem)
    return problem


BASE = ev("b1", "BASELINE", "2020-01-01", "2026-04-01", **jp())
FBASE = ev("b1", "BASELINE", "2020-01-01", "2026-04-01", **fr(alias_name="王偉"))


# --- adding events ------------------------------------------------------------------------

def test_baseline_with_address_since():
    """BASELINE adds a current record; address_since is the given day, resident_since the effective date."""
    state = run(ev("b1", "BASELINE", "2020-01-01", "2026-04-01", address_since="2015-06-01", **jp()))
    assert state["status"] == "current"
    assert state["resident_since"] == d("2020-01-01")
    assert state["address_since"] == d("2015-06-01")
    assert state["address_notified_date"] == d("2026-04-01")
    assert state["support_measure"] is False
    assert state["family_name"] == "川口" and state["my_number"] == person(1)["my_number"]
    assert state["dest_address"] is None


def test_baseline_without_address_since_uses_effective_date():
    """An empty address_since equals effective_date."""
    assert run(BASE)["address_since"] == d("2020-01-01")


def test_birth_adds_a_person():
    """BIRTH adds a current record born on its effective date."""
    state = run(ev("n1", "BIRTH", "2026-04-03", "2026-04-05", **jp(birth_date="2026-04-03", support_measure="1")))
    assert state["status"] == "current"
    assert state["birth_date"] == d("2026-04-03")
    assert state["resident_since"] == d("2026-04-03")
    assert state["support_measure"] is True


def test_move_in_of_a_former_resident():
    """A former resident moving back in gets a fresh record: new address, resident_since and prev_address."""
    state = run(BASE,
                ev("o1", "MOVE_OUT", "2026-04-05", dest_address="東京都千代田区"),
                ev("i1", "MOVE_IN", "2026-05-10", "2026-05-12",
                   **jp(town_code="0002", address_line="5-5", household_id="H9"), prev_address="東京都千代田区"))
    assert state["status"] == "current"
    assert state["resident_since"] == d("2026-05-10")
    assert state["address_since"] == d("2026-05-10")
    assert state["address_notified_date"] == d("2026-05-12")
    assert (state["town_code"], state["address_line"], state["household_id"]) == ("0002", "5-5", "H9")
    assert state["prev_address"] == "東京都千代田区"
    assert state["dest_address"] is None


def test_return_from_abroad_after_move_abroad():
    """RETURN_FROM_ABROAD re-adds a person who moved abroad."""
    state = run(BASE,
                ev("o1", "MOVE_ABROAD", "2026-04-05", dest_address="アメリカ合衆国"),
                ev("r1", "RETURN_FROM_ABROAD", "2027-01-10", **jp(), prev_address="アメリカ合衆国"))
    assert state["status"] == "current"
    assert state["resident_since"] == d("2027-01-10")
    assert state["prev_address"] == "アメリカ合衆国"


def test_entry_by_authority_after_removal_by_authority():
    """ENTRY_BY_AUTHORITY re-adds a person removed by authority."""
    state = run(BASE,
                ev("x1", "REMOVAL_BY_AUTHORITY", "2026-04-05"),
                ev("x2", "ENTRY_BY_AUTHORITY", "2026-06-01", **jp(address_line="9-9")))
    assert state["status"] == "current"
    assert state["address_line"] == "9-9"
    assert state["resident_since"] == d("2026-06-01")


# --- changes ------------------------------------------------------------------------------

def test_move_within_without_household():
    """MOVE_WITHIN changes the address and its dates, and keeps the household."""
    state = run(BASE, ev("m1", "MOVE_WITHIN", "2026-04-10", "2026-04-12", town_code="0002", address_line="7-7"))
    assert (state["town_code"], state["address_line"]) == ("0002", "7-7")
    assert state["address_since"] == d("2026-04-10")
    assert state["address_notified_date"] == d("2026-04-12")
    assert (state["household_id"], state["relationship"]) == ("H1", "世帯主")
    assert state["resident_since"] == d("2020-01-01")


def test_move_within_with_household():
    """MOVE_WITHIN with household_id and relationship moves the person into that household."""
    state = run(BASE, ev("m1", "MOVE_WITHIN", "2026-04-10", town_code="0002", address_line="7-7",
                         household_id="H2", relationship="子"))
    assert (state["household_id"], state["relationship"]) == ("H2", "子")


def test_household_change():
    """HOUSEHOLD_CHANGE sets household_id and relationship, nothing else."""
    state = run(BASE, ev("h1", "HOUSEHOLD_CHANGE", "2026-04-10", household_id="H7", relationship="妻"))
    assert (state["household_id"], state["relationship"]) == ("H7", "妻")
    assert state["address_since"] == d("2020-01-01")


def test_name_change_keeps_alias_when_not_given():
    """NAME_CHANGE sets the four names; an alias not given is kept."""
    state = run(FBASE, ev("n1", "NAME_CHANGE", "2026-04-10", family_name="LI", given_name="NA",
                          family_name_kana="リ", given_name_kana="ナ"))
    assert (state["family_name"], state["given_name"]) == ("LI", "NA")
    assert (state["family_name_kana"], state["given_name_kana"]) == ("リ", "ナ")
    assert state["alias_name"] == "王偉"


def test_name_change_with_alias_for_a_foreigner():
    """NAME_CHANGE may give a foreign resident a new alias (通称)."""
    state = run(FBASE, ev("n1", "NAME_CHANGE", "2026-04-10", family_name="LI", given_name="NA",
                          family_name_kana="リ", given_name_kana="ナ", alias_name="李娜"))
    assert state["alias_name"] == "李娜"


def test_status_change_clears_what_the_new_category_does_not_carry():
    """MID_LONG -> SPECIAL_PERMANENT: residence_status and stay_expiry_date are cleared, the card replaced."""
    state = run(FBASE, ev("s1", "STATUS_CHANGE", "2026-04-10", foreign_resident_category="SPECIAL_PERMANENT",
                          residence_card_no="ZZ87654321YY"))
    assert state["foreign_resident_category"] == "SPECIAL_PERMANENT"
    assert state["residence_card_no"] == "ZZ87654321YY"
    assert state["residence_status"] is None and state["stay_expiry_date"] is None
    assert state["alias_name"] == "王偉"


def test_status_change_to_a_category_carrying_nothing():
    """-> NATIONALITY_LOSS_TRANSITION: all three carried columns are cleared."""
    state = run(FBASE, ev("s1", "STATUS_CHANGE", "2026-04-10",
                          foreign_resident_category="NATIONALITY_LOSS_TRANSITION"))
    assert [state[c] for c in ("residence_status", "residence_card_no", "stay_expiry_date")] == [None] * 3


def test_nationality_change_to_jp_clears_foreign_only_columns():
    """Naturalisation clears alias and the foreign columns and sets honseki/hittousha."""
    state = run(FBASE, ev("n1", "NATIONALITY_CHANGE", "2026-04-10", nationality="JP",
                          honseki="埼玉県川口市青木一丁目1番地", hittousha="王　偉"))
    assert state["nationality"] == "JP"
    assert all(state[c] is None for c in FOREIGN_ONLY)
    assert (state["honseki"], state["hittousha"]) == ("埼玉県川口市青木一丁目1番地", "王　偉")


def test_nationality_change_from_jp_clears_honseki_and_hittousha():
    """Loss of Japanese nationality clears honseki/hittousha and sets the category."""
    state = run(BASE, ev("n1", "NATIONALITY_CHANGE", "2026-04-10", nationality="US",
                         foreign_resident_category="NATIONALITY_LOSS_TRANSITION"))
    assert state["nationality"] == "US"
    assert state["honseki"] is None and state["hittousha"] is None
    assert state["foreign_resident_category"] == "NATIONALITY_LOSS_TRANSITION"


def test_nationality_change_between_foreign_countries_keeps_the_category():
    """CN -> KR without a category keeps the current one."""
    state = run(FBASE, ev("n1", "NATIONALITY_CHANGE", "2026-04-10", nationality="KR"))
    assert state["nationality"] == "KR"
    assert state["foreign_resident_category"] == "MID_LONG"
    assert state["residence_card_no"] == "AB12345678CD"


def test_support_measure_on_and_off():
    """SUPPORT_MEASURE 1 protects the person, 0 ends it."""
    on = run(BASE, ev("s1", "SUPPORT_MEASURE", "2026-04-10", support_measure="1"))
    assert on["support_measure"] is True
    off = run(BASE, ev("s1", "SUPPORT_MEASURE", "2026-04-10", support_measure="1"),
              ev("s2", "SUPPORT_MEASURE", "2026-05-10", support_measure="0"))
    assert off["support_measure"] is False


def test_correction_overwrites_only_given_columns():
    """CORRECTION_BY_AUTHORITY overwrites the non-empty columns given and keeps the rest."""
    state = run(BASE, ev("c1", "CORRECTION_BY_AUTHORITY", "2026-04-10", birth_date="1981-05-05", sex="2",
                         support_measure="1"))
    assert state["birth_date"] == d("1981-05-05")
    assert state["sex"] == "2"
    assert state["support_measure"] is True
    assert state["family_name"] == "川口" and state["town_code"] == "0001"


def test_correction_to_jp_clears_foreign_columns():
    """A correction of nationality to JP clears the foreign-only columns like a naturalisation."""
    state = run(FBASE, ev("c1", "CORRECTION_BY_AUTHORITY", "2026-04-10", nationality="JP"))
    assert state["nationality"] == "JP"
    assert all(state[c] is None for c in FOREIGN_ONLY)


@pytest.mark.parametrize("kind, dest", [("MOVE_OUT", "東京都千代田区"), ("MOVE_ABROAD", "フランス")])
def test_moves_out_remove_with_destination(kind, dest):
    """MOVE_OUT and MOVE_ABROAD remove the person and record the destination; the record is kept."""
    state = run(BASE, ev("o1", kind, "2026-04-20", "2026-04-10", dest_address=dest))
    assert state["status"] == "removed"
    assert state["dest_address"] == dest
    assert state["family_name"] == "川口" and state["town_code"] == "0001"


@pytest.mark.parametrize("kind", ["DEATH", "REMOVAL_BY_AUTHORITY"])
def test_death_and_removal_remove(kind):
    """DEATH and REMOVAL_BY_AUTHORITY remove the person and keep the record."""
    state = run(BASE, ev("x1", kind, "2026-04-20"))
    assert state["status"] == "removed"
    assert state["dest_address"] is None
    assert state["my_number"] == person(1)["my_number"]


# --- state rules --------------------------------------------------------------------------

def test_birth_of_a_known_person_is_already_known():
    """BIRTH of a person the register knows is PERSON_ALREADY_KNOWN."""
    assert refused(BASE, ev("n1", "BIRTH", "2026-04-10", **jp(birth_date="2026-04-10"))) == "PERSON_ALREADY_KNOWN"


def test_baseline_of_a_removed_person_is_already_known():
    """A removed person is still known: a second BASELINE is PERSON_ALREADY_KNOWN."""
    assert refused(BASE, ev("x1", "DEATH", "2026-04-10"),
                   ev("b2", "BASELINE", "2026-04-11", **jp())) == "PERSON_ALREADY_KNOWN"


@pytest.mark.parametrize("kind", ["MOVE_IN", "RETURN_FROM_ABROAD", "ENTRY_BY_AUTHORITY"])
def test_adding_a_current_person_is_already_current(kind):
    """MOVE_IN / RETURN_FROM_ABROAD / ENTRY_BY_AUTHORITY of a current person is PERSON_ALREADY_CURRENT."""
    assert refused(BASE, ev("i1", kind, "2026-04-10", **jp(), prev_address="X")) == "PERSON_ALREADY_CURRENT"


def test_move_in_of_an_unknown_person_is_allowed():
    """A person never seen may move in."""
    assert run(ev("i1", "MOVE_IN", "2026-04-10", **jp(), prev_address="東京都"))["status"] == "current"


@pytest.mark.parametrize("kind, columns", [
    ("DEATH", {}), ("MOVE_WITHIN", {"town_code": "0002", "address_line": "1"}),
    ("SUPPORT_MEASURE", {"support_measure": "1"}), ("MOVE_OUT", {"dest_address": "X"}),
])
def test_change_of_an_unknown_person_is_not_current(kind, columns):
    """A change or removal of a person the register does not know is PERSON_NOT_CURRENT."""
    assert refused(ev("x1", kind, "2026-04-10", **columns)) == "PERSON_NOT_CURRENT"


def test_change_after_death_is_not_current():
    """A move after death is PERSON_NOT_CURRENT."""
    assert refused(BASE, ev("x1", "DEATH", "2026-04-10"),
                   ev("m1", "MOVE_WITHIN", "2026-04-11", town_code="0002", address_line="1")) == "PERSON_NOT_CURRENT"


def test_second_death_is_not_current():
    """Removing a removed person is PERSON_NOT_CURRENT."""
    assert refused(BASE, ev("x1", "DEATH", "2026-04-10"), ev("x2", "DEATH", "2026-04-10")) == "PERSON_NOT_CURRENT"


def test_status_change_of_a_japanese_is_not_foreign():
    """STATUS_CHANGE of a Japanese person is PERSON_NOT_FOREIGN."""
    assert refused(BASE, ev("s1", "STATUS_CHANGE", "2026-04-10",
                            foreign_resident_category="BIRTH_TRANSITION")) == "PERSON_NOT_FOREIGN"


def test_refused_event_leaves_the_state_unchanged():
    """apply_event returns the state it was given when the event breaks a rule."""
    state = run(BASE)
    after, problem = apply_event(state, ev("s1", "STATUS_CHANGE", "2026-04-10",
                                           foreign_resident_category="BIRTH_TRANSITION"))
    assert problem == "PERSON_NOT_FOREIGN"
    assert after is state


# --- rules on the record after a state-dependent event ------------------------------------

def test_alias_for_a_japanese_by_name_change_is_foreign_fields_on_japanese():
    """A NAME_CHANGE giving a Japanese person an alias breaks FOREIGN_FIELDS_ON_JAPANESE."""
    assert refused(BASE, ev("n1", "NAME_CHANGE", "2026-04-10", family_name="山田", given_name="花子",
                            family_name_kana="ヤマダ", given_name_kana="ハナコ",
                            alias_name="ハナ")) == "FOREIGN_FIELDS_ON_JAPANESE"


def test_correction_giving_honseki_to_a_foreigner():
    """A correction giving honseki to a foreign record breaks JAPANESE_FIELDS_ON_FOREIGNER."""
    assert refused(FBASE, ev("c1", "CORRECTION_BY_AUTHORITY", "2026-04-10",
                             honseki="埼玉県川口市")) == "JAPANESE_FIELDS_ON_FOREIGNER"


def test_correction_to_jp_with_a_foreign_column():
    """A correction to JP that also gives a residence card breaks FOREIGN_FIELDS_ON_JAPANESE."""
    assert refused(FBASE, ev("c1", "CORRECTION_BY_AUTHORITY", "2026-04-10", nationality="JP",
                             residence_card_no="AB12345678CD")) == "FOREIGN_FIELDS_ON_JAPANESE"


def test_nationality_change_from_jp_without_category():
    """Losing Japanese nationality without a category breaks FOREIGN_CATEGORY_MISSING."""
    assert refused(BASE, ev("n1", "NATIONALITY_CHANGE", "2026-04-10",
                            nationality="US")) == "FOREIGN_CATEGORY_MISSING"


def test_correction_of_category_without_what_it_carries():
    """A correction to SPECIAL_PERMANENT keeps residence_status: FOREIGN_CATEGORY_FIELDS."""
    assert refused(FBASE, ev("c1", "CORRECTION_BY_AUTHORITY", "2026-04-10",
                             foreign_resident_category="SPECIAL_PERMANENT")) == "FOREIGN_CATEGORY_FIELDS"


@pytest.mark.parametrize("base, columns, rule", [
    (FBASE, {"nationality": "JP", "residence_card_no": "AB12345678CD"}, "FOREIGN_FIELDS_ON_JAPANESE"),
    (BASE, {"nationality": "US", "foreign_resident_category": "NATIONALITY_LOSS_TRANSITION",
            "honseki": "埼玉県川口市"}, "JAPANESE_FIELDS_ON_FOREIGNER"),
])
def test_nationality_change_judges_the_other_groups_columns(base, columns, rule):
    """Columns of the other group given with a NATIONALITY_CHANGE are judged on the record after it."""
    assert refused(base, ev("n1", "NATIONALITY_CHANGE", "2026-04-10", **columns)) == rule


def test_move_in_ignores_address_since():
    """address_since is BASELINE only: a MOVE_IN's address_since is its effective date."""
    state = run(ev("i1", "MOVE_IN", "2026-04-10", **jp(), prev_address="東京都", address_since="2001-01-01"))
    assert state["address_since"] == d("2026-04-10")


def test_death_ignores_dest_address():
    """dest_address is not a DEATH column: it stays empty in the record."""
    state = run(BASE, ev("x1", "DEATH", "2026-04-20", dest_address="東京都"))
    assert state["dest_address"] is None


# --- late events and cancellations ----------------------------------------------------------

MOVE = ev("m1", "MOVE_WITHIN", "2026-04-10", town_code="0002", address_line="7-7", line=3)


def test_late_event_is_placed_at_its_effective_date():
    """A NAME_CHANGE dated before an applied move goes before it, and the move still holds."""
    events = [BASE, MOVE]
    late = ev("n1", "NAME_CHANGE", "2026-04-05", "2026-04-20", family_name="山田", given_name="花子",
              family_name_kana="ヤマダ", given_name_kana="ハナコ", line=2)
    state = run(*events)
    problem, new_events, final = judge(events, state, late)
    assert problem is None
    assert [e["event_id"] for e in new_events] == ["b1", "n1", "m1"]
    assert final["family_name"] == "山田" and final["town_code"] == "0002"


def test_late_death_before_a_move_is_late_event_conflict():
    """A death dated before an applied move is LATE_EVENT_CONFLICT; nothing changes."""
    events = [BASE, MOVE]
    state = run(*events)
    problem, new_events, final = judge(events, state, ev("x1", "DEATH", "2026-04-05", "2026-04-20"))
    assert problem == "LATE_EVENT_CONFLICT"
    assert new_events == events and final is state


def test_late_event_breaking_its_own_rule_reports_that_rule():
    """A move dated before the person was added fails at its own place: PERSON_NOT_CURRENT."""
    events = [ev("i1", "MOVE_IN", "2026-04-05", **jp(), prev_address="東京都")]
    state = run(*events)
    late = ev("m1", "MOVE_WITHIN", "2026-04-01", "2026-04-06", town_code="0002", address_line="1")
    problem, new_events, _ = judge(events, state, late)
    assert problem == "PERSON_NOT_CURRENT"
    assert new_events == events


def test_late_death_without_later_events_is_accepted():
    """A death notified a week late with nothing after it is placed at its effective date."""
    events = [BASE]
    problem, new_events, final = judge(events, run(BASE), ev("x1", "DEATH", "2026-04-03", "2026-04-10"))
    assert problem is None
    assert final["status"] == "removed"
    assert versions(CODE, new_events)[-1]["valid_from"] == d("2026-04-03")


def test_same_effective_date_orders_by_business_date_then_line():
    """Events of one effective date keep the order (business date, delivery, line)."""
    early = ev("a", "MOVE_WITHIN", "2026-04-10", business_date="2026-04-10", line=5,
               town_code="0002", address_line="1")
    later_line = ev("b", "HOUSEHOLD_CHANGE", "2026-04-10", business_date="2026-04-10", line=9,
                    household_id="H2", relationship="子")
    later_file = ev("c", "SUPPORT_MEASURE", "2026-04-10", "2026-04-10", business_date="2026-04-11", line=2,
                    delivery_no=2, support_measure="1")
    events = [BASE, early, later_file]
    assert insertion_point(events, later_line) == 2
    assert insertion_point(events, ev("z", "DEATH", "2026-04-09", business_date="2026-04-12")) == 1
    assert insertion_point(events, ev("z", "DEATH", "2026-04-11")) == 3


def test_cancel_of_a_death_makes_the_person_current_again():
    """Without the cancelled DEATH the person is current, and the DEATH is gone from the events."""
    events = [BASE, ev("x1", "DEATH", "2026-04-10")]
    problem, remaining, final = judge_cancel(events, run(*events), "x1")
    assert problem is None
    assert [e["event_id"] for e in remaining] == ["b1"]
    assert final["status"] == "current"


def test_cancel_of_the_only_adding_event_makes_the_person_unknown():
    """Cancelling a person's only event leaves no record."""
    problem, remaining, final = judge_cancel([BASE], run(BASE), "b1")
    assert problem is None and remaining == [] and final is None


def test_cancel_of_a_move_out_followed_by_a_move_in_breaks_history():
    """Without the MOVE_OUT, the later MOVE_IN would add a current person: CANCEL_BREAKS_HISTORY."""
    events = [BASE, ev("o1", "MOVE_OUT", "2026-04-05", dest_address="X"),
              ev("i1", "MOVE_IN", "2026-05-01", **jp(), prev_address="X")]
    state = run(*events)
    problem, kept, final = judge_cancel(events, state, "o1")
    assert problem == "CANCEL_BREAKS_HISTORY"
    assert kept == events and final is state


def test_cancel_of_a_baseline_with_later_events_breaks_history():
    """Without the BASELINE, a later move has no current person: CANCEL_BREAKS_HISTORY."""
    events = [BASE, MOVE]
    assert judge_cancel(events, run(*events), "b1")[0] == "CANCEL_BREAKS_HISTORY"


# --- version chains -------------------------------------------------------------------------

def test_version_chain_valid_from_and_valid_to():
    """One version per event; each valid_to is the next valid_from, the last is open."""
    chain = versions(CODE, [BASE, MOVE, ev("x1", "DEATH", "2026-05-01", line=4)])
    assert [v["version_no"] for v in chain] == [1, 2, 3]
    assert [(v["valid_from"], v["valid_to"]) for v in chain] == [
        (d("2020-01-01"), d("2026-04-10")), (d("2026-04-10"), d("2026-05-01")), (d("2026-05-01"), None)]
    assert [v["status"] for v in chain] == ["current", "current", "removed"]
    assert [v["event_id"] for v in chain] == ["b1", "m1", "x1"]
    assert chain[0]["town_code"] == "0001" and chain[1]["town_code"] == "0002"
    assert all(v["resident_code"] == CODE for v in chain)


def test_same_day_events_give_a_zero_length_earlier_version():
    """Two events on one day: the earlier version is valid from and to that day."""
    chain = versions(CODE, [BASE, MOVE, ev("h1", "HOUSEHOLD_CHANGE", "2026-04-10", line=4,
                                           household_id="H2", relationship="子")])
    assert (chain[1]["valid_from"], chain[1]["valid_to"]) == (d("2026-04-10"), d("2026-04-10"))
    assert (chain[2]["valid_from"], chain[2]["valid_to"]) == (d("2026-04-10"), None)
    assert chain[2]["town_code"] == "0002" and chain[2]["household_id"] == "H2"


def test_versions_refuse_a_history_that_does_not_hold():
    """A stored history that no longer applies raises instead of losing an event silently."""
    with pytest.raises(ValueError):
        versions(CODE, [BASE, ev("n1", "BIRTH", "2026-04-10", **jp(birth_date="2026-04-10"))])
