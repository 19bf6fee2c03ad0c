"""Issue 10: a daily run killed at any step boundary, then the next run, leaves the store, every target and every
ledger exactly as one uninterrupted run would (tasks/faults.py names the boundaries), and the replay agrees."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from juki_core.settings import Settings
from juki_core.store import connect, writer_lock
from tasks import chain, daily, faults, replay
from tasks.audit import register_digest
from tests.builders import event, foreigner, person, resident_code, write_file

R = resident_code
ROOT = Path(__file__).resolve().parents[2]
STORE = "registry.duckdb"


def without_row_rules() -> None:
    """Every row here is valid: skip the GX suite's ~10 s per file on this machine (the SQL state rules stay)."""
    import polars as pl

    import tasks.validate_rows

    tasks.validate_rows.row_violations = lambda rows, business_date: pl.DataFrame(
        schema={"line": pl.Int64, "rule_id": pl.String, "column": pl.String})


@pytest.fixture(autouse=True)
def _fast_validation(monkeypatch):
    import polars as pl

    monkeypatch.setattr("tasks.validate_rows.row_violations", lambda rows, business_date: pl.DataFrame(
        schema={"line": pl.Int64, "rule_id": pl.String, "column": pl.String}))


def baseline_rows() -> list[dict]:
    """Four residents on 2026-04-01: three Japanese, one foreign."""
    records = [person(1), person(2, given_name="花子", sex="2"), person(3), foreigner(4)]
    return [event(f"base{n}", "BASELINE", "2020-01-01", "2026-04-01", **r) for n, r in enumerate(records, 1)]


def day_rows() -> list[dict]:
    """2026-04-02: a move, a foreigner's name change, a birth and a death."""
    d = "2026-04-02"
    return [event("m1", "MOVE_WITHIN", d, resident_code=R(1), town_code="0002", address_line="9-9"),
            event("n4", "NAME_CHANGE", d, resident_code=R(4), family_name="LI", given_name="NA",
                  family_name_kana="リ", given_name_kana="ナ"),
            event("b5", "BIRTH", d, **person(5, birth_date=d, household_id="H1", relationship="子")),
            event("d3", "DEATH", d, resident_code=R(3))]


def run_daily(root: Path, run_id: str | None = None) -> daily.RunRecord:
    """What `juki daily` does for the store in root (the inbox's new files), in plaintext, without Prefect."""
    settings = Settings(store=root / STORE)
    run_id = run_id or f"run-{uuid.uuid4().hex[:8]}"
    with writer_lock(settings.store, run_id), connect(settings.store) as con:
        files = daily.pending_files(con, settings.inbox)
        return daily.run(con, settings, run_id, files, daily.parameters(settings, files), plaintext=True)


def city(root: Path) -> Path:
    """A store whose first run took the BASELINE file in; the day's file waits in the inbox."""
    (root / "inbox").mkdir(parents=True)
    write_file(root / "inbox", "2026-04-01", baseline_rows())
    run_daily(root, "run-base")
    write_file(root / "inbox", "2026-04-02", day_rows())
    return root


def killed_at(root: Path, boundary: str) -> subprocess.CompletedProcess:
    """Run the day in a child process that SIGKILLs itself at the boundary."""
    env = {**os.environ, "JUKI_FAULT": boundary, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                           "from tests.tasks.test_faults import run_daily, without_row_rules; without_row_rules(); "
                           "run_daily(Path(sys.argv[1]), 'run-killed')",
                           str(root)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)


def _without(value, *keys):
    return {k: v for k, v in value.items() if k not in keys}


