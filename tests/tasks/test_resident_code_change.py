"""住民票コードの変更 (RESIDENT_CODE_CHANGE): a new code for the same person, who stays one person of the register."""

from __future__ import annotations

import datetime as dt

from tests.builders import event, person, resident_code, write_file

R = resident_code
BASELINE_DATE = "2026-04-01"


def city(register, change: bool = True):
    """Persons 1-3 resident since 2020 (1 and 2 one household); 1 is given R(101) in place of R(1) on 04-10."""
    register.ingest(write_file(register.inbox, BASELINE_DATE, [
        event("b1", "BASELINE", "2020-01-01", BASELINE_DATE, **person(1)),
        event("b2", "BASELINE", "2020-01-01", BASELINE_DATE, **person(2, household_id="H1", relationship="妻",
                                                                        sex="2", given_name="花子")),
        event("b3", "BASELINE", "2020-01-01", BASELINE_DATE, **person(3))]))
    if not change:
        return
    (change,) = register.ingest(write_file(register.inbox, "2026-04-10", [
        event("c1", "RESIDENT_CODE_CHANGE", "2026-04-10", resident_code=R(1), new_resident_code=R(101))]))
    assert (change.rows_applied, change.rows_quarantined) == (1, 0), register.quarantine()


def test_the_person_keeps_one_identity_and_later_events_use_the_new_code(register):
    """Events with the new code land on the person; a late one with the old code too, if dated before the change."""
    city(register)
    (later,) = register.ingest(write_file(register.inbox, "2026-04-20", [
        event("n1", "NAME_CHANGE", "2026-04-15", "2026-04-20", resident_code=R(101), family_name="佐藤",
              given_name="太郎", family_name_kana="サトウ", given_name_kana="タロウ"),
        event("m1", "MOVE_WITHIN", "2026-04-05", "2026-04-20", resident_code=R(1), town_code="0002",
              address_line="4-5-6"),
        event("m2", "MOVE_WITHIN", "2026-04-18", "2026-04-20", resident_code=R(2), town_code="0002",
              address_line="4-5-6")]))
    assert (later.rows_applied, later.rows_quarantined) == (3, 0), register.quarantine()
    now = register.current(R(1), "2026-04-20")
    assert (now["new_resident_code"], now["family_name"], now["town_code"]) == (R(101), "佐藤", "0002")
    assert register.current(R(1), "2026-04-09")["new_resident_code"] is None
    assert register.current(R(101), "2026-04-20") is None  # one person, keyed by the code first known
    events = register.rows("select event_id, resident_code from event where event_id in ('c1', 'n1', 'm1') "
                           "order by event_id")
    assert events == [("c1", R(1)), ("m1", R(1)), ("n1", R(1))]
    assert register.rows("select version_no, event_type from resident_version where recorded_to is null "
                         "and resident_code = $c order by version_no", c=R(1)) == [
        (1, "BASELINE"), (2, "MOVE_WITHIN"), (3, "RESIDENT_CODE_CHANGE"), (4, "NAME_CHANGE")]


def test_the_rules_of_a_code_change(register):
    """A new code in use, an unknown or replaced old code, a bad or unchanged new code, an old code used after."""
    city(register)
    bad = R(102)[:-1] + str((int(R(102)[-1]) + 1) % 10)

    def refused(date: str, *rows: dict) -> dict[int, list[str]]:
        (outcome,) = register.ingest(write_file(register.inbox, date, list(rows)), max_refused_share=1.0)
        assert outcome.rows_applied == 0
        return register.quarantine()

    assert refused("2026-04-20",
                   event("x1", "RESIDENT_CODE_CHANGE", "2026-04-20", resident_code=R(3), new_resident_code=R(2)),
                   event("x2", "RESIDENT_CODE_CHANGE", "2026-04-20", resident_code=R(9), new_resident_code=R(109)),
                   event("x3", "RESIDENT_CODE_CHANGE", "2026-04-20", resident_code=R(1), new_resident_code=R(103)),
                   event("x4", "RESIDENT_CODE_CHANGE", "2026-04-20", resident_code=R(2), new_resident_code=bad),
                   ) == {2: ["RESIDENT_CODE_IN_USE"], 3: ["PERSON_NOT_CURRENT"], 4: ["RESIDENT_CODE_REPLACED"],
                         5: ["NEW_RESIDENT_CODE_CHECK_DIGIT"]}
    assert refused("2026-04-21",
                   event("y1", "RESIDENT_CODE_CHANGE", "2026-04-21", resident_code=R(3), new_resident_code=R(3)),
                   # the old code on an event dated after the change: refused, the new code is to be used
                   event("y2", "MOVE_WITHIN", "2026-04-12", "2026-04-21", resident_code=R(1), town_code="0002",
                         address_line="4-5-6"),
                   event("y3", "RESIDENT_CODE_CHANGE", "2026-04-21", resident_code=R(2), new_resident_code=R(1)),
                   ) == {2: ["NEW_RESIDENT_CODE_UNCHANGED"], 3: ["RESIDENT_CODE_REPLACED"],
                         4: ["RESIDENT_CODE_IN_USE"]}
    assert refused("2026-04-22",
                   event("z1", "CANCEL", "2026-04-22", resident_code=R(101), cancels_event_id="c1"),
                   event("z2", "BIRTH", "2026-04-22", **person(2, birth_date="2026-04-22", relationship="子")),
                   ) == {2: ["CANCEL_TARGET_IS_CODE_CHANGE"], 3: ["PERSON_ALREADY_KNOWN"]}
    assert refused("2026-04-23",
                   event("w1", "BIRTH", "2026-04-23", **person(101, birth_date="2026-04-23", household_id="H1",
                                                               relationship="子")),
                   ) == {2: ["PERSON_ALREADY_KNOWN"]}


