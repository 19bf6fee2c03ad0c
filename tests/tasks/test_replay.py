"""Replay: a generated city's recorded runs rebuilt in a scratch folder match every digest; tampering shows."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from juki_core.settings import Settings
from juki_core.store import connect
from tasks import daily, stats_files
from tasks.audit import register_digest
from synthetic.city import generate_city
from tasks.replay import ReplayError, digest_at, register_rows, replay, rows_digest, scratch_settings

KEY = bytes(range(32))  # the live runs encrypt their hand-offs; the replay recomputes them in plaintext


def _daily_run(con, settings: Settings, run_id: str, paths: list[Path]) -> None:
    """What flows/daily_linkage.py does for one run (the same plain function), without Prefect."""
    ordered = [str(p) for p in sorted(paths, key=lambda p: p.name)]
    daily.run(con, settings, run_id, ordered, {"files": [Path(p).name for p in ordered], "store": str(settings.store)},
              key_for=lambda sub: KEY)


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    """A live register of 800 residents over 20 business days: one two-file run, a refused file, a run with
    no files, a file delivered twice, late events and cancellations."""
    root = tmp_path_factory.mktemp("city")
    paths = generate_city(root / "generated", residents=800, days=29)  # 20 business days: 29 April is 昭和の日
    refused = root / "generated" / "112038_changes.csv"
    refused.write_text("no date in this name\n")
    (root / "again").mkdir()
    again = Path(shutil.copy(paths[2], root / "again"))
    runs = [paths[:2], paths[2:3], [refused, paths[3]], []] + [[p] for p in paths[4:]]
    runs[10].append(again)
    settings = Settings(store=root / "live" / "registry.duckdb")
    con = connect(settings.store)
    try:
        for n, files in enumerate(runs, 1):
            _daily_run(con, settings, f"run-{n:02d}", files)
        late = con.sql("select count(*) from event where notified_date > effective_date and event_type <> 'BASELINE'"
                       ).fetchall()[0][0]
        cancels = con.sql("select count(*) from event where event_type = 'CANCEL'").fetchall()[0][0]
        assert late and cancels, "the city should hold late events and cancellations"
    finally:
        con.close()
    return root / "live"


@pytest.fixture
def copy(city, tmp_path) -> Settings:
    """A copy of the live city to tamper with."""
    shutil.copytree(city, tmp_path / "live")
    return Settings(store=tmp_path / "live" / "registry.duckdb")


def _outcomes(tmp_path: Path, run_id: str) -> list[dict]:
    scratch = connect(tmp_path / "scratch" / "registry.duckdb", read_only=True)
    try:
        (outputs,) = scratch.execute("select outputs from run_ledger where run_id = ?", [run_id]).fetchall()[0]
        return json.loads(outputs)["files"]
    finally:
        scratch.close()


def _fingerprint(folder: Path) -> dict[str, tuple[int, int, str]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns,
                                         hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _ledger(settings: Settings, sql: str, **params) -> None:
    con = connect(settings.store)
    try:
        con.execute(sql, params or None)
    finally:
        con.close()


@pytest.mark.slow
def test_a_full_replay_matches_every_recorded_digest_and_leaves_the_live_city_alone(city, tmp_path):
    """Every run matches (files, file ledger, status, register, statistics, hand-offs); closing checks pass."""
    settings = Settings(store=city / "registry.duckdb")
    before = _fingerprint(city)
    messages = []

    report = replay(settings, tmp_path / "scratch", verify=True, progress=messages.append)

    assert report.ok, report.text()
    assert [r.verdict for r in report.runs] == ["match"] * 21
    assert report.runs[3].files == [] and report.runs[2].files == ["112038_changes.csv", "112038_changes_20260406.csv"]
    assert report.checks == [] and report.first_divergence is None
    assert _fingerprint(city) == before
    assert (tmp_path / "scratch" / "stats" / "2026-04-30" / "population.csv").exists()
    conbini = json.loads((tmp_path / "scratch" / "outbox" / "conbini" / "manifest.json").read_text())
    assert conbini["encryption"] == "none" and conbini["file"].endswith(".parquet")
    assert [o["status"] for o in _outcomes(tmp_path, "run-11")] == ["duplicate", "applied"]
    assert "The replay of 21 run(s) matches every recorded digest." in messages[-1]
    scratch = connect(tmp_path / "scratch" / "registry.duckdb", read_only=True)
    try:
        assert rows_digest(register_rows(scratch)) == register_digest(scratch) == digest_at(scratch)
        assert scratch.sql("select count(*) from run_ledger where status = 'failed'").fetchall() == [(1,)]
        # the knowledge each date's files were written with arises in the scratch as it did live (its recorded_at
        # is the scratch's own clock, the same boundary between the same deliveries): the balance files match
        knowledge = "select business_date, delivery_no, run_id from statistics_written order by all"
        replayed = scratch.sql(knowledge).fetchall()
    finally:
        scratch.close()
    with connect(settings.store, read_only=True) as live:
        assert live.sql(knowledge).fetchall() == replayed and len(replayed) > 20


def test_one_changed_byte_of_an_archived_file_fails_naming_the_run_and_the_file(copy, tmp_path):
    """The replay stops at the changed file: the runs before it match, the ones after are not replayed."""
    con = connect(copy.store, read_only=True)
    (sha,) = con.sql("select file_sha256 from file_ledger where file_name = '112038_changes_20260403.csv'").fetchall()[0]
    con.close()
    archived = Path(copy.archive) / sha
    data = bytearray(archived.read_bytes())
    data[-2] ^= 1
    archived.write_bytes(bytes(data))

    report = replay(copy, tmp_path / "scratch", verify=True)

    assert not report.ok
    assert [r.verdict for r in report.runs[:3]] == ["match", "mismatch", "not replayed"]
    first = report.first_divergence
    assert first.output == "input" and first.run_id == "run-02"
    assert "run 2 of 21 (run-02)" in first.message and "112038_changes_20260403.csv" in first.message
    assert "have changed" in first.message
    assert "First divergence: run 2 of 21 (run-02)" in report.summary()


def test_a_missing_archived_file_fails_with_a_clear_sentence(copy, tmp_path):
    """A deleted archive file is named with its run and delivery; nothing of that run is replayed."""
    con = connect(copy.store, read_only=True)
    (sha,) = con.sql("select file_sha256 from file_ledger where file_name = '112038_changes_20260402.csv'").fetchall()[0]
    con.close()
    (Path(copy.archive) / sha).unlink()

    report = replay(copy, tmp_path / "scratch", verify=True)

    assert not report.ok and [r.verdict for r in report.runs[:2]] == ["mismatch", "not replayed"]
    message = report.first_divergence.message
    assert message.startswith("run 1 of 21 (run-01): the archived file 112038_changes_20260402.csv (delivery 2, "
                              f"SHA-256 {sha[:16]}…) is missing from the archive")


def test_edited_ledger_digests_are_named_with_their_run_and_output(copy, tmp_path):
    """The register digest and one statistics digest of a run edited by hand: both named; the live register
    as it stood after the run agrees with the replay, so the sentence says the ledger row was changed."""
    _ledger(copy, "update run_ledger set register_sha256 = repeat('0', 64), outputs = json_merge_patch(outputs, "
                  "'{\"stats\": {\"2026-04-02/population.csv\": \"" + "f" * 64 + "\"}}') where run_id = 'run-01'")

    report = replay(copy, tmp_path / "scratch", until=dt.date(2026, 4, 2), verify=True)

    assert not report.ok and [r.verdict for r in report.runs] == ["mismatch"] and report.later == 20
    register, statistics = report.runs[0].divergences
    assert (register.output, register.run_id, register.recorded) == ("register", "run-01", "0" * 64)
    assert register.message.startswith("run 1 of 21 (run-01): the register digest is 0000000000000000… in the "
                                       "run ledger")
    assert "the run ledger's register_sha256 was changed after the run" in register.message
    assert statistics.output == "statistics"
    assert statistics.message.startswith("run 1 of 21 (run-01): the statistics file 2026-04-02/population.csv has "
                                         "SHA-256 ffffffffffffffff… in the run ledger")
    assert report.checks == []  # a partial replay has no closing checks


def test_a_record_edited_with_its_digest_names_the_resident(copy, tmp_path):
    """A record changed by hand and the run's digest recomputed to fit: the replay names the resident
    (its code apart from the sentence, which is logged)."""
    con = connect(copy.store)
    (code,) = con.sql("select min(resident_code) from resident_version where recorded_to is null").fetchall()[0]
    con.execute("update resident_version set family_name = family_name || '改' where resident_code = ?", [code])
    (finished,) = con.sql("select finished_at from run_ledger where run_id = 'run-01'").fetchall()[0]
    con.execute("update run_ledger set register_sha256 = ? where run_id = 'run-01'",
                [rows_digest(register_rows(con, finished))])
    con.close()

    report = replay(copy, tmp_path / "scratch", until=dt.date(2026, 4, 2), verify=True)

    first = report.first_divergence
    assert (first.output, first.run_id, first.residents, first.residents_differing) == (
        "register", "run-01", (code,), 1)
    assert "1 resident(s) have other records than the live register had when the run finished" in first.message
    assert code not in first.message and f"residents that differ (1): {code}" in report.text()


def test_an_edited_earlier_version_shows_in_the_registers_history(copy, tmp_path):
    """A version superseded since, edited by hand: today's register and every digest agree, but the register
    as known when the run finished does not (--known-at answers would have changed)."""
    con = connect(copy.store)
    (finished,) = con.sql("select finished_at from run_ledger where run_id = 'run-01'").fetchall()[0]
    code, number, since = con.execute(
        "select resident_code, version_no, recorded_from from resident_version where recorded_from <= $t "
        "and recorded_to > $t order by all limit 1", {"t": finished}).fetchall()[0]
    con.execute("update resident_version set family_name = family_name || '改' where resident_code = ? "
                "and version_no = ? and recorded_from = ?", [code, number, since])
    con.close()

    report = replay(copy, tmp_path / "scratch", until=dt.date(2026, 4, 2), verify=True)

    [history] = report.runs[0].divergences
    assert (history.output, history.residents, history.residents_differing) == ("history", (code,), 1)
    assert "recorded_from/recorded_to times, were changed after the run; 1 resident(s) differ." in history.message


def test_a_run_missing_from_the_run_ledger_shows(copy, tmp_path):
    """Deliveries under a run the run ledger does not hold: its row was deleted."""
    _ledger(copy, "delete from run_ledger where run_id = 'run-01'")

    report = replay(copy, tmp_path / "scratch", until=dt.date(2026, 4, 2), verify=True)

    assert [r.verdict for r in report.runs] == ["mismatch"]
    assert report.first_divergence.message == (
        "run 1 of 21 (run-01): deliveries 1-2 (112038_changes_20260401.csv, 112038_changes_20260402.csv) were taken "
        "in under a run the run ledger does not hold: its row is missing or was changed.")


def test_the_scratch_folder_must_be_new_and_apart_from_the_live_folders(city, tmp_path):
    """Never the live store's folder or its archive; never a folder holding something."""
    settings = Settings(store=city / "registry.duckdb")
    with pytest.raises(ReplayError, match="live store's own folder"):
        scratch_settings(settings, city)
    with pytest.raises(ReplayError, match="inside the live archive folder"):
        scratch_settings(settings, city / "archive" / "replay")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("x")
    with pytest.raises(ReplayError, match="is not empty"):
        scratch_settings(settings, tmp_path / "used")


