"""At most one 世帯主 per household on every date (HOUSEHOLD_HAS_HEAD), judged on the end-of-day state."""

from __future__ import annotations

from tests.builders import event, person, resident_code, write_file

R = resident_code
BASELINE_DATE = "2026-04-01"


def base(register, *records):
    """A BASELINE file of these records, all applied."""
    (outcome,) = register.ingest(write_file(register.inbox, BASELINE_DATE, [
        event(f"b{int(r['resident_code'][:10])}", "BASELINE", "2020-01-01", BASELINE_DATE, **r) for r in records]))
    return outcome


def test_a_second_head_in_a_baseline_is_refused(register):
    """Two BASELINE rows naming a 世帯主 of H1: the later line is refused, the other household is untouched."""
    outcome = base(register, person(1, household_id="H1"), person(2, household_id="H1"),
                   person(3, household_id="H1", relationship="子"), person(4, household_id="H4"))
    assert (outcome.rows_applied, outcome.rows_quarantined) == (3, 1)
    assert register.quarantine() == {3: ["HOUSEHOLD_HAS_HEAD"]}


def test_a_head_change_in_one_file_is_lawful(register):
    """世帯主変更: the spouse becomes 世帯主 before the old head becomes 夫 on the same date (end-of-day state)."""
    base(register, person(1, household_id="H1"), person(2, household_id="H1", relationship="妻", sex="2"))
    (outcome,) = register.ingest(write_file(register.inbox, "2026-04-02", [
        event("h2", "HOUSEHOLD_CHANGE", "2026-04-02", resident_code=R(2), household_id="H1", relationship="世帯主"),
        event("h1", "HOUSEHOLD_CHANGE", "2026-04-02", resident_code=R(1), household_id="H1", relationship="夫")]))
    assert (outcome.rows_applied, outcome.rows_quarantined) == (2, 0), register.quarantine()


def test_a_second_head_and_the_persons_later_rows_are_refused(register):
    """Joining a household as 世帯主 while it has one: refused, and that person's later row depends on it."""
    base(register, person(1, household_id="H1"), person(2, household_id="H2"), person(3, household_id="H3"))
    (outcome,) = register.ingest(write_file(register.inbox, "2026-04-02", [
        event("n3", "NAME_CHANGE", "2026-04-02", resident_code=R(3), family_name="山田", given_name="三郎",
              family_name_kana="ヤマダ", given_name_kana="サブロウ"),
        event("m2", "MOVE_WITHIN", "2026-04-02", resident_code=R(2), town_code="0001", address_line="1-2-3",
              household_id="H1", relationship="世帯主"),
        event("n2", "NAME_CHANGE", "2026-04-02", resident_code=R(2), family_name="山田", given_name="花子",
              family_name_kana="ヤマダ", given_name_kana="ハナコ"),
        event("n1", "NAME_CHANGE", "2026-04-02", resident_code=R(1), family_name="山田", given_name="一郎",
              family_name_kana="ヤマダ", given_name_kana="イチロウ")]))
    assert (outcome.rows_applied, outcome.rows_quarantined) == (2, 2)
    assert register.quarantine() == {3: ["HOUSEHOLD_HAS_HEAD"], 4: ["DEPENDS_ON_REFUSED_ROW"]}
    assert register.current(R(2), "2026-04-02")["household_id"] == "H2"


def test_a_household_left_without_a_head_is_lawful(register):
    """The head dies: the death is applied; a new head may be named later, and a late second head is refused."""
    base(register, person(1, household_id="H1"), person(2, household_id="H1", relationship="妻", sex="2"),
         person(3, household_id="H1", relationship="子"))
    (death,) = register.ingest(write_file(register.inbox, "2026-04-05", [
        event("d1", "DEATH", "2026-04-05", resident_code=R(1))]))
    assert death.rows_applied == 1
    (later,) = register.ingest(write_file(register.inbox, "2026-04-10", [
        event("h2", "HOUSEHOLD_CHANGE", "2026-04-06", "2026-04-10", resident_code=R(2), household_id="H1",
              relationship="世帯主"),
        # a head dated before the death would be a second head on 2026-04-04
        event("h3", "HOUSEHOLD_CHANGE", "2026-04-04", "2026-04-10", resident_code=R(3), household_id="H1",
              relationship="世帯主")]))
    assert (later.rows_applied, later.rows_quarantined) == (1, 1)
    assert register.quarantine() == {3: ["HOUSEHOLD_HAS_HEAD"]}