def fingerprint(root: Path) -> dict:
    """Everything a run leaves, without run ids, wall-clock times and the folder's own path."""
    here = str(root.resolve())

    def local(text):
        return text.replace(here, "<root>") if isinstance(text, str) else text

    def rows(con, sql):
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return sorted(json.dumps({n: local(v) for n, v in zip(names, r)}, default=str, sort_keys=True)
                      for r in cursor.fetchall())

    with connect(root / STORE, read_only=True) as con:
        found = {
            "register": register_digest(con),
            "files": rows(con, "select * exclude (run_id, received_at) from file_ledger"),
            "handoffs": rows(con, "select * exclude (run_id, published_at) from handoff_ledger"),
            "disclosures": rows(con, "select * exclude (run_id, disclosed_at) from disclosure_log"),
            "watermarks": rows(con, "select output, target, delivery_no, business_date from publish_watermark"),
            # what each date's files were last written knowing (a date written again by the rerun: its newest row)
            "statistics written": rows(con, "select target, business_date, max(delivery_no) as delivery_no "
                                            "from statistics_written group by target, business_date"),
            "intents": rows(con, "select * from handoff_intent"),
            "pending seals": rows(con, "select seq from ledger_chain_pending"),
            "chain": chain.verify(con),
        }
    outputs = {}
    for folder in ("stats", "outbox"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                data = path.read_bytes()
                if path.suffix == ".json":
                    data = _without(json.loads(data), "created_at")
                outputs[str(path.relative_to(root))] = data
    found["outputs"] = outputs
    return found


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    """The fingerprint of the day taken in by one run nobody killed."""
    root = city(tmp_path_factory.mktemp("uninterrupted"))
    run_daily(root, "run-day")
    return fingerprint(root)


# each boundary of tasks/faults.py a day run passes; "#n" is its n-th passing (four feeds first, the snapshot 5th);
# between the target write and the ledger row (after-target-swap) for every subscriber
KILLS = ["after-start", "after-land", "after-apply", "after-invariants", "after-balance", "after-stats-file",
         "after-stats-file#7", "after-stats-watermark", "after-intent", "after-intent#5", "after-data-file",
         "after-data-file#5", "after-target-swap", "after-target-swap#2", "after-target-swap#3",
         "after-target-swap#4", "after-target-swap#5", "after-handoff-ledger", "after-handoff-ledger#5",
         "after-run-ledger", "after-seal-pending", "after-anchor", "after-seal-commit"]


def test_every_boundary_is_killed_by_a_test():
    """The list above names every boundary a daily run passes, and each subscriber's target swap."""
    from tasks.handoff import load_subscribers

    assert {k.partition("#")[0] for k in KILLS} == set(faults.BOUNDARIES)
    swaps = {int(k.partition("#")[2] or 1) for k in KILLS if k.startswith("after-target-swap")}
    assert swaps == set(range(1, len(load_subscribers()) + 1))


def test_a_fault_is_honoured_only_inside_tests(monkeypatch):
    """Without PYTEST_CURRENT_TEST a stray JUKI_FAULT does nothing."""
    monkeypatch.setenv("JUKI_FAULT", "after-land")
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    faults.fault("after-land")  # still alive


@pytest.mark.slow
@pytest.mark.parametrize("boundary", KILLS)
def test_the_next_run_after_a_kill_leaves_what_one_run_would(boundary, uninterrupted, tmp_path):
    """Killed at the boundary, then `juki daily` again: the same store, targets and ledgers; replay agrees."""
    root = city(tmp_path / "city")
    child = killed_at(root, boundary)
    assert child.returncode == -9, child.stderr[-2000:]
    with connect(root / STORE, read_only=True) as con:
        assert chain.verify(con) == []  # an interrupted run or seal is never taken for tampering
    run_daily(root, "run-next")
    assert fingerprint(root) == uninterrupted
    with connect(root / STORE, read_only=True) as con:
        statuses = dict(con.execute("select run_id, status from run_ledger").fetchall())
    assert statuses["run-next"] == "completed"
    assert statuses["run-killed"] == ("completed" if boundary.startswith(("after-run-ledger", "after-seal",
                                                                          "after-anchor")) else "crashed")
    report = replay.replay(Settings(store=root / STORE), tmp_path / "scratch", verify=True)
    assert report.ok, report.summary()


# --- the cases of issue 10 ----------------------------------------------------------------------------------

def test_case_1_a_crash_after_the_apply_commit_loses_no_output(tmp_path):
    """Killed during the checks: the next run writes the day's statistics, sends its feeds and snapshot, and
    closes the killed run as crashed with the file it took in."""
    root = city(tmp_path / "city")
    assert killed_at(root, "after-invariants").returncode == -9
    record = run_daily(root, "run-next")
    assert record.outcomes == [] and record.status == "completed"
    assert sorted(p.name for p in (root / "stats" / "2026-04-02").iterdir()) == [
        "balance.csv", "balance.parquet", "households.csv", "households.parquet", "movements.csv",
        "movements.parquet", "population.csv", "population.parquet", "pyramid.png"]
    assert [h["business_date"] for h in record.handoffs["juki_net"]] == ["2026-04-02"]
    assert json.loads((root / "outbox" / "conbini" / "manifest.json").read_text())["as_of"] == "2026-04-02"
    with connect(root / STORE, read_only=True) as con:
        status, outputs = con.execute("select status, outputs from run_ledger where run_id = 'run-killed'").fetchall()[0]
    outputs = json.loads(outputs)
    assert status == "crashed" and [f["file"] for f in outputs["files"]] == ["112038_changes_20260402.csv"]
    assert outputs["closed_by"] == "run-next"
    assert replay.replay(Settings(store=root / STORE), tmp_path / "scratch", verify=True).ok


def test_case_2_a_second_file_for_a_published_date_reaches_every_feed(tmp_path):
    """File B for 2026-04-02 after file A was published: its rows get a file of their own, numbered next."""
    root = city(tmp_path / "city")
    run_daily(root, "run-a")
    second = root / "inbox" / "112038_changes_20260402.csv"
    second.write_text(second.read_text() + "", encoding="utf-8")
    write_file(root / "inbox", "2026-04-02", [
        event("m2", "MOVE_WITHIN", "2026-04-02", resident_code=R(2), town_code="0003", address_line="3-3"),
        event("m4", "MOVE_WITHIN", "2026-04-02", resident_code=R(4), town_code="0004", address_line="4-4")])
    record = run_daily(root, "run-b")
    assert [o["status"] for o in record.outcomes] == ["applied"]
    net = record.handoffs["juki_net"]
    assert [(h["sequence_no"], h["previous_sequence_no"], h["business_date"], h["rows"]) for h in net] == [
        (3, 2, "2026-04-02", 2)]
    assert [(h["sequence_no"], h["rows"]) for h in record.handoffs["immigration"]] == [(3, 1)]
    assert [h["rows"] for h in record.handoffs["koseki_fuhyo"]] == [1]
    assert record.handoffs["conbini"][0]["snapshot_id"] == 3
    assert "2026-04-02/population.csv" in record.statistics  # the date's figures restated with both files


def test_a_re_sent_superset_file_sends_only_its_new_rows(tmp_path):
    """The day's file sent again with one more row: the rows applied before are skipped, and only the new row
    travels, in a file of its own numbered next."""
    import polars as pl

    root = city(tmp_path / "city")
    run_daily(root, "run-a")
    again = root / "inbox" / "again"
    again.mkdir()
    write_file(again, "2026-04-02", day_rows() + [
        event("m2", "MOVE_WITHIN", "2026-04-02", resident_code=R(2), town_code="0003", address_line="3-3")])
    settings = Settings(store=root / STORE)
    with writer_lock(settings.store, "run-b"), connect(settings.store) as con:
        files = [str(again / "112038_changes_20260402.csv")]
        record = daily.run(con, settings, "run-b", files, daily.parameters(settings, files), plaintext=True)
    (outcome,) = record.outcomes
    assert (outcome["rows_applied"], outcome["rows_skipped"]) == (1, 4)
    (header,) = record.handoffs["juki_net"]
    assert (header["sequence_no"], header["previous_sequence_no"], header["rows"]) == (3, 2, 1)
    rows = pl.read_parquet(root / "outbox" / "juki_net" / header["file"])
    assert rows["event_id"].to_list() == ["m2"]


def test_case_3_a_late_event_carries_the_record_as_now_known(tmp_path):
    """A NAME_CHANGE effective 03-01 arriving after a MOVE_WITHIN effective 03-10 was sent: its row carries
    the new name and the address after the move, so a receiver applying rows in order keeps the move."""
    import polars as pl

    root = tmp_path / "city"
    (root / "inbox").mkdir(parents=True)
    write_file(root / "inbox", "2026-02-27", [event("base1", "BASELINE", "2020-01-01", "2026-02-27", **person(1))])
    write_file(root / "inbox", "2026-03-10", [
        event("m1", "MOVE_WITHIN", "2026-03-10", resident_code=R(1), town_code="0002", address_line="9-9")])
    run_daily(root, "run-1")
    write_file(root / "inbox", "2026-03-20", [
        event("n1", "NAME_CHANGE", "2026-03-01", "2026-03-20", resident_code=R(1), family_name="埼玉",
              given_name="太郎", family_name_kana="サイタマ", given_name_kana="タロウ")])
    record = run_daily(root, "run-2")
    assert record.outcomes[0]["rows_applied"] == 1
    (header,) = record.handoffs["juki_net"]
    (row,) = pl.read_parquet(root / "outbox" / "juki_net" / header["file"]).to_dicts()
    assert (row["event_id"], str(row["effective_date"]), row["family_name"]) == ("n1", "2026-03-01", "埼玉")
    assert row["address"].endswith("9-9")  # the address after the move, not the one before it


def test_case_4_a_kill_after_the_manifest_swap_is_recorded_and_numbers_do_not_jump(tmp_path):
    """The snapshot the manifest names gets its ledger and disclosure rows on the next run; the next number
    follows it."""
    root = city(tmp_path / "city")
    assert killed_at(root, "after-target-swap#5").returncode == -9
    manifest = json.loads((root / "outbox" / "conbini" / "manifest.json").read_text())
    assert manifest["snapshot_id"] == 2
    with connect(root / STORE, read_only=True) as con:
        assert con.execute("select count(*) from handoff_intent").fetchall() == [(1,)]
    run_daily(root, "run-next")
    with connect(root / STORE, read_only=True) as con:
        ledger = con.execute("select sequence_no, previous_no, file_name from handoff_ledger "
                             "where subscriber = 'conbini' order by sequence_no").fetchall()
        logged = con.execute("select sequence_no, file_name from disclosure_log where who = 'conbini' "
                             "order by sequence_no").fetchall()
    assert ledger == [(1, None, "residents-1.parquet"), (2, 1, "residents-2.parquet")]
    assert logged == [(1, "residents-1.parquet"), (2, "residents-2.parquet")]
    write_file(root / "inbox", "2026-04-03", [
        event("m2", "MOVE_WITHIN", "2026-04-03", resident_code=R(2), town_code="0003", address_line="3-3")])
    assert run_daily(root, "run-3").handoffs["conbini"][0]["snapshot_id"] == 3


def test_case_5_a_kill_inside_the_seal_is_an_interrupted_seal_and_the_next_run_completes_it(tmp_path, capsys):
    """After the anchor line, before the seal reached the chain: `audit chain` says an interrupted seal (exit 0),
    the next run completes it; a real edit is still named."""
    from tests.builders import run_juki

    root = city(tmp_path / "city")
    assert killed_at(root, "after-anchor").returncode == -9
    status, out, _ = run_juki(capsys, "--store", str(root / STORE), "audit", "chain")
    assert status == 0 and re.search(r"an interrupted seal: seal \d+ \(run run-killed", out), out
    run_daily(root, "run-next")
    status, out, _ = run_juki(capsys, "--store", str(root / STORE), "audit", "chain")
    assert status == 0 and "interrupted" not in out and "the ledger chain is intact" in out
    with connect(root / STORE) as con:
        con.execute("update handoff_ledger set rows = rows + 1 where subscriber = 'conbini' and sequence_no = 2")
    status, out, _ = run_juki(capsys, "--store", str(root / STORE), "audit", "chain")
    assert status == 1 and "the handoff_ledger row of conbini sequence 2" in out and "was edited" in out


def test_juki_publish_sends_what_a_crashed_run_left(tmp_path, capsys):
    """`juki publish` takes in no file and publishes everything past each watermark; a second one sends nothing."""
    from tests.builders import run_juki

    root = city(tmp_path / "city")
    assert killed_at(root, "after-apply").returncode == -9
    status, out, err = run_juki(capsys, "--store", str(root / STORE), "publish", "--json")
    assert status == 1, err  # no keys in this test: the hand-offs are refused, said in one sentence each
    summary = json.loads(out)
    assert "2026-04-02/population.csv" in summary["statistics"] and "JUKI_CONBINI_KEY" in err
    key = "ab" * 32
    env = {sub: key for sub in ("JUKI_CONBINI_KEY", "JUKI_JUKI_NET_KEY", "JUKI_IMMIGRATION_KEY",
                                "JUKI_KOSEKI_FUHYO_KEY", "JUKI_KOSEKI_FUHYO_CS_KEY")}
    os.environ.update(env)
    try:
        status, out, err = run_juki(capsys, "--store", str(root / STORE), "publish", "--json")
        assert status == 0, err
        summary = json.loads(out)
        assert summary["statistics"] == [] and [h["sequence_no"] for h in summary["handoffs"]["juki_net"]] == [2]
        status, out, err = run_juki(capsys, "--store", str(root / STORE), "publish", "--json")
        assert status == 0 and all(files == [] for files in json.loads(out)["handoffs"].values())
    finally:
        for name in env:
            os.environ.pop(name)


def test_an_anchor_line_cut_short_during_a_seal_is_part_of_the_interrupted_seal(tmp_path):
    """A torn last line while a seal is pending is no alarm, and the next seal writes over it; without a pending
    seal the same line is named as an edit."""
    root = city(tmp_path / "city")
    assert killed_at(root, "after-seal-pending").returncode == -9
    anchors = chain.anchors_beside(root / STORE)
    with anchors.open("a", encoding="utf-8") as out:
        out.write('{"head": "ab')
    with connect(root / STORE, read_only=True) as con:
        assert chain.verify(con) == [] and "an interrupted seal" in chain.interrupted(con)
    run_daily(root, "run-next")
    assert anchors.read_text(encoding="utf-8").endswith("}\n")
    with connect(root / STORE, read_only=True) as con:
        assert chain.verify(con) == [] and chain.interrupted(con) is None
    with anchors.open("a", encoding="utf-8") as out:
        out.write('{"head": "ab')
    with connect(root / STORE, read_only=True) as con:
        assert any("is not a seal record: the file was edited" in p for p in chain.verify(con))
