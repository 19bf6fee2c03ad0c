"""The receivers' processing results (tasks/receipts.py): imported, erred rows re-sent once, listed for audit."""

from __future__ import annotations

import uuid

import fsspec

from tasks import receipts
from tasks.handoff import load_subscribers, publish_feed
from tests.builders import event, foreigner, resident_code, write_file

R = resident_code
IMMIGRATION = load_subscribers()["immigration"]


def day_file(register, day: str, rows: list[dict]) -> None:
    (outcome,) = register.ingest(write_file(register.inbox, day, rows))
    assert outcome.rows_applied == len(rows), register.quarantine()


def city(register) -> str:
    """Foreigners 1-3; on 04-02 two of them move within the city and one changes name: the first feed file."""
    day_file(register, "2026-04-01", [event(f"b{n}", "BASELINE", "2020-01-01", "2026-04-01", **foreigner(n))
                                      for n in range(1, 4)])
    day_file(register, "2026-04-02", [
        event("m1", "MOVE_WITHIN", "2026-04-02", resident_code=R(1), town_code="0002", address_line="1-1"),
        event("m2", "MOVE_WITHIN", "2026-04-02", resident_code=R(2), town_code="0002", address_line="2-2"),
        event("n3", "NAME_CHANGE", "2026-04-02", resident_code=R(3), family_name="LI", given_name="NA",
              family_name_kana="リ", given_name_kana="ナ")])
    target = f"memory://receipts-{uuid.uuid4().hex}/immigration"
    publish_feed(register.con, IMMIGRATION, target, 2, None, True, "t")
    return target


def drop(target: str, name: str, text: str) -> None:
    """A receiver's receipt file in the target's receipts/ folder."""
    fs, root = fsspec.core.url_to_fs(target)
    fs.makedirs(f"{root}/receipts", exist_ok=True)
    fs.pipe_file(f"{root}/receipts/{name}", text.encode("utf-8"))


def sent_ids(register, sequence_no: int) -> list[tuple[str, bool]]:
    """(event_id, resent) of the rows of an immigration feed file."""
    return register.con.execute("select event_id, resent from feed_entry where subscriber = 'immigration' "
                                "and sequence_no = ? order by entry_no", [sequence_no]).fetchall()


def test_an_erred_row_goes_again_in_the_next_file_exactly_once(register):
    """m2 erred: file 2 (04-03) re-sends it beside its own row, file 3 does not; the audit shows the error and
    the row not answered."""
    target = city(register)
    assert sent_ids(register, 1) == [("m1", False), ("m2", False), ("n3", False)]
    drop(target, "changes-00000001-20260402.csv",
         "entry_no,event_id,result,error_code\n1,m1,accepted,\n2,m2,error,E017 address unknown\n")
    found = receipts.import_receipts(register.con, IMMIGRATION, target, "r1")
    assert (found.files, found.accepted, found.errors, found.problems) == (1, 1, 1, [])

    day_file(register, "2026-04-03", [event("m3", "MOVE_WITHIN", "2026-04-03", resident_code=R(3),
                                            town_code="0003", address_line="3-3")])
    second = publish_feed(register.con, IMMIGRATION, target, 3, None, True, "t")
    assert second["resent"] == [{"sequence_no": 1, "entry_no": 2, "event_id": "m2"}]
    assert sent_ids(register, 2) == [("m2", True), ("m3", False)]
    assert receipts.import_receipts(register.con, IMMIGRATION, target, "r2").files == 0  # imported once

    day_file(register, "2026-04-06", [])
    third = publish_feed(register.con, IMMIGRATION, target, 4, None, True, "t")
    assert third["resent"] == [] and third["rows"] == 0

    listed = {(r["sequence_no"], r["entry_no"]): (r["event_id"], r["state"], r["error_code"], r["resent_in"])
              for r in receipts.outstanding(register.con)}
    assert listed == {(1, 2): ("m2", "error", "E017 address unknown", 2), (1, 3): ("n3", "unanswered", None, None),
                      (2, 1): ("m2", "unanswered", None, None), (2, 2): ("m3", "unanswered", None, None)}