def test_a_cancel_that_restores_a_second_head_is_refused(register):
    """Cancelling the old head's step-down after the spouse became head would leave two heads: refused."""
    base(register, person(1, household_id="H1"), person(2, household_id="H1", relationship="妻", sex="2"))
    register.ingest(write_file(register.inbox, "2026-04-02", [
        event("h2", "HOUSEHOLD_CHANGE", "2026-04-02", resident_code=R(2), household_id="H1", relationship="世帯主"),
        event("h1", "HOUSEHOLD_CHANGE", "2026-04-02", resident_code=R(1), household_id="H1", relationship="夫")]))
    (outcome,) = register.ingest(write_file(register.inbox, "2026-04-03", [
        event("c1", "CANCEL", "2026-04-03", resident_code=R(1), cancels_event_id="h1")]), max_refused_share=1.0)
    assert (outcome.rows_applied, outcome.rows_quarantined) == (0, 1)
    assert register.quarantine() == {2: ["HOUSEHOLD_HAS_HEAD"]}
    # cancelling both halves of the 世帯主変更 in one file ends the day with one head again
    (outcome,) = register.ingest(write_file(register.inbox, "2026-04-04", [
        event("c1", "CANCEL", "2026-04-04", resident_code=R(1), cancels_event_id="h1"),
        event("c2", "CANCEL", "2026-04-04", resident_code=R(2), cancels_event_id="h2")]))
    assert (outcome.rows_applied, outcome.rows_quarantined) == (2, 0), register.quarantine()
    assert [register.current(R(n), "2026-04-04")["relationship"] for n in (1, 2)] == ["世帯主", "妻"]


def test_audit_lists_households_without_a_head_for_more_than_14_days(register, capsys):
    """Head died on 04-05: listed on 04-20 (15 days), not on 04-19; a household left with one member never."""
    import datetime as dt

    from tasks.heads import households_to_look_at
    from tests.builders import run_juki

    base(register, person(1, household_id="H1"), person(2, household_id="H1", relationship="妻", sex="2"),
         person(5, household_id="H1", relationship="子"),
         person(3, household_id="H3"), person(4, household_id="H3", relationship="子"))
    register.ingest(write_file(register.inbox, "2026-04-20", [
        event("d1", "DEATH", "2026-04-05", "2026-04-20", resident_code=R(1)),
        event("d3", "DEATH", "2026-04-05", "2026-04-20", resident_code=R(3))]))
    assert households_to_look_at(register.con, dt.date(2026, 4, 19)) == []
    register.con.close()
    status, out, _ = run_juki(capsys, "--store", str(register.settings.store), "audit", "households")
    assert status == 0
    assert out.splitlines() == ["problem,household_id,members,since,days", "no_head,H1,2,2026-04-05,15"]


def test_two_rows_of_one_person_each_making_a_second_head(register):
    """One person made head of two headed households in one file: the first row is refused, the second depends on it."""
    base(register, *(person(n, household_id=f"H{n}") for n in (1, 2, 3, 4, 5)))
    names = [event(f"n{n}", "NAME_CHANGE", "2026-04-03", resident_code=R(n), family_name="山田", given_name="一郎",
                   family_name_kana="ヤマダ", given_name_kana="イチロウ") for n in (4, 5, 2)]
    (outcome,) = register.ingest(write_file(register.inbox, "2026-04-03", [
        event("j2", "HOUSEHOLD_CHANGE", "2026-04-02", "2026-04-03", resident_code=R(1), household_id="H2",
              relationship="世帯主"),
        event("j3", "HOUSEHOLD_CHANGE", "2026-04-03", resident_code=R(1), household_id="H3",
              relationship="世帯主"), *names]))
    assert (outcome.rows_applied, outcome.rows_quarantined) == (3, 2)
    assert register.quarantine() == {2: ["HOUSEHOLD_HAS_HEAD"], 3: ["DEPENDS_ON_REFUSED_ROW"]}
    assert register.current(R(1), "2026-04-03")["household_id"] == "H1"


def _snapshot_heads(register, day: str) -> dict[str, tuple[str, str]]:
    """Each resident's (続柄, 世帯主 name) in the convenience-store snapshot on a day."""
    import datetime as dt

    from tasks.handoff import conbini_frame

    frame, _ = conbini_frame(register.con, dt.date.fromisoformat(day))
    return {r["resident_code"]: (r["relationship"], r["head_of_household_name"]) for r in frame.iter_rows(named=True)}


