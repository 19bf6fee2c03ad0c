"""One mini end-to-end run of the replay flow: two daily runs through Prefect, replayed and verified."""

from __future__ import annotations

from juki_core.store import connect
from tests.builders import event, person, resident_code, write_file


def test_replay_flow_matches_two_daily_runs_and_fails_on_an_edited_digest(prefect_api, tmp_path, monkeypatch):
    """The replay of two recorded daily runs matches; an edited register digest fails it, naming the run."""
    from flows.daily_linkage import daily_linkage
    from flows.replay import replay
    from tasks.handoff import load_subscribers

    for i, sub in enumerate(load_subscribers().values()):
        monkeypatch.setenv(sub.key_env, f"{i + 1:02d}" * 32)
    store = tmp_path / "live" / "registry.duckdb"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_file(inbox, "2026-04-01", [event("B1", "BASELINE", "2000-01-01", "2026-04-01", **person(1)),
                                     event("B2", "BASELINE", "2001-01-01", "2026-04-01", **person(2))])
    first = daily_linkage(store=str(store), inbox=str(inbox), return_state=True)
    write_file(inbox, "2026-04-02", [event("M1", "MOVE_WITHIN", "2026-04-02", resident_code=resident_code(1),
                                           town_code="0002", address_line="9-9-9")])
    second = daily_linkage(store=str(store), inbox=str(inbox), return_state=True)
    assert first.is_completed() and second.is_completed()

    state = replay(store=str(store), verify=True, return_state=True)
    report = state.result()
    assert state.is_completed() and report["ok"]
    assert [r["verdict"] for r in report["runs"]] == ["match", "match"]
    assert not list(tmp_path.glob("juki-replay-*"))  # no scratch left in the live folders

    run_id = str(second.state_details.flow_run_id)
    with connect(store) as con:
        con.execute("update run_ledger set register_sha256 = repeat('0', 64) where run_id = $r", {"r": run_id})
    state = replay(store=str(store), verify=True, return_state=True)
    report = state.result(raise_on_failure=False).outcome  # a RunFailed, never a dict Prefect cannot resolve
    assert state.is_failed() and not report["ok"]
    assert "register" in state.message and run_id[:8] in state.message
