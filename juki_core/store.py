"""Opening the DuckDB register: schema on first use, busy and missing stores as clear errors."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
import re
import stat
import threading
import time
from pathlib import Path
from typing import Iterator

import duckdb

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
# What juki keeps beside a store, besides the store's own files (registry.duckdb, .wal, .lock) and the anchors.
PRIVATE_FOLDERS = ("archive", "stats", "outbox")
log = logging.getLogger("juki")

SCHEMA_FILES = ("register.sql", "handoff_ledger.sql", "disclosure_log.sql", "migrations.sql", "ledger_chain.sql", "retention.sql")


class StoreError(Exception):
    """The store cannot be used; the message is one sentence for a person."""


class StoreBusy(StoreError):
    """Another process holds the store's write lock."""


# How long a writer holding the store's writer lock waits for read commands to let go of the store.
READERS_WAIT_SECONDS = 30.0
_held_lock = threading.Lock()
_held: set[str] = set()  # stores whose writer lock this process holds


_umask_lock = threading.Lock()
_umask_holders = 0
_umask_before = 0


@contextlib.contextmanager
def owner_only() -> Iterator[None]:
    """Everything this process creates meanwhile is owner-only (umask 077), whatever the umask was."""
    # The umask belongs to the process: threads running runs at once share one change, the last restores it.
    global _umask_holders, _umask_before
    with _umask_lock:
        if _umask_holders == 0:
            _umask_before = os.umask(0o077)
        _umask_holders += 1
    try:
        yield
    finally:
        with _umask_lock:
            _umask_holders -= 1
            if _umask_holders == 0:
                os.umask(_umask_before)


def tighten(store: Path) -> list[Path]:
    """Make the store's folder, its files and the folders juki keeps beside it owner-only; what was wider."""
    root = store.resolve().parent
    found: list[Path] = []

    def own(path: Path) -> None:
        try:
            info = path.lstat()
        except FileNotFoundError:
            return
        if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid() or not info.st_mode & 0o077:
            return  # links and other users' files are left as they are; owner-only already is fine
        if stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX:
            return  # a shared folder such as /tmp is not the city's
        os.chmod(path, info.st_mode & 0o700)
        found.append(path)

    own(root)
    for path in [*root.glob(store.name + "*"), root / "ledger-anchors.jsonl"]:
        own(path)
    for name in PRIVATE_FOLDERS:
        for folder, _dirs, files in os.walk(root / name):
            own(Path(folder))
            for file in files:
                own(Path(folder) / file)
    if found:
        shown = ", ".join(str(p.relative_to(root)) if p != root else "its folder" for p in found[:3])
        log.warning("tightened the store %s to owner-only (it held full My Numbers readable by others): %s%s",
                    store, shown, f" and {len(found) - 3} more" if len(found) > 3 else "")
    return found


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store; create it with its schema when writing and it does not exist yet."""
    if read_only and not path.exists():
        raise StoreError(f"no store at {path}: run `juki ingest` or `juki daily` first, or pass --store")
    if not read_only:
        path.parent.parent.mkdir(parents=True, exist_ok=True)
        with owner_only():
            path.parent.mkdir(exist_ok=True)
        tighten(path)
    # Under its writer lock a writer can only meet read commands (short) or a lockless writer: it waits.
    deadline = time.monotonic() + (READERS_WAIT_SECONDS if not read_only and _holds_writer_lock(path) else 0)
    while True:
        try:
            with owner_only() if not read_only else contextlib.nullcontext():
                con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.ConnectionException:
            raise StoreBusy(f"the store {path} is already open in this process with other settings; "
                            "close it first") from None
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise StoreError(f"cannot open the store {path}: {_first_line(exc)}") from None
            if time.monotonic() >= deadline:
                raise StoreBusy(_busy(path, exc, read_only)) from None
            time.sleep(0.2)
    if not read_only:
        for name in SCHEMA_FILES:
            con.execute((SCHEMAS / name).read_text(encoding="utf-8"))
    else:
        _read_as_migrated(con)
    return con


_ADDED_COLUMN = re.compile(r"alter table (\w+) add column if not exists (\w+) ([\w\[\]]+)(?: default ([^;]+))?;")


def _read_as_migrated(con: duckdb.DuckDBPyConnection) -> None:
    """A store an older juki wrote, opened read-only (so not migrated): the columns migrations.sql adds read as their
    default (or null) through temporary views of the same names, so reads and the replay's digests work unchanged."""
    added: dict[str, list[str]] = {}
    for table, column, type_, default in _ADDED_COLUMN.findall((SCHEMAS / "migrations.sql").read_text(encoding="utf-8")):
        added.setdefault(table, []).append((column, f"cast({default.strip() or 'null'} as {type_}) as {column}"))
    (database,) = con.execute("select current_database()").fetchone()
    have = set(con.execute("select table_name, column_name from duckdb_columns() where database_name = $d "
                           "and schema_name = 'main'", {"d": database}).fetchall())
    for table, columns in added.items():
        missing = [expression for column, expression in columns if (table, column) not in have]
        if missing and any(t == table for t, _ in have):
            con.execute(f'create temp view {table} as select *, {", ".join(missing)} from "{database}".main.{table}')


