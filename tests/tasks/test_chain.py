"""The ledger chain (tasks/chain.py): an intact chain verifies; every edit, deletion or rewrite is named."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest

from juki.cli import main
from juki_core.settings import Settings
from juki_core.store import connect
from tasks import chain, daily
from tasks.audit import AUDIT_SQL
from tasks.audit_report import write_audit_report
from tasks.disclosure import reveal
from tasks.replay import replay
from tests.builders import event, foreigner, person, resident_code, write_file

R = resident_code
D1, D2 = dt.date(2026, 4, 1), dt.date(2026, 4, 2)


def _run(con, settings: Settings, run_id: str, path: Path) -> str:
    """One daily run (the flow's plain function, hand-offs in plaintext); it seals itself, as its last write."""
    head = daily.run(con, settings, run_id, [str(path)], {"files": [path.name], "store": str(settings.store)},
                     plaintext=True).chain_head
    last = chain.seals(con)[-1]
    assert (head, last["run_id"], last["run_rows"]) == (last["chain_sha256"], run_id, 1)
    assert chain.seal(con, run_id) == head  # nothing left unsealed
    return head


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    """run-01: a baseline of three residents; run-02: a move. Each publishes to all five subscribers (conbini and
    juki_net carry My Numbers: disclosures 1-3); then a reveal outside any run (disclosure 4). Each sealed."""
    root = tmp_path_factory.mktemp("city") / "live"
    (root / "inbox").mkdir(parents=True)
    settings = Settings(store=root / "registry.duckdb")
    base = [person(1), person(2), foreigner(3)]
    first = write_file(root / "inbox", D1.isoformat(), [
        event(f"base{i}", "BASELINE", "2020-01-01", D1.isoformat(), **r) for i, r in enumerate(base, 1)])
    second = write_file(root / "inbox", D2.isoformat(), [
        event("m1", "MOVE_WITHIN", D2.isoformat(), resident_code=R(1), town_code="0002", address_line="9-9")])
    con = connect(settings.store)
    try:
        _run(con, settings, "run-01", first)
        _run(con, settings, "run-02", second)
        reveal(con, R(2), D2, "clerk-7", "本人確認の照会")
        assert con.execute("select count(*) from disclosure_log").fetchall() == [(4,)]
    finally:
        con.close()
    return root


@pytest.fixture
def live(city, tmp_path) -> Settings:
    """A copy of the sealed city to tamper with."""
    shutil.copytree(city, tmp_path / "live")
    return Settings(store=tmp_path / "live" / "registry.duckdb")


@pytest.fixture
def con(live):
    """A writable connection to the copy."""
    connection = connect(live.store)
    yield connection
    connection.close()


def anchors(settings: Settings) -> list[dict]:
    """The lines of the copy's anchor file."""
    return [json.loads(line) for line in chain.anchors_beside(settings.store).read_text().splitlines()]


def only(problems: list[str]) -> str:
    """The one problem found."""
    assert len(problems) == 1, problems
    return problems[0]


def test_an_intact_chain_verifies_and_each_head_is_anchored_outside_the_store(con, live):
    """Seals by run-01, run-02 and the reveal; every head in the anchor file beside the store, in order."""
    assert chain.verify(con) == []
    seals = chain.seals(con)
    assert [s["run_id"] for s in seals] == ["run-01", "run-02", None]
    assert [(a["seq"], a["run_id"], a["head"]) for a in anchors(live)] == [
        (s["seq"], s["run_id"], s["chain_sha256"]) for s in seals]
    assert seals[0]["previous_sha256"] == chain.GENESIS
    assert [s["previous_sha256"] for s in seals[1:]] == [s["chain_sha256"] for s in seals[:-1]]
    assert [(s["run_rows"], s["file_rows"], s["handoff_rows"], s["disclosure_rows"]) for s in seals] == [
        (1, 1, 5, 1), (1, 1, 5, 2), (0, 0, 0, 1)]
    assert chain.status(con)["unsealed"] == {}


def test_sealing_again_with_nothing_new_is_harmless(con, live):
    """No new seal, no new anchor line, the same head."""
    head = chain.seals(con)[-1]["chain_sha256"]
    assert chain.seal(con, "run-02") == head and chain.seal(con) == head
    assert len(chain.seals(con)) == 3 and len(anchors(live)) == 3
    assert chain.verify(con) == []


def test_rows_written_outside_a_run_are_sealed_by_the_next_seal(con):
    """A disclosure logged with no run and no seal of its own is covered by whichever seal comes next."""
    con.execute("insert into disclosure_log (disclosure_no, disclosed_at, channel, who, persons, why, resident_code) "
                "values (5, '2026-04-02 10:00:00', 'reveal', 'clerk-9', 1, '照会', $c)", {"c": R(3)})
    assert chain.status(con)["unsealed"] == {"disclosure_log": 1}
    chain.seal(con, "run-03")
    assert chain.seals(con)[-1]["disclosure_rows"] == 1 and chain.status(con)["unsealed"] == {}
    assert chain.verify(con) == []


@pytest.mark.parametrize(("edit", "sentence"), [
    ("update run_ledger set code_version = '9.9.9+forged' where run_id = 'run-01'",
     "the run_ledger row of run run-01 was edited after it was sealed by seal 1 (run run-01, sealed "),
    ("update run_ledger set finished_at = finished_at + interval 1 microsecond where run_id = 'run-02'",
     "the run_ledger row of run run-02 was edited after it was sealed by seal 2 (run run-02, sealed "),
    ("update file_ledger set rows_applied = rows_applied + 1 where delivery_no = 2",
     "the file_ledger row of delivery 2 (run run-02) was edited after it was sealed by seal 2 (run run-02, "),
    ("update file_ledger set reason = '' where delivery_no = 1",  # null and empty text are not the same
     "the file_ledger row of delivery 1 (run run-01) was edited after it was sealed by seal 1 (run run-01, "),
    ("update handoff_ledger set rows = rows + 1 where subscriber = 'juki_net' and sequence_no = 2",
     "the handoff_ledger row of juki_net sequence 2 (run run-02) was edited after it was sealed by seal 2 "),
    ("update disclosure_log set why = '監査' where channel = 'reveal'",
     "the disclosure_log row 4 (recorded outside a run) was edited after it was sealed by seal 3 (outside a run, "),
    ("update disclosure_log set who = 'someone' where disclosure_no = 2",
     "the disclosure_log row 2 (run run-02) was edited after it was sealed by seal 2 (run run-02, sealed "),
])
def test_an_edit_of_any_sealed_row_is_named_with_its_ledger_and_run(con, edit, sentence):
    """One sentence per edited row, naming the ledger, the row and the run; the edit is never sealed later."""
    con.execute(edit)
    assert only(chain.verify(con)).startswith(sentence)
    chain.seal(con, "run-03")
    assert only(chain.verify(con)).startswith(sentence)


@pytest.mark.parametrize(("delete", "sentence"), [
    ("delete from run_ledger where run_id = 'run-01'", "the run_ledger row of run run-01 was deleted after it was "
                                                       "sealed by seal 1 (run run-01, sealed "),
    ("delete from file_ledger where delivery_no = 2", "the file_ledger row of delivery 2 (run run-02) was deleted "
                                                      "after it was sealed by seal 2"),
    ("delete from handoff_ledger where subscriber = 'conbini' and sequence_no = 2",
     "the handoff_ledger row of conbini sequence 2 (run run-02) was deleted after it was sealed"),
    ("delete from disclosure_log where channel = 'reveal'", "the disclosure_log row 4 (recorded outside a run) was "
                                                            "deleted after it was sealed by seal 3"),
])
def test_a_deleted_sealed_row_is_named(con, delete, sentence):
    """A sealed row that is gone."""
    con.execute(delete)
    assert only(chain.verify(con)).startswith(sentence)


def test_a_row_back_dated_into_a_sealed_run_stays_reported(con):
    """A disclosure added under run-01 after run-01 was sealed: named, and no later seal covers it."""
    con.execute("insert into disclosure_log (disclosure_no, disclosed_at, channel, who, persons, why, run_id) "
                "values (5, '2026-04-01 09:00:00', 'publish', 'conbini', 3, 'コンビニ交付', 'run-01')")
    sentence = "the disclosure_log row 5 (run run-01) was written after run run-01 was sealed by seal 1"
    assert only(chain.verify(con)).startswith(sentence)
    chain.seal(con)
    assert only(chain.verify(con)).startswith(sentence)
    assert chain.status(con)["unsealed"] == {"disclosure_log": 1}


def test_a_running_run_is_sealed_once_it_has_finished(con):
    """A run_ledger row without finished_at waits; the run's own seal covers it when it is done."""
    con.execute("insert into run_ledger (run_id, flow_name, status, started_at) "
                "values ('run-03', 'daily-linkage', 'running', '2026-04-03 09:00:00')")
    head = chain.seals(con)[-1]["chain_sha256"]
    assert chain.seal(con) == head and chain.status(con)["unsealed"] == {"run_ledger": 1}
    con.execute("update run_ledger set status = 'completed', finished_at = '2026-04-03 09:05:00' "
                "where run_id = 'run-03'")
    assert chain.seal(con, "run-03") != head
    assert chain.seals(con)[-1]["run_rows"] == 1 and chain.verify(con) == []


@pytest.mark.parametrize(("edit", "sentence"), [
    # hiding a deleted row by taking it out of the seal that covered it
    ("delete from disclosure_log where disclosure_no = 4; update ledger_chain set covered = [] where seq = 3",
     "seal 3 (outside a run, sealed "),
    ("update ledger_chain set sealed_at = sealed_at - interval 1 day where seq = 2", "seal 2 (run run-02, sealed "),
    ("update ledger_chain set run_id = 'run-09' where seq = 1", "seal 1 (run run-09, sealed "),
    ("update ledger_chain set file_rows = 0 where seq = 1", "seal 1 (run run-01, sealed "),
])
def test_an_edited_seal_is_named(con, edit, sentence):
    """The chain table's own rows: a changed seal no longer gives its content digest."""
    con.execute(edit)
    problems = chain.verify(con)
    assert any(p.startswith(sentence) and "was edited after it was written" in p for p in problems), problems


def test_a_reordered_or_cut_chain_is_named(con, live):
    """Seals swapped, or the newest seal deleted: the links and the anchor file say so."""
    con.execute("update ledger_chain set seq = seq + 10")
    con.execute("update ledger_chain set seq = case seq when 11 then 2 when 12 then 1 else 3 end")
    problems = chain.verify(con)
    assert any("does not follow the start of the chain" in p for p in problems), problems
    assert any("does not match the anchor written at" in p for p in problems), problems

    con.execute("update ledger_chain set seq = case seq when 2 then 1 when 1 then 2 else 3 end")
    assert chain.verify(con) == []
    con.execute("delete from ledger_chain where seq = 3")
    problem = only(chain.verify(con))
    assert problem.startswith("the anchor written at ") and "seal 3 (outside a run), which the ledger_chain table " \
                                                             "does not hold" in problem
    con.execute("delete from ledger_chain where seq = 1")
    assert any(p.startswith("the ledger chain has no seal 1 before seal 2 (run run-02") for p in chain.verify(con))


def test_a_chain_rebuilt_consistently_is_caught_by_the_anchor_file(con, live, tmp_path):
    """An edit covered by a whole new chain, consistent in itself: the heads are not those the anchor file holds."""
    con.execute("update disclosure_log set why = '別の理由' where channel = 'reveal'")
    con.execute("delete from ledger_chain")
    forged = tmp_path / "forged.jsonl"
    chain.seal(con, "run-01", anchors=forged)
    assert chain.verify(con, forged) == []  # consistent in itself

    problems = chain.verify(con)
    assert problems[0].startswith("the chain head of seal 1 (run run-01, sealed ")
    assert "does not match the anchor written at " in problems[0]
    assert "the ledger_chain table was rewritten" in problems[0]
    assert any("seal 3 (outside a run), which the ledger_chain table does not hold" in p for p in problems)


def test_a_missing_or_edited_anchor_file_is_reported(con, live):
    """No anchor file: said in one sentence; a line taken out, or one that is not a record, is named."""
    path = chain.anchors_beside(live.store)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:2]) + "\n")
    assert only(chain.verify(con)).startswith("seal 3 (outside a run, sealed ")
    path.write_text("\n".join(lines[:2] + ["{not json"]) + "\n")
    assert any(p.startswith("line 3 of the anchor file ") for p in chain.verify(con))
    path.unlink()
    assert only(chain.verify(con)) == (
        f"the anchor file {path} is missing: the chain head {chain.seals(con)[-1]['chain_sha256'][:16]}… "
        f"({chain.seal_name(chain.seals(con)[-1])}) and its 3 seal(s) cannot be checked against the heads written "
        "outside the store.")


