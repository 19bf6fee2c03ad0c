"""Paths that are not change files, given to the daily flow: refused at once with one sentence (issue 10)."""

from __future__ import annotations


from juki_core.settings import Settings
from juki_core.store import connect


def _task_run_counts(state) -> list[int]:
    """How many times each task run of the flow run ran (1 = no retry)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(
            any_=[state.state_details.flow_run_id])))
    return [run.run_count for run in runs]


def test_a_folder_named_like_a_change_file_is_refused_at_once_without_retries(prefect_api, tmp_path):
    """Issue 10, case 10: a folder gave two tracebacks and 26 s of retries; now one sentence and nothing recorded."""
    from flows.daily_linkage import daily_linkage

    folder = tmp_path / "inbox" / "112038_changes_20260402.csv"
    folder.mkdir(parents=True)
    state = daily_linkage(files=[str(folder)], store=str(tmp_path / "registry.duckdb"), return_state=True)

    assert state.is_failed()
    assert state.message.startswith("112038_changes_20260402.csv is a folder, not a change file")
    assert "\n" not in state.message and "Traceback" not in state.message
    assert all(count == 1 for count in _task_run_counts(state))  # the land task was retried after 1 + 5 + 20 s
    with connect(Settings(store=tmp_path / "registry.duckdb").store, read_only=True) as con:
        assert con.execute("select count(*) from run_ledger").fetchall() == [(0,)]
