"""Issue 10, the gaps left: a replay after a crash and a run that brought new files reproduces the published
bytes; every recorded run parameter is replayed as recorded."""

from __future__ import annotations

import pytest

from juki_core.settings import Settings
from juki_core.store import connect
from tasks import replay
from tests.builders import event, resident_code, write_file
from tests.tasks.test_faults import STORE, _fast_validation, city, killed_at, run_daily  # noqa: F401

R = resident_code


def next_day_rows() -> list[dict]:
    """2026-04-03: moves the killed run never saw, of residents whose 04-02 rows it was sending."""
    return [event("m1b", "MOVE_WITHIN", "2026-04-03", resident_code=R(1), town_code="0003", address_line="3-3"),
            event("m4b", "MOVE_WITHIN", "2026-04-03", resident_code=R(4), town_code="0004", address_line="4-4")]


@pytest.mark.parametrize("boundary", ["after-apply", "after-intent", "after-data-file",
                                      "after-target-swap", "after-target-swap#5", "after-handoff-ledger#5"])
def test_a_crash_then_a_run_with_a_new_file_replays_to_the_published_bytes(boundary, tmp_path):
    """Killed after the day's apply commit, the next run brings the next day's file too: the replay publishes
    per run what that run published, and `replay --verify` matches."""
    root = city(tmp_path / "city")
    assert killed_at(root, boundary).returncode == -9
    write_file(root / "inbox", "2026-04-03", next_day_rows())
    record = run_daily(root, "run-next")
    assert record.status == "completed" and [o["status"] for o in record.outcomes] == ["applied"]
    report = replay.replay(Settings(store=root / STORE), tmp_path / "scratch", verify=True)
    assert report.ok, report.summary()
    live, scratch = root / "outbox", tmp_path / "scratch" / "outbox"
    for feed in ("juki_net", "immigration", "koseki_fuhyo"):
        names = sorted(p.name for p in (live / feed).iterdir() if p.name.startswith("changes-"))
        assert names == sorted(p.name for p in (scratch / feed).iterdir() if p.name.startswith("changes-"))
    with connect(root / STORE, read_only=True) as con:
        assert con.execute("select status from run_ledger where run_id = 'run-killed'").fetchall() == [("crashed",)]


def test_a_snapshot_re_issued_as_of_an_older_date_does_not_move_the_watermark(tmp_path, capsys):
    """`juki handoff conbini --as-of <older>` while the day's file waits to be published: the snapshot it writes
    reflects that date only, so the next run still publishes the day's snapshot."""
    from tasks import handoff
    from tests.builders import run_juki

    root = city(tmp_path / "city")
    assert killed_at(root, "after-apply").returncode == -9  # 04-02 applied, its snapshot not yet published
    status, out, err = run_juki(capsys, "--store", str(root / STORE), "handoff", "conbini", "--as-of", "2026-04-01",
                                "--plaintext")
    assert status == 0, err
    target = str(root / "outbox" / "conbini") + "/"
    with connect(root / STORE) as con:
        assert handoff.watermark(con, "snapshot:conbini", target) == 1
    record = run_daily(root, "run-next")
    assert [(m["as_of"], m["snapshot_id"]) for m in record.handoffs["conbini"]] == [("2026-04-02", 3)]
    assert handoff.read_manifest(target)["as_of"] == "2026-04-02"


def test_the_replay_of_a_crashed_run_uses_its_recorded_parameters(tmp_path):
    """The killed run refused a file dated after its today + max_days_ahead: the replay refuses it too (it applied
    it), and the scratch ledger holds the killed run's parameters as recorded."""
    import json

    root = city(tmp_path / "city")
    write_file(root / "inbox", "2099-12-31", [
        event("f2", "MOVE_WITHIN", "2099-12-31", resident_code=R(2), town_code="0003", address_line="3-3")])
    assert killed_at(root, "after-invariants").returncode == -9
    with connect(root / STORE, read_only=True) as con:
        ((status, reason),) = con.execute("select status, reason from file_ledger "
                                          "where file_name like '%20991231%'").fetchall()
    assert status == "refused" and "FILE_DATE_IN_FUTURE" in reason
    (root / "inbox" / "112038_changes_20991231.csv").unlink()
    run_daily(root, "run-next")
    report = replay.replay(Settings(store=root / STORE), tmp_path / "scratch", verify=True)
    assert report.ok, report.summary()
    query = "select parameters from run_ledger where run_id = 'run-killed'"
    with connect(root / STORE, read_only=True) as live, connect(tmp_path / "scratch" / STORE, read_only=True) as mine:
        assert json.loads(mine.execute(query).fetchall()[0][0]) == json.loads(live.execute(query).fetchall()[0][0])
