"""The convenience-store snapshot streamed from DuckDB: Arrow batches into Parquet, sealed and hashed on the way.

No step holds the register as Python objects or as one Parquet blob: DuckDB hands over record batches,
the Parquet writer fills row groups of ROW_GROUP_ROWS (as `handoff.parquet_bytes` did, so the bytes are
the same as before), and every byte it writes is hashed and encrypted (AES-256-GCM, streamed: the same
nonce ‖ ciphertext ‖ tag layout as `handoff.encrypt`) straight into the target's temporary file. One row
group's Arrow columns are held (pyarrow writes a row group in one call, and only one call gives those bytes).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime as dt
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterator

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.heads import define_household_heads

SQL = Path(__file__).resolve().parent / "sql" / "handoff"
ROW_GROUP_ROWS = 1_000_000  # handoff.parquet_bytes' row_group_size: the same rows give the same bytes
BATCH_ROWS = 100_000
# DuckDB's memory while the snapshot's query runs (its sort spills to the store's temp folder beyond it): without a
# limit DuckDB took ~0.7 GiB for the 607k snapshot, and the row group's Arrow columns come on top (see decisions.md)
SNAPSHOT_MEMORY = "300MB"
# the row group's columns from the system allocator, whose large blocks go back to the system when freed (the
# default pool kept them, so the process stayed ~70 MB larger after every snapshot)
POOL = pa.system_memory_pool()
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
NONCE_BYTES = 12
EXCLUDED = "excluded_reason"  # a query's column naming why a row is left out (null: kept)
PARQUET_OPTIONS = dict(version="2.6", compression="zstd", compression_level=3, use_dictionary=True,
                       write_statistics=True, data_page_version="1.0", store_schema=True)


@functools.cache
def return_freed_memory() -> None:
    """Have glibc's malloc give large freed blocks (from 128 KiB) back to the system at once, for the rest of the process.

    By default glibc raises its mmap threshold each time such a block is freed, so the next ones come from its
    heap and stay with the process when freed: the row group's columns of one snapshot, then DuckDB's and polars'
    pieces of the next steps, kept the process ~0.15 GiB larger at its peak (decisions.md, Performance)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024)  # a threshold set is a threshold fixed
    except (OSError, AttributeError):  # not glibc: its own allocator's policy stands
        pass


@dataclass(frozen=True)
class Written:
    """What a streamed snapshot file holds: its rows, the SHA-256 of the Parquet and of the file written, the rows left out."""

    rows: int
    sha256: str
    file_sha256: str
    excluded: dict[str, int] = field(default_factory=dict)  # the rows left out, by reason