def test_a_receipt_that_does_not_answer_the_file_is_refused_whole(register):
    """A wrong event id, an unknown file, or a file changed after import: a sentence each, nothing taken."""
    target = city(register)
    drop(target, "changes-00000001-20260402.csv", "entry_no,event_id,result,error_code\n1,m1,accepted,\n2,m9,error,X\n")
    drop(target, "changes-00000007-20260402.csv", "entry_no,event_id,result,error_code\n1,m1,accepted,\n")
    found = receipts.import_receipts(register.con, IMMIGRATION, target, "r1")
    assert found.files == 0
    assert found.problems == ["changes-00000001-20260402.csv: line 3: entry 2 was event m2, not m9",
                              "changes-00000007-20260402.csv: no file 7 was published to immigration"]
    assert register.rows("select count(*) from feed_receipt") == [(0,)]

    drop(target, "changes-00000001-20260402.csv", "entry_no,event_id,result,error_code\n3,n3,accepted,\n")
    assert receipts.import_receipts(register.con, IMMIGRATION, target, "r2").accepted == 1
    drop(target, "changes-00000001-20260402.csv", "entry_no,event_id,result,error_code\n3,n3,error,E1\n")
    again = receipts.import_receipts(register.con, IMMIGRATION, target, "r3")
    assert "changes-00000001-20260402.csv: changed after it was imported; the first answer stands" in again.problems
    assert register.rows("select event_id, result from feed_receipt") == [("n3", "accepted")]


def test_a_test_receiver_answers_through_a_function(register):
    """The function is asked once per file not answered; its rows are checked like a file's."""
    target = city(register)
    asked = []

    def receiver(file: dict):
        asked.append(file["sequence_no"])
        return [{"entry_no": 1, "event_id": "m1", "result": "error", "error_code": "E2"}]

    found = receipts.import_all(register.con, "r1", register.root, answers={"immigration": receiver},
                                target_for=lambda sub: target)
    assert found["immigration"] == {"files": 1, "accepted": 0, "errors": 1, "problems": []}
    receipts.import_all(register.con, "r2", register.root, answers={"immigration": receiver},
                        target_for=lambda sub: target)
    assert asked == [1]
    assert [r["event_id"] for r in receipts.due_resends(register.con, "immigration")] == ["m1"]


def test_the_replay_re_sends_what_the_run_re_sent(tmp_path):
    """The receipt a run imported is imported again at that run by the replay: the re-sending file matches."""
    from juki_core.settings import Settings
    from juki_core.store import connect
    from tasks import daily
    from tasks.replay import replay

    settings = Settings(store=tmp_path / "live" / "registry.duckdb")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    files = [write_file(inbox, "2026-04-01", [event(f"b{n}", "BASELINE", "2020-01-01", "2026-04-01",
                                                    **foreigner(n)) for n in (1, 2)]),
             write_file(inbox, "2026-04-02", [event("m1", "MOVE_WITHIN", "2026-04-02", resident_code=R(1),
                                                    town_code="0002", address_line="1-1")]),
             write_file(inbox, "2026-04-03", [])]
    con = connect(settings.store)
    try:
        for n, path in enumerate(files[:2], 1):
            daily.run(con, settings, f"run-{n}", [str(path)], {"files": [path.name], "store": str(settings.store)},
                      plaintext=True)
        answers = settings.root / "outbox" / "immigration" / "receipts"
        answers.mkdir()
        (answers / "changes-00000002-20260402.csv").write_text("entry_no,event_id,result,error_code\n1,m1,error,E9\n")
        daily.run(con, settings, "run-3", [str(files[2])], {"files": [files[2].name], "store": str(settings.store)},
                  plaintext=True)
        assert con.execute("select rows from handoff_ledger where subscriber = 'immigration' and sequence_no = 3"
                           ).fetchall() == [(1,)]
    finally:
        con.close()
    report = replay(settings, tmp_path / "scratch", verify=True)
    assert report.ok, report.summary()