def test_subscribers_with_absolute_targets_are_replayed_into_scratch_only(tmp_path):
    """A subscriber whose target lies outside the store's folder: the replay writes nothing there, and matches."""
    from tasks.handoff import SUBSCRIBERS_YAML
    from tests.builders import event, person, write_file

    remote = tmp_path / "remote" / "conbini"
    subscribers = tmp_path / "subscribers.yaml"
    subscribers.write_text(SUBSCRIBERS_YAML.read_text(encoding="utf-8").replace(
        "target: outbox/conbini/", f"target: {remote}/"), encoding="utf-8")
    settings = Settings(store=tmp_path / "live" / "registry.duckdb", subscribers=str(subscribers))
    (tmp_path / "inbox").mkdir()
    path = write_file(tmp_path / "inbox", "2026-04-01", [
        event("B1", "BASELINE", "2000-01-01", "2026-04-01", **person(1))])
    with connect(settings.store) as con:
        _daily_run(con, settings, "run-01", [path])
    before = sorted((p.name, p.stat().st_mtime_ns) for p in remote.iterdir())
    assert [name for name, _ in before] == ["manifest.json", "residents-1.parquet.aes"]

    report = replay(settings, tmp_path / "scratch", verify=True)

    assert report.ok, report.summary()
    assert sorted((p.name, p.stat().st_mtime_ns) for p in remote.iterdir()) == before


