"""The daily flow as operators meet it: one writer per store, I/O retried, failures explained, runs tagged."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from juki_core.settings import Settings
from juki_core.store import connect
from tasks.check import broken_invariants
from tests.builders import event, my_number, person, write_file


@pytest.fixture
def keys(monkeypatch):
    from tasks.handoff import load_subscribers

    for i, sub in enumerate(load_subscribers().values()):
        monkeypatch.setenv(sub.key_env, f"{i + 1:02d}" * 32)


@pytest.fixture
def city(tmp_path):
    """An inbox with a two-person BASELINE and a store beside it."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_file(inbox, "2026-04-01", [event("B1", "BASELINE", "2000-01-01", "2026-04-01", **person(1)),
                                     event("B2", "BASELINE", "2001-01-01", "2026-04-01", **person(2))])
    return Settings(store=tmp_path / "registry.duckdb", inbox=str(inbox))


def _flow_run(state):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(state.state_details.flow_run_id)


def _artifacts(state) -> dict[str, object]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    return {a.key: a for a in found}


def _run(settings: Settings):
    from flows.daily_linkage import daily_linkage

    return daily_linkage(store=str(settings.store), inbox=settings.inbox, return_state=True)


def test_a_second_run_on_a_busy_store_fails_cleanly_and_the_register_stays_intact(prefect_api, city, keys,
                                                                                  monkeypatch):
    """While one run holds the store, a second fails with a sentence naming the holder; the first completes."""
    import tasks.ingest

    holding, release = threading.Event(), threading.Event()
    read_bytes = tasks.ingest.read_bytes

    def slow_read(uri):  # the first run stops inside its land stage until the second has been refused
        holding.set()
        assert release.wait(60)
        return read_bytes(uri)

    monkeypatch.setattr(tasks.ingest, "read_bytes", slow_read)
    states = {}
    first = threading.Thread(target=lambda: states.update(first=_run(city)))
    first.start()
    assert holding.wait(120)
    states["second"] = _run(city)
    release.set()
    first.join(120)

    assert states["first"].is_completed()
    assert states["second"].is_failed()
    assert "is busy" in states["second"].message and "daily-linkage run" in states["second"].message
    with connect(city.store) as con:
        assert broken_invariants(con) == {}
        assert con.execute("select count(*) from run_ledger").fetchall() == [(1,)]
        assert con.execute("select count(*) from resident_version where recorded_to is null").fetchall() == [(2,)]


def test_a_transient_write_failure_is_retried_and_the_run_completes(prefect_api, city, keys, monkeypatch):
    """The first write to a subscriber's target fails once (OSError); the hand-off task retries and publishes."""
    import tasks.handoff

    put, calls = tasks.handoff._put, []

    def flaky_put(fs, path, data):
        calls.append(path)
        if len(calls) == 1:
            raise OSError("connection reset by peer")
        return put(fs, path, data)

    monkeypatch.setattr(tasks.handoff, "_put", flaky_put)
    state = _run(city)

    assert state.is_completed(), state.message
    assert len(calls) > 1 and calls[0] == calls[1]  # the same file written again on the retry
    manifest = json.loads((city.root / "outbox" / "conbini" / "manifest.json").read_text())
    assert manifest["rows"] == 2
    with connect(city.store) as con:  # the retry did not log a disclosure twice
        assert con.execute("select count(*) from disclosure_log where who = 'conbini'").fetchall() == [(1,)]


def test_a_validation_refusal_is_not_retried(prefect_api, city, keys, monkeypatch):
    """A refused file fails the run with one sentence; the read stage ran once."""
    import tasks.ingest

    (city.root / "inbox" / "112038_changes_20260401.csv").write_bytes(b"\xff\xfe\x00garbage")
    reads = []
    original = tasks.ingest.read_change_file

    def counted(*args, **kwargs):
        reads.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(tasks.ingest, "read_change_file", counted)
    state = _run(city)

    assert state.is_failed() and "112038_changes_20260401.csv" in state.message
    assert len(reads) == 1


def _task_runs(state) -> dict[str, object]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        found = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(
            any_=[state.state_details.flow_run_id])))
    return {t.name: t for t in found}


@pytest.fixture
def info_logs():
    """Prefect's loggers at INFO, as a deployment's worker runs them (`make test` exports WARNING)."""
    import logging

    logger = logging.getLogger("prefect")
    before = logger.level
    logger.setLevel(logging.INFO)  # setLevel, not the attribute: it clears the loggers' cached levels
    yield
    logger.setLevel(before)