def test_a_second_change_and_a_change_within_one_file(register):
    """A→B and B→C in one file, then rows by C: one person with three codes; A and B now refused after C."""
    city(register)
    (outcome,) = register.ingest(write_file(register.inbox, "2026-04-20", [
        event("d1", "RESIDENT_CODE_CHANGE", "2026-04-15", "2026-04-20", resident_code=R(101),
              new_resident_code=R(201)),
        event("d2", "MOVE_WITHIN", "2026-04-16", "2026-04-20", resident_code=R(201), town_code="0002",
              address_line="4-5-6"),
        event("e3", "RESIDENT_CODE_CHANGE", "2026-04-20", resident_code=R(3), new_resident_code=R(303)),
        event("e4", "HOUSEHOLD_CHANGE", "2026-04-20", resident_code=R(303), household_id="H1",
              relationship="同居人"),
        event("e5", "HOUSEHOLD_CHANGE", "2026-04-20", resident_code=R(101), household_id="H1",
              relationship="世帯主")]), max_refused_share=1.0)
    assert (outcome.rows_applied, outcome.rows_quarantined) == (4, 1), register.quarantine()
    assert register.quarantine() == {6: ["RESIDENT_CODE_REPLACED"]}
    assert register.current(R(1), "2026-04-20")["new_resident_code"] == R(201)
    assert register.current(R(3), "2026-04-20")[("new_resident_code")] == R(303)
    assert register.current(R(3), "2026-04-20")["household_id"] == "H1"


def test_statistics_count_no_removal_and_no_addition(register):
    """Population, households and the movement table are the same with the change as without; the balance holds."""
    from tasks import stats
    from tasks.check import broken_invariants

    def figures():
        day, first, last = dt.date(2026, 4, 10), dt.date(2026, 4, 2), dt.date(2026, 4, 30)
        return (stats.population(register.con, day).rows(), stats.households(register.con, day).rows(),
                stats.movements(register.con, first, last).rows())

    city(register, change=False)
    without = figures()
    (change,) = register.ingest(write_file(register.inbox, "2026-04-10", [
        event("c1", "RESIDENT_CODE_CHANGE", "2026-04-10", resident_code=R(1), new_resident_code=R(101))]))
    assert change.rows_applied == 1
    assert figures() == without
    assert sum(without[0][i][-1] for i in range(len(without[0]))) == 3  # three residents, counted once each
    assert stats.balance_breaks(register.con, dt.date(2026, 4, 2), dt.date(2026, 4, 30)).height == 0
    assert stats.balance_breaks(register.con, dt.date(2026, 4, 10), dt.date(2026, 4, 10)).height == 0
    assert broken_invariants(register.con) == {}


def test_every_query_by_the_old_code_finds_the_person_and_says_it_changed(register):
    """juki show by either code shows the one person; by the old code it says the code was replaced."""
    from juki.queries import show, show_text

    city(register)
    old = show(register.con, R(1), dt.date(2026, 4, 20))
    new = show(register.con, R(101), dt.date(2026, 4, 20))
    assert old["history"] == new["history"] and old["status"] == new["status"] == "current"
    assert old["code_changed"] == {"replaced_on": dt.date(2026, 4, 10), "by": R(101)}
    assert "code_changed" not in new and new["current_resident_code"] == R(101)
    assert [c["resident_code"] for c in new["resident_codes"]] == [R(1), R(101)]
    assert "code_changed" not in show(register.con, R(2), dt.date(2026, 4, 20))
    out = show_text(old)
    assert f"replaced on 2026-04-10 by {R(101)}" in out and f"the current code is {R(101)}" in out


