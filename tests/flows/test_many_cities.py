"""The many-cities flow over three generated cities: each its own store and targets, one failure stays its own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from juki_core.settings import Settings
from juki_core.store import connect
from tasks import daily
from tasks.audit import register_digest
from synthetic.city import generate_city
from tasks.replay import replay

CITIES = [("kawaguchi", "112038"), ("kawagoe", "112011"), ("kumagaya", "112020")]


@pytest.fixture
def keys(monkeypatch):
    from tasks.handoff import load_subscribers

    for i, sub in enumerate(load_subscribers().values()):
        monkeypatch.setenv(sub.key_env, f"{i + 1:02d}" * 32)


@pytest.mark.slow
def test_three_cities_run_in_parallel_each_into_its_own_store(prefect_api, tmp_path, keys):
    """Every city's register is what a run of its own files alone gives; a refused file fails only its city."""
    from flows.many_cities import many_cities

    cities = []
    for seed, (name, code) in enumerate(CITIES, 1):
        generate_city(tmp_path / name / "inbox", residents=150, days=2, seed=seed, municipality_code=code)
        cities.append({"name": name, "municipality_code": code, "store": str(tmp_path / name / "registry.duckdb")})
    # a file of kawagoe's that names kumagaya's code: refused in kawagoe only
    stray = next((tmp_path / "kumagaya" / "inbox").glob("*.csv"))
    (tmp_path / "kawagoe" / "inbox" / stray.name).write_bytes(stray.read_bytes())

    state = many_cities(cities=cities, return_state=True)

    assert state.is_failed()
    assert state.message.startswith("kawagoe: ") and "FILE_" in state.message and "kumagaya" not in state.message
    by_city = {r["city"]: r for r in state.result(raise_on_failure=False).outcome}
    assert [by_city[n]["status"] for n, _ in CITIES] == ["completed", "failed", "completed"]
    for name, code in CITIES:
        root = tmp_path / name
        files = sorted((root / "inbox").glob(f"{code}_changes_*.csv"))
        assert by_city[name]["files"] == len(files) + (name == "kawagoe")
        assert (root / "outbox" / "conbini" / "manifest.json").exists()
        assert any((root / "stats").iterdir())
        alone = Settings(store=tmp_path / "alone" / name / "registry.duckdb", municipality_code=code)
        with connect(alone.store) as con:
            daily.run(con, alone, "alone", [str(f) for f in files], {}, key_for=lambda sub: bytes(32))
            expected = register_digest(con)
        with connect(Path(root / "registry.duckdb"), read_only=True) as con:
            assert register_digest(con) == expected
            assert con.execute("select count(distinct run_id) from file_ledger").fetchall() == [(1,)]
    # the replay takes each city's recorded municipality code and subscribers, not the default's
    report = replay(Settings(store=tmp_path / "kawagoe" / "registry.duckdb"), tmp_path / "scratch", verify=True)
    assert report.ok, report.summary()


@pytest.mark.slow
def test_a_laid_out_nation_runs_through_juki_many_cities(prefect_api, nation_reference, tmp_path, capsys):
    """`juki nation layout` then `juki many-cities`: every city completes in its own store with its own keys
    (read from keys.env beside the cities file, never put into the environment), and its hand-offs name it."""
    import io
    import json

    import polars as pl

    from juki.cli import main
    from juki_core.cities import load_keys
    from tasks.handoff import decrypt

    out = tmp_path / "nation"
    assert main(["nation", "layout", "--out", str(out), "--codes", "112038,111007,014729", "--days", "2"]) == 0
    keys = load_keys(out / "keys.env")
    capsys.readouterr()

    status = main(["many-cities", "--cities", str(out / "cities.yaml"), "--json"])
    results = json.loads(capsys.readouterr().out)

    assert status == 0
    assert not set(keys) & set(os.environ)  # Prefect's settings read the whole environment, many times a task
    assert [(r["municipality_code"], r["status"]) for r in results] == [
        ("014729", "completed"), ("111007", "completed"), ("112038", "completed")]
    for r in results:
        code = r["municipality_code"]
        assert r["files"] == 3 and r["rows_applied"] >= 40
        assert any((out / code / "stats").iterdir())
        target = out / code / "outbox" / "conbini"
        manifest = json.loads((target / "manifest.json").read_text())
        blob = decrypt((target / manifest["file"]).read_bytes(), bytes.fromhex(keys[f"JUKI_{code}_CONBINI_KEY"]))
        assert pl.read_parquet(io.BytesIO(blob))["address"].str.starts_with(r["city"]).all()