def test_every_column_of_each_chained_ledger_is_in_its_row_digest(con):
    """chain_rows.sql names every column of the four ledgers by name, each as itself."""
    text = (AUDIT_SQL / "chain_rows.sql").read_text(encoding="utf-8")
    blocks = dict((table, body) for body, table in re.findall(
        r"to_json\(\{(.*?)\}\) as varchar\)\)\s+as row_sha256\s+from (\w+)", text, re.S))
    assert set(blocks) == set(chain.LEDGERS)
    for table, body in blocks.items():
        columns = {c for (c,) in con.execute("select column_name from information_schema.columns "
                                             "where table_name = ?", [table]).fetchall()}
        pairs = re.findall(r"'(\w+)': (?:strftime\()?(\w+)", body)
        assert {k for k, _ in pairs} == columns, table
        assert all(k == v for k, v in pairs), table


def test_row_digests_do_not_depend_on_storage_order(con):
    """The same rows stored in another order digest alike."""
    before = {(r["ledger"], r["row_key"]): r["row_sha256"] for r in chain.row_digests(con)}
    con.execute("create table moved as select * from file_ledger order by delivery_no desc")
    con.execute("delete from file_ledger")
    con.execute("insert into file_ledger select * from moved")
    after = {(r["ledger"], r["row_key"]): r["row_sha256"] for r in chain.row_digests(con)}
    assert after == before and chain.verify(con) == []