def _logs(state) -> list[tuple[int, str]]:
    """The flow run's log lines as the UI shows them: (level, message), sent to the API first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30)
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(
            any_=[state.state_details.flow_run_id])))
    return [(log.level, log.message) for log in logs]


@pytest.fixture
def webhook():
    """A Webhook block pointing at a local receiver; the bodies it received."""
    from prefect.blocks.webhook import Webhook

    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Webhook(url=f"http://127.0.0.1:{server.server_port}/juki").save("juki-failure-webhook", overwrite=True)
    try:
        yield received
    finally:
        server.shutdown()
        Webhook.delete("juki-failure-webhook")


def test_a_refused_file_fails_its_task_and_the_artifact_and_webhook_name_the_file_and_rule(prefect_api, city, keys,
                                                                                          webhook):
    """The read task of the refused file ends Failed (the graph points at it) with no traceback in the log; the
    failure artifact and the webhook body name the file and the rule; the run's state resolves to RunFailed."""
    from flows.hooks import RunFailed

    (city.root / "inbox" / "112038_changes_20260402.csv").write_bytes(b"\xff\xfe\x00garbage")
    state = _run(city)

    assert state.is_failed()
    result = state.result(raise_on_failure=False)
    assert isinstance(result, RunFailed) and [o["status"] for o in result.outcome] == ["applied", "refused"]
    runs = _task_runs(state)
    assert runs["read 112038_changes_20260402.csv"].state.type.value == "FAILED"
    assert runs["read 112038_changes_20260401.csv"].state.type.value == "COMPLETED"
    artifact = _artifacts(state)["failure"].data
    assert "daily-linkage failed" in artifact
    assert "112038_changes_20260402.csv" in artifact and "FILE_ENCODING" in artifact
    [body] = webhook
    assert body["flow"] == "daily-linkage" and body["state"] == "Failed"
    assert "112038_changes_20260402.csv" in body["message"] and "FILE_ENCODING" in body["message"]
    logs = _logs(state)
    assert not [m for _, m in logs if "Traceback" in m or "NoneType: None" in m]
    assert [m for level, m in logs if level >= 40 and m.startswith("112038_changes_20260402.csv: refused (FILE_")]


def test_a_crash_is_recorded_and_sealed_and_its_text_masked(prefect_api, city, keys, monkeypatch):
    """A step that raises with a My Number in its text: the run ledger says crashed (sealed), the failure
    artifact shows the sentence with the digits masked, and the store is free for the next run."""
    import tasks.validate_rows
    from tasks import chain

    def broken(*args, **kwargs):
        raise ValueError(f"cannot compare {my_number(7)}")

    original = tasks.validate_rows.row_violations
    monkeypatch.setattr(tasks.validate_rows, "row_violations", broken)
    state = _run(city)

    assert state.is_failed()
    text = _artifacts(state)["failure"].data
    assert "ValueError" in text and "cannot compare" in text and my_number(7) not in text
    with connect(city.store) as con:
        assert con.execute("select status from run_ledger").fetchall() == [("crashed",)]
        assert con.execute("select count(*) from file_ledger").fetchall() == [(0,)]  # the apply never began
        assert chain.verify(con) == [] and chain.seals(con)[-1]["run_rows"] == 1
    monkeypatch.setattr(tasks.validate_rows, "row_violations", original)
    assert _run(city).is_completed()


def test_a_run_is_tagged_and_shows_its_progress_and_summary(prefect_api, city, keys):
    """Tags name the municipality and business date; the progress artifact ends at 100 %; the summary is there."""
    state = _run(city)

    assert state.is_completed(), state.message
    assert {"municipality:112038", "business-date:2026-04-01"} <= set(_flow_run(state).tags)
    artifacts = _artifacts(state)
    assert artifacts["daily-linkage-progress"].data == 100.0
    assert {"daily-linkage-summary", "quarantine-by-rule", "population-by-age", "hand-offs"} <= set(artifacts)


def test_a_run_logs_one_line_per_file_and_check_and_no_completed_task_states(prefect_api, city, keys, info_logs):
    """INFO shows what happened (a line per file, per check); Prefect's "Finished in state Completed()" of each
    task is at DEBUG; task runs without a file have their plain name."""
    state = _run(city)

    assert state.is_completed(), state.message
    messages = [m for _, m in _logs(state)]
    assert not [m for m in messages if m.startswith("Finished in state Completed()")][1:]  # the flow's own only
    assert [m for m in messages if m.startswith("112038_changes_20260401.csv: applied")] != []
    assert "invariants: all hold" in messages
    assert {"list the inbox", "check invariants", "publish statistics", "publish hand-offs"} <= set(_task_runs(state))


