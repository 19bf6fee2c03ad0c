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


def test_a_failed_run_leaves_an_artifact_and_calls_the_webhook_block(prefect_api, city, keys):
    """The failure hook writes a markdown artifact and posts the sentence (no My Number) to the Webhook block."""
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
    (city.root / "inbox" / "112038_changes.csv").write_text("no date in this name\n")
    try:
        state = _run(city)
    finally:
        server.shutdown()
        Webhook.delete("juki-failure-webhook")

    assert state.is_failed()
    artifact = _artifacts(state)["failure"]
    assert "daily-linkage failed" in artifact.data and "FILE_NAME_INVALID" in artifact.data
    assert [r["flow"] for r in received] == ["daily-linkage"]
    assert "FILE_NAME_INVALID" in received[0]["message"] and received[0]["state"] == "Failed"


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
