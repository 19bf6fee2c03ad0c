"""`juki handoff conbini` from the command line: refused without a key, published with one."""

from __future__ import annotations

import json

from juki.cli import main
from tests.builders import event, person, write_file


def _store(register):
    register.ingest(write_file(register.inbox, "2026-04-01", [
        event("B1", "BASELINE", "2000-01-01", "2026-04-01", **person(1)),
        event("B2", "BASELINE", "2000-01-01", "2026-04-01", **person(2, relationship="妻", household_id="H1")),
    ]))
    register.con.close()
    return str(register.settings.store)


def test_without_a_key_the_publish_is_refused_as_a_usage_error(register, monkeypatch, capsys):
    """No key and no --plaintext: exit 2, one sentence, nothing in the outbox."""
    monkeypatch.delenv("JUKI_CONBINI_KEY", raising=False)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    store = _store(register)
    assert main(["--store", store, "handoff", "conbini"]) == 2
    assert "JUKI_CONBINI_KEY" in capsys.readouterr().err
    assert not (register.root / "outbox" / "conbini").exists()


def test_with_a_key_the_snapshot_is_published_and_its_manifest_printed(register, monkeypatch, capsys):
    """With a key the manifest says AES-256-GCM, two rows, snapshot 1; a second publish is snapshot 2."""
    monkeypatch.setenv("JUKI_CONBINI_KEY", "ab" * 32)
    store = _store(register)
    assert main(["--store", store, "handoff", "conbini"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["snapshot_id"], first["rows"], first["encryption"], first["as_of"]) == (
        1, 2, "AES-256-GCM", "2026-04-01")
    assert main(["--store", store, "handoff", "conbini", "--as-of", "2026-04-02"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert (second["snapshot_id"], second["previous_snapshot_id"]) == (2, 1)
    assert sorted(p.name for p in (register.root / "outbox" / "conbini").iterdir()) == [
        "manifest.json", "residents-2.parquet.aes"]


def test_an_as_of_before_the_register_is_a_usage_error(register, capsys):
    """An as-of before the first BASELINE: exit 2 naming the first date."""
    store = _store(register)
    assert main(["--store", store, "handoff", "conbini", "--plaintext", "--as-of", "2025-01-01"]) == 2
    assert "2026-04-01" in capsys.readouterr().err