def test_a_catch_up_run_is_tagged_with_its_first_and_last_business_date(prefect_api, city, keys):
    write_file(city.root / "inbox", "2026-04-02", [])
    write_file(city.root / "inbox", "2026-04-03", [])
    state = _run(city)

    assert state.is_completed(), state.message
    assert "business-date:2026-04-01..2026-04-03" in _flow_run(state).tags
    assert not [t for t in _flow_run(state).tags if t.startswith("business-date:2026-04-02")]


def test_the_movements_artifact_shows_what_the_days_rows_moved(prefect_api, city, keys):
    """A file of 2 April reporting a move-in of 1 April: the artifact shows it (not a single 0)."""
    write_file(city.root / "inbox", "2026-04-02", [event("I3", "MOVE_IN", "2026-04-01", "2026-04-02", **person(3),
                                                         prev_address="東京都千代田区")])
    state = _run(city)

    assert state.is_completed(), state.message
    rows = json.loads(_artifacts(state)["movements"].data)
    assert [(r["nationality_group"], r["moved_in_domestic"], r["net_change"]) for r in rows] == [("japanese", 1, 1)]


def test_a_scheduled_run_fails_with_one_sentence_when_the_business_days_file_is_missing(prefect_api, city, keys,
                                                                                       webhook):
    """Run on Friday 3 April: Thursday's file is missing. The run takes in what is there and fails saying so."""
    from flows.daily_linkage import daily_linkage

    state = daily_linkage(store=str(city.store), inbox=city.inbox, scheduled=True, run_date="2026-04-03",
                          return_state=True)

    assert state.is_failed()
    assert state.message == (f"no change file for business day 2026-04-02 arrived by this run on 2026-04-03: "
                             f"112038_changes_20260402.csv is not in {city.inbox}.")
    assert "112038_changes_20260402.csv" in webhook[0]["message"]
    with connect(city.store) as con:  # what had arrived was taken in
        assert con.execute("select status from file_ledger").fetchall() == [("applied",)]

    write_file(city.root / "inbox", "2026-04-02", [])
    assert daily_linkage(store=str(city.store), inbox=city.inbox, scheduled=True, run_date="2026-04-03",
                         return_state=True).is_completed()


def test_a_scheduled_run_on_a_holiday_does_nothing_and_says_why_in_one_line(prefect_api, city, keys, info_logs):
    from flows.daily_linkage import daily_linkage

    state = daily_linkage(store=str(city.store), inbox=city.inbox, scheduled=True, run_date="2026-04-29",
                          return_state=True)

    assert state.is_completed() and state.result() == []
    assert "2026-04-29 is not a business day (昭和の日): nothing to take in" in [m for _, m in _logs(state)]
    assert not city.store.exists() or not _artifacts(state)


class _Killed(BaseException):
    """Stands for what ends a process without an exception handler (an OOM kill, a SIGKILL)."""


def test_a_crash_gets_the_same_artifact_and_webhook(prefect_api, city, keys, webhook, monkeypatch):
    import tasks.validate_rows

    def killed(*args, **kwargs):
        raise _Killed()

    monkeypatch.setattr(tasks.validate_rows, "row_violations", killed)
    from flows.daily_linkage import daily_linkage

    with pytest.raises(_Killed):
        daily_linkage(store=str(city.store), inbox=city.inbox)
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType

    with get_client(sync_client=True) as client:
        [run] = client.read_flow_runs(flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
            type=FlowRunFilterStateType(any_=["CRASHED"]))), limit=1, sort="START_TIME_DESC")
    assert run.state.is_crashed()
    [body] = webhook
    assert body["state"] == "Crashed" and body["flow_run_id"] == str(run.id)
    with connect(city.store) as con:
        assert con.execute("select status from run_ledger").fetchall() == [("crashed",)]


def test_a_run_that_finds_the_store_held_exits_75_with_one_sentence(prefect_api, city, capsys):
    """The command line's look before Prefect starts can miss a run that takes the store meanwhile: the flow's
    refusal is then 75 too (busy, try again), not 1."""
    from juki.cli import EXIT_BUSY
    from juki.runner import run_daily_linkage
    from juki_core.store import writer_lock

    with writer_lock(city.store, "daily-linkage run test-holder"):
        status = run_daily_linkage(city, inbox=city.inbox)
    _, err = capsys.readouterr()
    assert status == EXIT_BUSY
    assert "daily-linkage run test-holder" in err and "try again when it has finished" in err
    assert not city.store.exists() or connect(city.store).execute("select count(*) from run_ledger").fetchall() == [(0,)]