def test_runs_recorded_with_the_earlier_digest_definition_still_verify(tmp_path, monkeypatch):
    """A store upgraded midway: runs that recorded the sorted-hashes digest and runs that recorded the kept sums
    both match, and the kept sums equal a full recomputation at the end of the replay."""
    paths = generate_city(tmp_path / "generated", residents=200, days=8)
    settings = Settings(store=tmp_path / "live" / "registry.duckdb")
    con = connect(settings.store)
    try:
        with monkeypatch.context() as old_code:
            old_code.setattr(daily, "register_digest", lambda con: register_digest(con, legacy=True))
            for n, path in enumerate(paths[:3], 1):
                _daily_run(con, settings, f"run-{n:02d}", [path])
        con.execute("delete from register_digest_state")  # the upgrade: no kept sums yet
        for n, path in enumerate(paths[3:], 4):
            _daily_run(con, settings, f"run-{n:02d}", [path])
        recorded = [d for (d,) in con.execute("select register_sha256 from run_ledger order by run_id").fetchall()]
    finally:
        con.close()
    assert not recorded[0].startswith("sum:") and recorded[-1].startswith("sum:")

    report = replay(settings, tmp_path / "scratch", verify=True)

    assert report.ok, report.text()
    assert {r.verdict for r in report.runs} == {"match"} and report.checks == []


