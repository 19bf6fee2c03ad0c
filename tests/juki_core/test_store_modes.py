"""Files only the city can read (issue 10, case 8): the store, archive, statistics and targets are owner-only
whatever the umask, and an existing store with wider modes is tightened with one line in the log."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from juki_core.settings import Settings
from juki_core.store import connect, owner_only, writer_lock
from tasks import daily
from tests.builders import event, person, resident_code, write_file

KEY = bytes(range(32))


@pytest.fixture
def wide_umask():
    """The usual umask 022 (files 0644, folders 0755) for the test, whatever the runner's is."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def modes(root: Path, skip: str = "inbox") -> dict[str, int]:
    """Every path under root (not the inbox, the front office's) with its permission bits."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != skip]
        for name in dirs + files:
            path = Path(folder) / name
            found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def test_a_daily_run_under_umask_022_leaves_nothing_others_can_read(tmp_path, wide_umask):
    """Issue 10, case 8: the store and the archive were 0644 and both hold every full My Number."""
    root = tmp_path / "city"
    settings = Settings(store=root / "registry.duckdb")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    base = write_file(inbox, "2026-04-01", [event("B1", "BASELINE", "2000-01-01", "2026-04-01", **person(1)),
                                            event("B2", "BASELINE", "2000-01-01", "2026-04-01", **person(2))])
    moved = write_file(inbox, "2026-04-02", [event("M1", "MOVE_WITHIN", "2026-04-02", resident_code=resident_code(1),
                                                   town_code="0002", address_line="9-9")])
    with writer_lock(settings.store, "test run"):  # as the daily flow runs
        with connect(settings.store) as con:
            for n, path in enumerate((base, moved), 1):
                daily.run(con, settings, f"run-{n}", [str(path)], daily.parameters(settings, [str(path)]),
                          key_for=lambda sub: KEY)
    found = modes(root)
    for part in ("registry.duckdb", "registry.duckdb.lock", "ledger-anchors.jsonl", "archive", "stats/2026-04-02",
                 "stats/2026-04-02/population.parquet", "outbox/conbini/manifest.json"):
        assert part in found, sorted(found)
    wider = {path: oct(mode) for path, mode in found.items() if mode & 0o077}
    assert wider == {}
    assert all(mode == 0o700 for path, mode in found.items() if (root / path).is_dir())
    assert all(mode == 0o600 for path, mode in found.items() if (root / path).is_file())
    assert os.umask(0o022) == 0o022  # the run gave the umask back


def test_an_existing_store_with_wider_modes_is_tightened_with_one_line_in_the_log(tmp_path, caplog):
    """A store written before (0755 folders, 0644 files) is made owner-only when a writer next opens it."""
    root = tmp_path / "city"
    for folder in ("archive", "stats/2026-04-01", "outbox/conbini"):
        (root / folder).mkdir(parents=True)
    for file in ("registry.duckdb.lock", "ledger-anchors.jsonl", "archive/ab12", "stats/2026-04-01/population.csv",
                 "outbox/conbini/manifest.json"):
        (root / file).write_text("x")
    connect(root / "registry.duckdb").close()
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    (tmp_path / "elsewhere").mkdir(mode=0o755)
    (tmp_path / "elsewhere" / "note.txt").write_text("not the store's")
    caplog.clear()

    with caplog.at_level(logging.WARNING, logger="juki"):
        connect(root / "registry.duckdb").close()
    lines = [r.getMessage() for r in caplog.records if r.name == "juki"]
    assert len(lines) == 1 and lines[0].startswith(f"tightened the store {root / 'registry.duckdb'} to owner-only")
    assert {path: oct(mode) for path, mode in modes(root).items() if mode & 0o077} == {}
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="juki"):
        connect(root / "registry.duckdb").close()
    assert not [r for r in caplog.records if r.name == "juki"]  # nothing more to say
    assert stat.S_IMODE((tmp_path / "elsewhere" / "note.txt").stat().st_mode) == 0o644


def test_a_shared_folder_holding_a_store_is_not_changed(tmp_path):
    """A folder with the sticky bit (like /tmp) is not the city's: its own mode stays, the store's files do not."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    connect(shared / "registry.duckdb").close()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert stat.S_IMODE((shared / "registry.duckdb").stat().st_mode) == 0o600


def test_owner_only_is_shared_by_nested_holders_and_restored_by_the_last(wide_umask):
    """Two runs in one process: the first to finish does not give the other back a wide umask."""
    with owner_only():
        with owner_only():
            assert os.umask(0o077) == 0o077
        assert os.umask(0o077) == 0o077
    assert os.umask(0o022) == 0o022
