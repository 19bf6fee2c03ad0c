"""Reads during a write: a read command while another process writes exits 75 with one sentence saying when
to try again (not 2, a usage error), and answers once the writer is done; a writer waits for readers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from juki.cli import EXIT_BUSY, main
from juki_core.store import connect, writer_lock
from tests.builders import event, person, resident_code
from tests.conftest import Register
from tests.builders import write_file

# A writer as the daily flow is one: the writer lock, then the store open for writing, in a transaction.
WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from juki_core.store import connect, writer_lock
    store = Path(sys.argv[1])
    with writer_lock(store, "daily-linkage run test-writer"):
        con = connect(store)
        con.execute("begin transaction")
        con.execute("delete from quarantine")
        print("writing", flush=True)
        sys.stdin.readline()
        con.execute("rollback")
        con.close()
""")

# A read command holding the store open for a moment.
READER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from juki_core.store import connect
    con = connect(Path(sys.argv[1]), read_only=True)
    print("reading", flush=True)
    time.sleep(float(sys.argv[2]))
    con.close()
""")


@pytest.fixture
def store(tmp_path) -> str:
    """A register with one refused row."""
    reg = Register(tmp_path)
    try:
        reg.ingest(write_file(reg.inbox, "2026-04-01", [
            event("b1", "BASELINE", "2020-01-01", "2026-04-01", **person(1)),
            event("b2", "BASELINE", "2020-01-01", "2026-04-01", **person(2, sex="9")),
            event("b3", "BASELINE", "2020-01-01", "2026-04-01", **person(3))]))
    finally:
        reg.con.close()
    return str(tmp_path / "registry.duckdb")


def _start(script: str, *argv: str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", script, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True, cwd=Path(__file__).resolve().parents[2])
    assert process.stdout.readline().strip() in ("writing", "reading")
    return process


def _while_a_run_writes(store: str, capsys, argv: list[str]) -> tuple[int, str, str]:
    """A command's exit status, stdout and stderr, run while another process holds the store as a run."""
    writer = _start(WRITER, store)
    try:
        status = main(["--store", store, *argv])
        out, err = capsys.readouterr()
    finally:
        writer.communicate("done\n", timeout=60)
    return status, out, err


@pytest.mark.parametrize("argv", [
    ["quarantine"],
    ["show", resident_code(1)],
    ["stats", "population", "--as-of", "2026-04-01"],
    ["audit", "chain"],
    ["retention", "--dry-run", "--as-of", "2026-04-01"],
])
def test_a_read_while_another_process_writes_exits_75_with_one_sentence(store, capsys, argv):
    """The sentence names the run writing and says when to try again; after the writer is done the read answers."""
    status, out, err = _while_a_run_writes(store, capsys, argv)
    assert status == EXIT_BUSY and out == ""
    assert err.count("\n") == 1
    assert "is busy: daily-linkage run test-writer (process" in err
    assert "nothing was read — try again when it has finished" in err

    assert main(["--store", store, *argv]) == 0
    out, _ = capsys.readouterr()
    if argv == ["quarantine"]:
        assert out.splitlines()[1].startswith("112038_changes_20260401.csv,3,b2,")  # the writer's delete rolled back


def test_a_reveal_or_handoff_while_a_run_writes_exits_75_and_changes_nothing(store, capsys):
    """Writing commands outside a run take the writer lock too: they meet the run's name, not a usage error."""
    reveal, _, err = _while_a_run_writes(store, capsys, ["show", resident_code(1), "--reveal", "--reason",
                                                          "窓口での本人確認"])
    assert reveal == EXIT_BUSY and "daily-linkage run test-writer" in err and "changed nothing" in err
    with connect(Path(store), read_only=True) as con:
        assert con.execute("select count(*) from disclosure_log").fetchall() == [(0,)]


def test_a_writer_waits_for_a_read_command_to_let_go(store):
    """A run under the writer lock meeting a reader (a few seconds) opens the store once the reader is done."""
    reader = _start(READER, store, "2")
    started = time.monotonic()
    try:
        with writer_lock(Path(store), "test run"), connect(Path(store)) as con:
            waited = time.monotonic() - started
            assert con.execute("select count(*) from event").fetchall() == [(2,)]
    finally:
        reader.wait(timeout=60)
    assert waited > 0.5  # it waited for the reader (which holds the store 2 s), rather than failing


@pytest.mark.parametrize("argv", [["daily"], ["ingest", "FILE"], ["publish"], ["retention", "--as-of", "2026-04-01"]])
def test_a_writing_command_while_a_run_writes_exits_75_with_one_sentence(store, capsys, argv):
    """daily, ingest, publish and retention meet a run holding the store: 75 and a sentence to retry, not 1."""
    inbox = Path(store).parent / "inbox"
    argv = [str(next(inbox.iterdir())) if a == "FILE" else a for a in argv]
    status, out, err = _while_a_run_writes(store, capsys, argv)
    assert status == EXIT_BUSY and out == ""
    assert err.count("\n") == 1 and "daily-linkage run test-writer" in err
    assert "changed nothing; try again when it has finished" in err
    with connect(Path(store), read_only=True) as con:
        assert con.execute("select count(*) from run_ledger").fetchall() == [(0,)]