def test_the_juki_net_feed_sends_the_change_and_the_snapshot_only_the_current_code(register):
    """住基ネット gets the change as its own rows (the old code dropped, the new one held); later rows and the
    snapshot carry the new code."""
    from tasks.handoff import conbini_frame, feed_frame

    city(register)
    (delivery,) = register.rows("select max(delivery_no) from file_ledger")[0]
    feed = feed_frame(register.con, "juki_net", delivery)
    change = [("RESIDENT_CODE_CHANGE", R(1), None), ("RESIDENT_CODE_CHANGE", R(101), "current")]
    assert feed.select("event_type", "resident_code", "record_status").rows() == change  # drop R(1), hold R(101)
    assert feed_frame(register.con, "koseki_fuhyo", delivery).select(  # its rows carry the code too
        "event_type", "resident_code", "record_status").rows() == change
    assert feed_frame(register.con, "immigration", delivery).height == 0  # a Japanese resident
    register.ingest(write_file(register.inbox, "2026-04-20", [
        event("m1", "MOVE_WITHIN", "2026-04-20", resident_code=R(101), town_code="0002", address_line="4-5-6")]))
    (delivery,) = register.rows("select max(delivery_no) from file_ledger")[0]
    assert feed_frame(register.con, "juki_net", delivery).select(
        "event_type", "resident_code", "record_status").rows() == [("MOVE_WITHIN", R(101), "current")]
    snapshot, _ = conbini_frame(register.con, dt.date(2026, 4, 20))
    assert snapshot["resident_code"].to_list() == sorted([R(101), R(2), R(3)])


def test_a_generated_city_with_code_changes_applies_whole(register, monkeypatch, tmp_path):
    """The generator's changes (made common here) apply, and only the rows its truth calls broken are refused."""
    import json

    from synthetic import calibration
    from synthetic.city import generate_city

    monkeypatch.setitem(calibration.OTHER_YEARLY, "resident_code_change", 1_000_000)  # one a business day
    paths = generate_city(tmp_path / "city", residents=400, days=8, start=dt.date(2026, 4, 1), seed=5)
    outcomes = register.ingest(*paths)
    assert all(o.status == "applied" for o in outcomes)
    for path in paths:
        truth = json.loads((path.parent / "truth" / f"{path.stem}.json").read_text(encoding="utf-8"))
        refused = {line for (line,) in register.rows(
            "select q.line from quarantine as q join file_ledger as f using (delivery_no) where f.file_name = $n",
            n=path.name)}
        assert refused == {b["line"] for b in truth["broken"]}, path.name
    (changes,) = register.rows("select count(*) from event where event_type = 'RESIDENT_CODE_CHANGE'")[0]
    assert changes >= 3
    from tasks.check import broken_invariants

    assert broken_invariants(register.con) == {}


def test_published_by_the_watermarks_and_the_digest_kept_per_batch_holds(register):
    """The daily publishing sends the change in its own 住基ネット file; the snapshot names only the code in force."""
    import io

    import pyarrow.parquet as pq

    from tasks import publish
    from tasks.audit import register_digest

    city(register)
    publish.publish_handoffs(register.con, "test", register.root, key_for=lambda sub: None, plaintext=True)
    outbox = register.root / "outbox"
    feed = [pq.read_table(io.BytesIO(p.read_bytes())).to_pylist()
            for p in sorted((outbox / "juki_net").glob("changes-*.parquet*"))]
    assert [[(r["event_type"], r["resident_code"], r["record_status"]) for r in rows] for rows in feed] == [
        [], [("RESIDENT_CODE_CHANGE", R(1), None), ("RESIDENT_CODE_CHANGE", R(101), "current")]]  # no BASELINE rows
    (snapshot,) = [p for p in (outbox / "conbini").glob("residents-*") if p.is_file()]
    codes = pq.read_table(io.BytesIO(snapshot.read_bytes())).column("resident_code").to_pylist()
    assert codes == sorted([R(101), R(2), R(3)])
    assert register_digest(register.con) == register_digest(register.con, full=True)


def test_juki_show_by_the_old_code_on_the_command_line(register, capsys):
    """`juki show OLD --format json` finds the person and says the code changed, without Prefect."""
    import json

    from juki_core.store import connect
    from tests.builders import run_juki

    city(register)
    register.con.close()  # a read command opens the store read-only: no writer may hold it
    try:
        status, out, _ = run_juki(capsys, "--store", str(register.settings.store), "show", R(1),
                                  "--as-of", "2026-04-20", "--format", "json")
    finally:
        register.con = connect(register.settings.store)
    shown = json.loads(out)
    assert status == 0 and shown["status"] == "current"
    assert shown["code_changed"] == {"replaced_on": "2026-04-10", "by": R(101)}
    assert shown["current_resident_code"] == R(101) and shown["record"]["new_resident_code"] == R(101)