def test_pyramids_drawn_with_matplotlib_before_the_pillow_drawing_still_verify(tmp_path, monkeypatch):
    """Runs that recorded the matplotlib pyramid's digest match (the same population drawn that way); a pyramid
    digest that neither drawing gives is named."""
    paths = generate_city(tmp_path / "generated", residents=200, days=6)
    settings = Settings(store=tmp_path / "live" / "registry.duckdb")
    con = connect(settings.store)
    try:
        with monkeypatch.context() as old_code:
            old_code.setattr(stats_files, "pyramid_png", stats_files.pyramid_png_matplotlib)
            for n, path in enumerate(paths[:3], 1):
                _daily_run(con, settings, f"run-{n:02d}", [path])
        for n, path in enumerate(paths[3:], 4):
            _daily_run(con, settings, f"run-{n:02d}", [path])
    finally:
        con.close()

    report = replay(settings, tmp_path / "scratch", verify=True)
    assert report.ok, report.text()

    con = connect(settings.store, read_only=True)
    try:
        (outputs,) = con.execute("select outputs from run_ledger where run_id = 'run-02'").fetchall()[0]
    finally:
        con.close()
    (day,) = [k for k in json.loads(outputs)["stats"] if k.endswith("/pyramid.png")]
    _ledger(settings, "update run_ledger set outputs = json_merge_patch(outputs, '{\"stats\": {\"" + day + "\": \""
            + "e" * 64 + "\"}}') where run_id = 'run-02'")
    tampered = replay(settings, tmp_path / "scratch2", verify=True)
    assert not tampered.ok
    assert any(d.output == "statistics" and day in d.message for r in tampered.runs for d in r.divergences)


def test_runs_recorded_before_the_balance_files_still_verify_and_recorded_ones_are_checked(tmp_path, monkeypatch):
    """Runs recorded before the balance files (no `*/balance.*` digest) match though the replay writes them; a
    run that recorded them is held to them: a changed balance digest is named."""
    from tasks import publish

    paths = generate_city(tmp_path / "generated", residents=200, days=6)
    settings = Settings(store=tmp_path / "live" / "registry.duckdb")
    con = connect(settings.store)
    try:
        with monkeypatch.context() as old_code:
            old_code.setattr(publish, "balance_period_from", lambda con, day, *inserted: None)
            for n, path in enumerate(paths[:3], 1):
                _daily_run(con, settings, f"run-{n:02d}", [path])
        for n, path in enumerate(paths[3:], 4):
            _daily_run(con, settings, f"run-{n:02d}", [path])
        recorded = {run: json.loads(outputs)["stats"] for run, outputs in
                    con.execute("select run_id, outputs from run_ledger order by run_id").fetchall()}
    finally:
        con.close()
    assert not any("/balance." in name for run in ("run-01", "run-02", "run-03") for name in recorded[run])
    assert [name.rpartition("/")[2] for name in recorded["run-04"] if "/balance." in name] == [
        "balance.parquet", "balance.csv"]

    report = replay(settings, tmp_path / "scratch", verify=True)
    assert report.ok, report.text()
    day = dt.datetime.strptime(paths[1].stem.rsplit("_", 1)[1], "%Y%m%d").date().isoformat()
    assert (tmp_path / "scratch" / "stats" / day / "balance.csv").exists()  # written, not recorded by run-02

    (name,) = [k for k in recorded["run-04"] if k.endswith("/balance.csv")]
    _ledger(settings, "update run_ledger set outputs = json_merge_patch(outputs, '{\"stats\": {\"" + name + "\": \""
            + "e" * 64 + "\"}}') where run_id = 'run-04'")
    tampered = replay(settings, tmp_path / "scratch2", verify=True)
    assert not tampered.ok
    assert [(r.run_id, d.output) for r in tampered.runs for d in r.divergences] == [("run-04", "statistics")]
    assert f"the statistics file {name} has SHA-256 eeeeeeeeeeeeeeee… in the run ledger" in \
        tampered.first_divergence.message