@contextlib.contextmanager
def writer_lock(path: Path, holder: str) -> Iterator[None]:
    """Hold the store's writer lock for a whole run; StoreBusy, naming the run holding it, when it is taken."""
    # DuckDB locks the file against other processes only: two runs in one process would share it.
    # flock on a file beside the store serialises threads and processes alike, and ends with the process.
    lock = Path(path).with_name(Path(path).name + ".lock")
    lock.parent.parent.mkdir(parents=True, exist_ok=True)
    with owner_only():
        lock.parent.mkdir(exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 500, 0).decode("utf-8", "replace").strip() or "another juki run"
            raise StoreBusy(f"the store {path} is busy: {other} is writing to it; this run changed "
                            "nothing; try again when it has finished") from None
        since = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{holder} (process {os.getpid()}, since {since})".encode(), 0)
        with _held_lock:
            _held.add(str(Path(path).resolve()))
        try:
            with owner_only():  # the run's archive, statistics, targets and DuckDB's WAL: the city's alone
                yield
        finally:
            with _held_lock:
                _held.discard(str(Path(path).resolve()))
    finally:
        os.close(fd)


def check_writer_free(path: Path) -> None:
    """StoreBusy, with writer_lock's sentence, when another run holds the store's writer lock now (a quick look)."""
    with writer_lock(path, "a check that the store is free"):
        pass


def _holds_writer_lock(path: Path) -> bool:
    with _held_lock:
        return str(Path(path).resolve()) in _held


def writing_run(path: Path, pid: int | None = None) -> str | None:
    """The run named in the store's writer lock file when its process is alive (and is `pid` if given)."""
    try:
        text = Path(path).with_name(Path(path).name + ".lock").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = re.search(r"\(process (\d+), since ([^)]*)\)", text)
    if not found or (pid is not None and int(found[1]) != pid):
        return None
    try:
        os.kill(int(found[1]), 0)
    except ProcessLookupError:
        return None  # the file keeps the last holder's name after it ended
    except PermissionError:
        pass
    return text.strip()


def _busy(path: Path, exc: Exception, read_only: bool) -> str:
    """One sentence: who holds the store (the run, when the writer lock names it) and when to try again."""
    pid = re.search(r"\(PID (\d+)\)", str(exc))
    run = writing_run(path, int(pid[1]) if pid else None)
    who = f"{run} is writing to it" if run else (
        f"another process (PID {pid[1]}) has it open" if pid else "another process has it open")
    if read_only:
        return (f"the store {path} is busy: {who}; nothing was read — try again when it has finished "
                "(a daily run usually takes under a minute, the first load of a large city a few)")
    return f"the store {path} is busy: {who}; this command changed nothing — try again when it has finished"


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the store has this table (a store last written by an older juki may not)."""
    return bool(con.execute("select count(*) from duckdb_tables() where table_name = $n "
                            "and schema_name = current_schema()", {"n": name}).fetchall()[0][0])


def _first_line(exc: Exception) -> str:
    # DuckDB error texts can quote key values; keep only the first line, digits masked.
    return re.sub(r"\d{6,}", "…", str(exc).splitlines()[0])
