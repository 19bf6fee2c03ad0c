"""The convenience-store snapshot streamed from DuckDB: Arrow batches into Parquet, sealed and hashed on the way.

No step holds the register as Python objects or as one Parquet blob: DuckDB hands over record batches,
the Parquet writer fills row groups of ROW_GROUP_ROWS (as `handoff.parquet_bytes` did, so the bytes are
the same as before), and every byte it writes is hashed and encrypted (AES-256-GCM, streamed: the same
nonce ‖ ciphertext ‖ tag layout as `handoff.encrypt`) straight into the target's temporary file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.heads import define_household_heads

SQL = Path(__file__).resolve().parent / "sql" / "handoff"
ROW_GROUP_ROWS = 1_000_000  # handoff.parquet_bytes' row_group_size: the same rows give the same bytes
BATCH_ROWS = 100_000
NONCE_BYTES = 12
PARQUET_OPTIONS = dict(version="2.6", compression="zstd", compression_level=3, use_dictionary=True,
                       write_statistics=True, data_page_version="1.0", store_schema=True)


@dataclass(frozen=True)
class Written:
    """What a streamed snapshot file holds: its rows, the SHA-256 of the Parquet and of the file written."""

    rows: int
    sha256: str
    file_sha256: str


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


def write_parquet(reader: pa.RecordBatchReader, types: dict[str, pa.DataType], sink) -> int:
    """Stream record batches into Parquet with handoff.parquet_bytes' options and row groups; the row count."""
    schema = pa.schema([pa.field(name, kind) for name, kind in types.items()])
    rows, pending, pending_rows = 0, [], 0
    with pq.ParquetWriter(sink, schema, **PARQUET_OPTIONS) as writer:
        def flush() -> None:
            # one contiguous table per row group: the pages come out as from one write_table call
            if pending:
                writer.write_table(pa.Table.from_batches(pending, schema=schema).combine_chunks(),
                                   row_group_size=ROW_GROUP_ROWS)
                pending.clear()

        for batch in reader:
            while batch.num_rows:
                take = batch.slice(0, ROW_GROUP_ROWS - pending_rows)
                pending.append(_typed(take, schema))
                pending_rows += take.num_rows
                rows += take.num_rows
                batch = batch.slice(take.num_rows)
                if pending_rows == ROW_GROUP_ROWS:
                    flush()
                    pending_rows = 0
        flush()
    return rows


def write_snapshot(con: duckdb.DuckDBPyConnection, query: str, params: dict, types: dict[str, pa.DataType],
                   out: BinaryIO, key: bytes | None) -> Written:
    """Run the query and stream its rows as Parquet into `out`, encrypted when `key` is given."""
    sealed = _Sealed(out, key)
    define_household_heads(con)  # conbini.sql reads the head of each household from it
    reader = con.sql(query, params=params).to_arrow_reader(BATCH_ROWS)
    rows = write_parquet(reader, types, sealed)
    sealed.finish()
    return Written(rows, sealed.plain.hexdigest(), sealed.blob.hexdigest())


def conbini_query(fields: tuple[str, ...], exclude: tuple[str, ...], towns: dict[str, str], prefix: str) -> tuple[str, dict]:
    """The snapshot's rows in SQL (what handoff.conbini_frame computes in polars) and the exclusion counts' query."""
    reason = ("case " + " ".join(f"when {name} then '{name}'" for name in exclude) + " end") if exclude else "null"
    base = (SQL / "conbini.sql").read_text(encoding="utf-8")
    judged = (f"with residents as (\n{base}\n),\n"
              f"judged as (select *, cast({reason} as varchar) as excluded_reason from residents)")
    columns = ", ".join(f'"{f}"' for f in fields)
    # the households with someone left out, as a narrow set joined back (a window over every household
    # partitioned and sorted all residents with all their columns once more before the final sort)
    rows = (f"{judged},\n"
            "blocked as (\n"
            "    select distinct household_id, true as blocked from judged where excluded_reason is not null\n"
            "),\n"
            "marked as (\n"
            "    select j.*,\n"
            "           coalesce(b.blocked, false) as household_certificate_blocked,\n"
            "           $prefix || t.town_name || j.address_line as address\n"
            "    from judged as j\n"
            "    left join blocked as b on b.household_id is not distinct from j.household_id\n"
            "    left join (select unnest($town_codes) as town_code, unnest($town_names) as town_name) as t\n"
            "           on t.town_code = j.town_code\n"
            ")\n"
            f"select {columns} from marked where excluded_reason is null order by resident_code")
    counts = f"{judged}\nselect excluded_reason, count(*) from judged where excluded_reason is not null group by all"
    return rows, {"counts": counts, "prefix": prefix, "town_codes": list(towns), "town_names": list(towns.values())}


def excluded_counts(con: duckdb.DuckDBPyConnection, counts_query: str, as_of: dt.date, exclude: tuple[str, ...]) -> dict:
    """Residents left out of the snapshot, by the first reason that applies to each, every reason listed."""
    define_household_heads(con)
    found = dict(con.execute(counts_query, {"as_of": as_of}).fetchall())
    return {name: int(found.get(name, 0)) for name in exclude}
