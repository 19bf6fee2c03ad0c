"""Opening the DuckDB register: schema on first use, busy and missing stores as clear errors."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import re
from pathlib import Path
from typing import Iterator

import duckdb

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
SCHEMA_FILES = ("register.sql", "handoff_ledger.sql", "disclosure_log.sql", "migrations.sql", "ledger_chain.sql", "retention.sql")


class StoreError(Exception):
    """The store cannot be used; the message is one sentence for a person."""


class StoreBusy(StoreError):
    """Another process holds the store's write lock."""


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store; create it with its schema when writing and it does not exist yet."""
    if read_only and not path.exists():
        raise StoreError(f"no store at {path}: run `juki ingest` or `juki daily` first, or pass --store")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.ConnectionException:
        raise StoreBusy(f"the store {path} is already open in this process with other settings; "
                        "close it first") from None
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise StoreBusy(f"the store {path} is busy: another juki process is writing to it; "
                            "try again when it has finished") from None
        raise StoreError(f"cannot open the store {path}: {_first_line(exc)}") from None
    if not read_only:
        for name in SCHEMA_FILES:
            con.execute((SCHEMAS / name).read_text(encoding="utf-8"))
    return con


@contextlib.contextmanager
def writer_lock(path: Path, holder: str) -> Iterator[None]:
    """Hold the store's writer lock for a whole run; StoreBusy, naming the run holding it, when it is taken."""
    # DuckDB locks the file against other processes only: two runs in one process would share it.
    # flock on a file beside the store serialises threads and processes alike, and ends with the process.
    lock = Path(path).with_name(Path(path).name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
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
        yield
    finally:
        os.close(fd)


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the store has this table (a store last written by an older juki may not)."""
    return bool(con.execute("select count(*) from duckdb_tables() where table_name = $n "
                            "and schema_name = current_schema()", {"n": name}).fetchall()[0][0])


def _first_line(exc: Exception) -> str:
    # DuckDB error texts can quote key values; keep only the first line, digits masked.
    return re.sub(r"\d{6,}", "…", str(exc).splitlines()[0])