def test_the_only_member_left_is_head_by_authority_and_a_cancel_undoes_it(register):
    """The head dies leaving the spouse alone: she is head 職権 from the death date; the death cancelled, he is again."""
    import datetime as dt

    from tasks.heads import household_head, households_to_look_at

    base(register, person(1, household_id="H1", family_name="山田", given_name="一郎"),
         person(2, household_id="H1", relationship="妻", sex="2", family_name="山田", given_name="花子"))
    register.ingest(write_file(register.inbox, "2026-04-06", [
        event("d1", "DEATH", "2026-04-05", "2026-04-06", resident_code=R(1))]))
    assert household_head(register.con, "H1", dt.date(2026, 4, 4)) == {
        "head_resident_code": R(1), "head_name": "山田　一郎", "head_basis": "declared", "by_authority_since": None}
    assert household_head(register.con, "H1", dt.date(2026, 4, 5)) == {
        "head_resident_code": R(2), "head_name": "山田　花子", "head_basis": "by_authority",
        "by_authority_since": dt.date(2026, 4, 5)}
    assert _snapshot_heads(register, "2026-04-05") == {R(2): ("世帯主", "山田　花子")}
    assert households_to_look_at(register.con, dt.date(2026, 5, 1)) == []
    # nothing was written for her: cancelling the death leaves one head, the declared one
    (outcome,) = register.ingest(write_file(register.inbox, "2026-04-08", [
        event("c1", "CANCEL", "2026-04-08", resident_code=R(1), cancels_event_id="d1")]))
    assert (outcome.rows_applied, outcome.rows_quarantined) == (1, 0), register.quarantine()
    assert household_head(register.con, "H1", dt.date(2026, 4, 5))["head_resident_code"] == R(1)
    assert _snapshot_heads(register, "2026-04-05") == {R(1): ("世帯主", "山田　一郎"), R(2): ("妻", "山田　一郎")}
    assert households_to_look_at(register.con, dt.date(2026, 5, 1)) == []


def test_two_members_left_without_a_head_have_none_until_listed(register):
    """The head of three dies: nobody is head by authority; the household is listed after 14 days, not before."""
    import datetime as dt

    from tasks.heads import household_head, households_to_look_at

    base(register, person(1, household_id="H1"), person(2, household_id="H1", relationship="妻", sex="2"),
         person(3, household_id="H1", relationship="子"))
    register.ingest(write_file(register.inbox, "2026-04-06", [
        event("d1", "DEATH", "2026-04-05", "2026-04-06", resident_code=R(1))]))
    assert household_head(register.con, "H1", dt.date(2026, 4, 5)) is None
    assert {code: head for code, (_, head) in _snapshot_heads(register, "2026-04-05").items()} == {R(2): None, R(3): None}
    assert households_to_look_at(register.con, dt.date(2026, 4, 19)) == []
    assert [(h["problem"], h["household_id"], h["days"]) for h in households_to_look_at(
        register.con, dt.date(2026, 4, 20))] == [("no_head", "H1", 15)]


def test_show_names_the_head_by_authority(register, capsys):
    """`juki show` of the member left alone names her as head 職権 since the death date."""
    from tests.builders import run_juki

    base(register, person(1, household_id="H1"), person(2, household_id="H1", relationship="妻", sex="2",
                                                          family_name="山田", given_name="花子"))
    register.ingest(write_file(register.inbox, "2026-04-06", [
        event("d1", "DEATH", "2026-04-05", "2026-04-06", resident_code=R(1))]))
    register.con.close()
    status, out, _ = run_juki(capsys, "--store", str(register.settings.store), "show", R(2), "--as-of", "2026-04-06")
    assert status == 0
    assert f"household head {R(2)} 山田　花子 (職権, the only member since 2026-04-05)" in out.splitlines()


def test_the_head_is_named_by_the_code_in_force(register):
    """A member alone who was given a new 住民票コード is head 職権 under the new code."""
    import datetime as dt

    from tasks.heads import household_head

    base(register, person(1, household_id="H1", relationship="子"))
    register.ingest(write_file(register.inbox, "2026-04-10", [
        event("c1", "RESIDENT_CODE_CHANGE", "2026-04-10", resident_code=R(1), new_resident_code=R(101))]))
    head = household_head(register.con, "H1", dt.date(2026, 4, 10))
    assert (head["head_resident_code"], head["head_basis"]) == (R(101), "by_authority")