def test_the_audit_report_shows_the_head_the_seals_and_the_verdict(con, tmp_path):
    """Intact: the head and the number of seals; broken: each sentence."""
    head = chain.seals(con)[-1]["chain_sha256"]
    page = write_audit_report(con, D1, D2, tmp_path / "ok.html", None).read_text(encoding="utf-8")
    assert "Ledger chain: intact" in page and head in page and "3 seal(s)" in page
    con.execute("update run_ledger set code_version = 'x' where run_id = 'run-01'")
    page = write_audit_report(con, D1, D2, tmp_path / "bad.html", None).read_text(encoding="utf-8")
    assert 'class="chain broken"' in page and "Ledger chain: BROKEN" in page
    assert "the run_ledger row of run run-01 was edited after it was sealed" in page


def test_juki_audit_chain_exits_1_on_a_problem(live, capsys):
    """Intact: exit 0 with the head; an edit: exit 1 with the sentence."""
    assert main(["audit", "chain", "--store", str(live.store)]) == 0
    assert capsys.readouterr().out.startswith("the ledger chain is intact: 3 seal(s), head ")
    with connect(live.store) as con:
        con.execute("update handoff_ledger set file_sha256 = repeat('0', 64) where subscriber = 'conbini' "
                    "and sequence_no = 2")
    assert main(["audit", "chain", "--store", str(live.store)]) == 1
    assert "the handoff_ledger row of conbini sequence 2 (run run-02) was edited" in capsys.readouterr().out


