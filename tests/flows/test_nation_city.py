"""A city generated as another municipality (東京都千代田区) goes through `juki daily` like 川口市 does."""

from __future__ import annotations

import io
import json

import polars as pl


def test_generate_a_municipality_and_take_it_in_with_juki_daily(prefect_api, nation_reference, tmp_path, capsys,
                                                                 monkeypatch):
    """Its code names the files, its name the 本籍 and addresses; only the rows the generator broke are refused."""
    from juki.cli import main
    from tasks.handoff import decrypt, load_subscribers

    keys = {sub.key_env: f"{i + 1:02d}" * 32 for i, sub in enumerate(load_subscribers().values())}
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("JUKI_MUNICIPALITY_CODE", "131016")
    monkeypatch.setenv("JUKI_CITY_NAME", "東京都千代田区")
    inbox = tmp_path / "inbox"
    assert main(["generate", "--out", str(inbox), "--municipality", "131016", "--scale", "0.0005", "--days", "3",
                 "--seed", "5"]) == 0
    files = sorted(inbox.glob("*.csv"))
    assert [p.name[:15] for p in files] == ["131016_changes_"] * 3
    capsys.readouterr()

    status = main(["--store", str(tmp_path / "registry.duckdb"), "daily", "--json"])
    outcomes = json.loads(capsys.readouterr().out)["files"]

    assert status == 0
    for outcome in outcomes:
        truth = json.loads((inbox / "truth" / outcome["file"].replace(".csv", ".json")).read_text())
        assert outcome["status"] == "applied"
        assert outcome["rows_quarantined"] == len(truth["broken"]), outcome["file"]
    manifest = json.loads((tmp_path / "outbox" / "conbini" / "manifest.json").read_text())
    blob = (tmp_path / "outbox" / "conbini" / manifest["file"]).read_bytes()
    snapshot = pl.read_parquet(io.BytesIO(decrypt(blob, bytes.fromhex(keys["JUKI_CONBINI_KEY"]))))
    assert snapshot.height >= 30 and snapshot["address"].str.starts_with("東京都千代田区").all()
    honseki = snapshot.filter(pl.col("honseki").str.starts_with("東京都千代田区")).height
    assert honseki > 0  # the city's own 本籍: 管内本籍人, sent to its 附票 system
    assert any((tmp_path / "outbox" / "koseki_fuhyo").glob("changes-*"))
