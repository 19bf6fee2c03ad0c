"""One mini end-to-end run of the daily-linkage flow on Prefect (a session-scoped test API)."""

from __future__ import annotations

import json

from tests.builders import event, person, resident_code, write_file


def test_daily_run_applies_quarantines_and_refuses_with_one_sentence(prefect_api, tmp_path, capsys, monkeypatch):
    """`juki daily --json` takes the inbox in name order, applies, quarantines, refuses, publishes, exits 1."""
    from juki.cli import main
    from tasks.handoff import decrypt, load_subscribers

    keys = {sub.key_env: f"{i:02d}" * 32 for i, sub in enumerate(load_subscribers().values())}
    for name, value in keys.items():
        monkeypatch.setenv(name, value)

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_file(inbox, "2026-04-01", [event("B1", "BASELINE", "2000-01-01", "2026-04-01", **person(1)),
                                     event("B2", "BASELINE", "2001-01-01", "2026-04-01", **person(2))])
    write_file(inbox, "2026-04-02", [
        event("M1", "MOVE_WITHIN", "2026-04-02", resident_code=resident_code(1), town_code="0002",
              address_line="9-9-9"),
        event("D9", "DEATH", "2026-04-02", resident_code=resident_code(9)),
    ])
    (inbox / "112038_changes.csv").write_text("no date in this name\n")

    status = main(["--store", str(tmp_path / "registry.duckdb"), "daily", "--json"])
    out = json.loads(capsys.readouterr().out)

    assert status == 1
    by_file = {f["file"]: f for f in out["files"]}
    assert by_file["112038_changes_20260401.csv"]["rows_applied"] == 2
    assert (by_file["112038_changes_20260402.csv"]["rows_applied"],
            by_file["112038_changes_20260402.csv"]["rows_quarantined"]) == (1, 1)
    refused = by_file["112038_changes.csv"]
    assert refused["status"] == "refused" and "FILE_NAME_INVALID" in refused["reason"]

    again = main(["--store", str(tmp_path / "registry.duckdb"), "daily", "--date", "2026-04-30", "--json"])
    files = json.loads(capsys.readouterr().out)["files"]
    assert again == 1 and [f["file"] for f in files] == ["112038_changes.csv"]

    stats = tmp_path / "stats" / "2026-04-02"
    assert sorted(p.name for p in stats.iterdir()) == [
        "balance.csv", "balance.parquet", "households.csv", "households.parquet", "movements.csv",
        "movements.parquet", "population.csv", "population.parquet", "pyramid.png"]
    assert (stats / "balance.csv").read_text().splitlines()[1:] == [
        "japanese,1,2026-04-02,2026-04-02,2,0,0,0,0,0,0,0,0,0,0,0,0,0,1,0,2"]
    assert not (tmp_path / "stats" / "2026-04-01" / "balance.csv").exists()  # the BASELINE's date has none
    assert (stats / "pyramid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (stats / "movements.csv").read_text().splitlines()[1].startswith("japanese,1,0,0,0,0,0,")

    outbox = tmp_path / "outbox"
    manifest = json.loads((outbox / "conbini" / "manifest.json").read_text())
    assert (manifest["snapshot_id"], manifest["rows"], manifest["encryption"]) == (1, 2, "AES-256-GCM")
    blob = (outbox / "conbini" / manifest["file"]).read_bytes()
    import hashlib
    assert hashlib.sha256(decrypt(blob, bytes.fromhex(keys["JUKI_CONBINI_KEY"]))).hexdigest() == manifest["sha256"]
    assert sorted(p.name for p in (outbox / "juki_net").iterdir() if p.suffix == ".json") == [
        "changes-00000001-20260401.json", "changes-00000002-20260402.json"]