def test_a_handoff_from_the_command_line_is_sealed_at_once(live, capsys):
    """`juki handoff` publishes and logs outside any run: a seal of its own covers both rows."""
    assert main(["handoff", "conbini", "--store", str(live.store), "--plaintext"]) == 0
    capsys.readouterr()
    with connect(live.store) as con:
        last = chain.seals(con)[-1]
        assert (last["seq"], last["run_id"], last["handoff_rows"], last["disclosure_rows"]) == (4, None, 1, 1)
        assert chain.verify(con) == [] and chain.status(con)["unsealed"] == {}


def test_the_replay_fails_on_an_edited_disclosure_with_the_sentence(live, tmp_path):
    """The full replay matches the intact city; after a disclosure_log row is edited it fails, naming it."""
    assert replay(live, tmp_path / "first", verify=True).ok
    with connect(live.store) as con:
        con.execute("update disclosure_log set why = '別の目的' where disclosure_no = 2")

    report = replay(live, tmp_path / "second", verify=True)

    assert not report.ok and [r.verdict for r in report.runs] == ["match", "match"]
    (check,) = report.checks
    assert check.output == "ledger chain"
    assert check.message.startswith("the disclosure_log row 2 (run run-02) was edited after it was sealed by seal 2")
    assert check.message in report.text()