class _Sealed:
    """A write-only file for the Parquet writer: hashes the plaintext, encrypts it when a key is given, writes."""

    def __init__(self, out: BinaryIO, key: bytes | None) -> None:
        self.out, self.plain, self.blob, self.position, self.closed = out, hashlib.sha256(), hashlib.sha256(), 0, False
        self.encryptor = None
        if key is not None:
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

            nonce = secrets.token_bytes(NONCE_BYTES)
            self.encryptor = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
            self._out(nonce)

    def _out(self, data: bytes) -> None:
        self.blob.update(data)
        self.out.write(data)

    def write(self, data) -> int:
        data = bytes(data)
        self.plain.update(data)
        self.position += len(data)
        self._out(self.encryptor.update(data) if self.encryptor else data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def finish(self) -> None:
        if self.encryptor is not None:
            self._out(self.encryptor.finalize())
            self._out(self.encryptor.tag)


def _typed(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([batch.column(f.name).cast(f.type) for f in schema], schema=schema)


class MoreThanARowGroup(Exception):
    """The rows to sort are more than one row group (or not by a column of the file): the query sorts them (DuckDB)."""


def _keep(pending: list[list[pa.Array]], batch: pa.RecordBatch) -> None:
    for pieces, column in zip(pending, batch.columns):
        pieces.append(pa.concat_arrays([column], memory_pool=POOL))  # a copy: the batch's buffers go back to DuckDB


def _joined(pending: list[list[pa.Array]], schema: pa.Schema, order: pa.Array | None = None) -> pa.Table:
    """The pieces as one contiguous table (in `order` when given), each column joined and its pieces let go in turn."""
    columns = []
    for pieces in pending:
        column = pa.concat_arrays(pieces, memory_pool=POOL)
        pieces.clear()
        columns.append(column if order is None else pc.take(column, order, memory_pool=POOL))
        column = None
    return pa.Table.from_arrays(columns, schema=schema)


def _sort_key(key: pa.Array) -> pa.Array:
    """The key to sort by: as integers when every value is ASCII digits of one length (the same order as the text
    byte by byte, sorted in less than half the time), else the text."""
    if len(key) and not key.null_count and pc.all(pc.ascii_is_decimal(key)).as_py():
        lengths = pc.min_max(pc.binary_length(key)).as_py()
        if lengths["min"] == lengths["max"] <= 18:
            return pc.cast(key, pa.int64(), memory_pool=POOL)
    return key


def _count(excluded: dict[str, int], reasons: pa.Array) -> int:
    """The rows with a reason, counted into `excluded` by it; how many."""
    if reasons.null_count == len(reasons):
        return 0
    for found in reasons.value_counts().to_pylist():
        if found["values"] is not None:
            excluded[found["values"]] = excluded.get(found["values"], 0) + found["counts"]
    return len(reasons) - reasons.null_count


def _gathered(reader: pa.RecordBatchReader, schema: pa.Schema, sort_by: str, excluded: dict[str, int] | None,
              most: int | None) -> tuple[pa.Table | None, int]:
    """The batches' rows as one contiguous table sorted by `sort_by` (None when there are none) and their count; the
    rows with an excluded_reason counted into `excluded` and left out; MoreThanARowGroup beyond `most` rows."""
    # each column's pieces are kept as copies of their own, so DuckDB frees every batch it handed over, and each
    # column is joined and let go in turn (the rows are held once)
    pending: list[list[pa.Array]] = [[] for _ in schema]
    rows, reasons = 0, []
    for batch in reader:
        left_out = 0
        if excluded is not None and EXCLUDED in batch.schema.names:
            reasons.append(pa.concat_arrays([batch.column(EXCLUDED)], memory_pool=POOL))
            left_out = _count(excluded, reasons[-1])
        rows += batch.num_rows - left_out
        if most is not None and rows > most:
            raise MoreThanARowGroup(f"more than {most} rows")
        _keep(pending, _typed(batch, schema))
        batch = None
    if not rows:
        return None, 0
    key = pa.concat_arrays(pending[schema.get_field_index(sort_by)], memory_pool=POOL)
    order = pc.sort_indices(_sort_key(key), memory_pool=POOL)
    key = None
    if any(r.null_count < len(r) for r in reasons):  # the order passes over the rows left out
        kept = pc.is_null(pc.take(pa.concat_arrays(reasons, memory_pool=POOL), order))
        order = pc.filter(order, kept, memory_pool=POOL)
    reasons.clear()
    return _joined(pending, schema, order), rows


IPC = pa.ipc.IpcWriteOptions(compression=pa.Codec("zstd", 1))


def _packed(batch: pa.RecordBatch) -> pa.Buffer:
    """A batch as zstd-compressed Arrow IPC, held in memory."""
    sink = pa.BufferOutputStream(memory_pool=POOL)
    with pa.ipc.new_stream(sink, batch.schema, options=IPC) as writer:
        writer.write_batch(batch)
    return sink.getvalue()


def _unpacked(packed: pa.Buffer) -> pa.RecordBatch:
    return pa.ipc.open_stream(packed, memory_pool=POOL).read_next_batch()


def _dealt(stored: list, column: str, bounds: list) -> list[list[pa.Buffer]]:
    """The packed batches dealt into one list per row group (each batch unpacked once and let go): a row goes to
    the row group of the last bound its `column` reaches, byte by byte (none reached: the first)."""
    groups: list[list[pa.Buffer]] = [[] for _ in range(len(bounds) + 1)]
    for n, packed in enumerate(stored):
        stored[n] = None
        if not bounds:
            groups[0].append(packed)
            continue
        batch = _unpacked(packed)
        values, group = batch.column(column), None
        for bound in bounds:
            reached = pc.cast(pc.greater_equal(values, bound), pa.int32())
            group = reached if group is None else pc.add(group, reached)
        order = pc.sort_indices(group)  # stable: a batch's rows keep their order within a row group
        batch = batch.take(order)
        start = 0
        sizes = {found["values"]: found["counts"] for found in pc.value_counts(group).to_pylist()}
        for g in range(len(groups)):
            if sizes.get(g):
                groups[g].append(_packed(batch.slice(start, sizes[g])))
                start += sizes[g]
        batch = None
    return groups


def write_parquet(reader: pa.RecordBatchReader, types: dict[str, pa.DataType], sink, sort_by: str | None = None,
                  excluded: dict[str, int] | None = None) -> int:
    """Stream record batches into Parquet with handoff.parquet_bytes' options and row groups; the row count.

    `sort_by`: the batches come in any order and are sorted by that column here, byte by byte as DuckDB's
    `order by` sorts text (the column's values are distinct); MoreThanARowGroup, before a byte is written, when
    they are more than one row group. With `sort_by`, `excluded`: the rows with an excluded_reason are counted
    into it by reason and left out (by the sort's order, not copied out of each batch first)."""
    schema = pa.schema([pa.field(name, kind) for name, kind in types.items()])
    # a row group is written by one write_table call on contiguous columns (so its pages come out as from
    # handoff.parquet_bytes); until then each column's pieces are kept as copies of their own, so DuckDB frees
    # every batch it handed over, and each column is joined and let go in turn (the row group is held once)
    pending: list[list[pa.Array]] = [[] for _ in schema]
    if sort_by is not None:
        table, rows = _gathered(reader, schema, sort_by, excluded, ROW_GROUP_ROWS)
        with pq.ParquetWriter(sink, schema, **PARQUET_OPTIONS) as writer:
            if rows:
                writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        return rows
    rows, pending_rows = 0, 0
    with pq.ParquetWriter(sink, schema, **PARQUET_OPTIONS) as writer:
        for batch in reader:
            batch = _typed(batch, schema)
            take = None
            while batch.num_rows:
                take = batch.slice(0, ROW_GROUP_ROWS - pending_rows)
                _keep(pending, take)
                pending_rows += take.num_rows
                rows += take.num_rows
                batch = batch.slice(take.num_rows)
                if pending_rows == ROW_GROUP_ROWS:
                    writer.write_table(_joined(pending, schema), row_group_size=ROW_GROUP_ROWS)
                    pending_rows = 0
            batch = take = None  # an empty slice still holds the batch's buffers
        if pending_rows:
            writer.write_table(_joined(pending, schema), row_group_size=ROW_GROUP_ROWS)
    return rows


def write_snapshot(con: duckdb.DuckDBPyConnection, query: str, params: dict, types: dict[str, pa.DataType],
                   out: BinaryIO, key: bytes | None, exclude: tuple[str, ...] = (),
                   memory: str | None = None, order_by: str = "resident_code", at_most: int | None = None) -> Written:
    """Run the query and stream its rows, sorted by `order_by`, as Parquet into `out`, encrypted when `key` is given;
    the rows with an `excluded_reason` are counted by it (every reason in `exclude` listed) and left out. `memory`:
    DuckDB's memory_limit meanwhile (duckdb.OutOfMemoryException when the query cannot keep to it). `at_most`: the
    most rows the query can give, when known; more than a row group go straight to the row groups' path."""
    return_freed_memory()
    sealed = _Sealed(out, key)
    define_household_heads(con)  # conbini.sql reads the head of each household from it
    excluded: dict[str, int] = {}

    def written(sql: str, sort_by: str | None) -> int:
        excluded.clear()
        excluded.update(dict.fromkeys(exclude, 0))
        reader = con.sql(sql, params=params).to_arrow_reader(BATCH_ROWS)
        try:
            if sort_by is not None:
                return write_parquet(reader, types, sealed, sort_by, excluded)
            return write_parquet(_kept(reader, excluded), types, sealed)
        finally:
            reader.close()  # a query stopped half-way would keep the connection busy
            del reader

    def by_row_groups() -> int:
        # more than a row group: one pass keeps every batch zstd-compressed in memory (Arrow IPC) and the sort
        # keys; the keys sorted give each row group's first key; each batch is then dealt into the row groups
        # (unpacked once, its pieces packed again), and each row group's pieces are joined and sorted here as the
        # one row group is. No wide row is sorted, none reaches the disk, and
        # only one row group is held uncompressed (DuckDB's sort of every resident did not keep to 300MB at
        # 3,000,000 and took 4 GiB written again without the limit; a temporary table spilled and cost more)
        excluded.clear()
        excluded.update(dict.fromkeys(exclude, 0))
        schema = pa.schema([pa.field(name, kind) for name, kind in types.items()])
        stored, keys = [], []
        reader = con.sql(query, params=params).to_arrow_reader(BATCH_ROWS)
        try:
            for batch in _kept(reader, excluded):
                batch = _typed(batch, schema)
                keys.append(pa.concat_arrays([batch.column(order_by)], memory_pool=POOL))
                stored.append(_packed(batch))
                batch = None
        finally:
            reader.close()
            del reader
        key = pa.concat_arrays(keys, memory_pool=POOL) if keys else pa.array([], types[order_by])
        keys.clear()
        rows = len(key)
        order = pc.sort_indices(_sort_key(key), memory_pool=POOL)
        starts = [key[order[n].as_py()] for n in range(0, rows, ROW_GROUP_ROWS)]
        key = order = None
        groups = _dealt(stored, order_by, starts[1:])
        stored.clear()
        with pq.ParquetWriter(sealed, schema, **PARQUET_OPTIONS) as writer:
            for n in range(len(starts)):
                table, count = _gathered((_unpacked(p) for p in groups[n]), schema, order_by, None, None)
                groups[n] = []
                writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
                table = None
        return rows

    with memory_limit(con, memory) if memory else contextlib.nullcontext():
        try:
            # one row group (up to 1,000,000 residents) is held anyway: sorted here, DuckDB keeps no sort (it
            # took 0.3-0.7 GiB, or spilled under a limit at 0.4-0.5 CPU s)
            if order_by not in types:
                raise MoreThanARowGroup(f"{order_by} is not a column of the file")
            if at_most is not None and at_most > ROW_GROUP_ROWS:
                raise MoreThanARowGroup(f"up to {at_most} rows")
            rows = written(query, order_by)
        except MoreThanARowGroup:
            if order_by not in types:
                rows = written(f"select * from (\n{query}\n) order by {order_by}", None)
            else:
                rows = by_row_groups()
    sealed.finish()
    return Written(rows, sealed.plain.hexdigest(), sealed.blob.hexdigest(), excluded)


_UNITS = {"": 1, "b": 1, "byte": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def _bytes(text: str) -> float:
    number, unit = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]*)\s*", text).groups()
    return float(number) * _UNITS[unit.lower()]


@functools.cache
def _default_memory_limit() -> str:
    with duckdb.connect() as fresh:
        return fresh.execute("select current_setting('memory_limit')").fetchall()[0][0]


@contextlib.contextmanager
def memory_limit(con: duckdb.DuckDBPyConnection, limit: str) -> Iterator[None]:
    """DuckDB's memory_limit at `limit` meanwhile, then the default again; a limit someone set is left as it is."""
    # a limit set on purpose stays: it reads rounded down, so setting back what it read would shrink it each time
    (before,) = con.execute("select current_setting('memory_limit')").fetchall()[0]
    lower = before == _default_memory_limit() and _bytes(limit) < _bytes(before)
    if lower:
        con.execute(f"set memory_limit = '{limit}'")
    try:
        yield
    finally:
        if lower:
            con.execute("reset memory_limit")


def _kept(reader: pa.RecordBatchReader, excluded: dict[str, int]):
    """The batches without their rows that have an excluded_reason, counted into `excluded` on the way."""
    for batch in reader:
        if EXCLUDED not in batch.schema.names:
            yield batch
            continue
        reasons = batch.column(EXCLUDED)
        if not _count(excluded, reasons):
            yield batch
            continue
        yield pc.filter(batch, reasons.is_null(), memory_pool=POOL)


def conbini_query(fields: tuple[str, ...], exclude: tuple[str, ...], towns: dict[str, str], prefix: str) -> tuple[str, dict]:
    """The snapshot's rows in SQL (what handoff.conbini_frame computes in polars), in no order (write_snapshot sorts
    them by resident_code), the residents left out among them with their reason in excluded_reason (write_snapshot
    counts and drops them)."""
    reason = ("case " + " ".join(f"when {name} then '{name}'" for name in exclude) + " end") if exclude else "null"
    base = (SQL / "conbini.sql").read_text(encoding="utf-8")
    columns = ", ".join(f'"{f}"' for f in fields)
    # a household is blocked when anyone of it is left out: conbini.sql's narrow household flags, not the
    # residents joined back to themselves (that kept every resident with every column once more, in memory).
    # the rows left out are dropped while streaming, not by a filter here: pushed below the join with the
    # household heads it made DuckDB take the wide side for the join's hash table
    blocked = " or ".join(f"household_{name}" for name in exclude) or "false"
    rows = (f"with residents as (\n{base}\n)\n"
            f"select {columns}, cast({reason} as varchar) as {EXCLUDED}\n"
            "from (\n"
            f"    select r.*, {blocked} as household_certificate_blocked,\n"
            "           $prefix || t.town_name || r.address_line as address\n"
            "    from residents as r\n"
            "    left join (select unnest($town_codes) as town_code, unnest($town_names) as town_name) as t\n"
            "           on t.town_code = r.town_code\n"
            ")")
    return rows, {"prefix": prefix, "town_codes": list(towns), "town_names": list(towns.values())}
