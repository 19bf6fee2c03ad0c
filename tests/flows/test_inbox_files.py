"""Paths that are not change files, given to the daily flow: refused at once with one sentence (issue 10)."""

from __future__ import annotations

import time

from juki_core.settings import Settings
from juki_core.store import connect


def test_a_folder_named_like_a_change_file_is_refused_at_once_without_retries(prefect_api, tmp_path):
    """Issue 10, case 10: a folder gave two tracebacks and 26 s of retries; now one sentence and nothing recorded."""
    from flows.daily_linkage import daily_linkage

    folder = tmp_path / "inbox" / "112038_changes_20260402.csv"
    folder.mkdir(parents=True)
    started = time.monotonic()
    state = daily_linkage(files=[str(folder)], store=str(tmp_path / "registry.duckdb"), return_state=True)
    took = time.monotonic() - started

    assert state.is_failed()
    assert state.message.startswith("112038_changes_20260402.csv is a folder, not a change file")
    assert "\n" not in state.message and "Traceback" not in state.message
    assert took < 10  # the retries alone waited 1 + 5 + 20 s
    with connect(Settings(store=tmp_path / "registry.duckdb").store, read_only=True) as con:
        assert con.execute("select count(*) from run_ledger").fetchall() == [(0,)]
