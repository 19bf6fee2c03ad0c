"""A large change file (a city's BASELINE) read, validated and applied in slices of lines, in one transaction.

The whole file is never one frame: reading keeps the few columns the state rules, the split of the bulk rows
and the 世帯主 rule need (`KEYS`) for every row, and each stage parses the archived bytes again one slice at a
time for the rest. Judging is the same code as for a whole file (tasks.apply.judge_rows); only the rows that
are not bulk rows (few in a BASELINE) are held whole. A file this path cannot be sure to read as
tasks/read.py would (quotes, CR alone, neither UTF-8 nor CP932, a header to refuse, no line end at the end) is
read whole.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterator

import duckdb
import fsspec
import numpy as np
import polars as pl
import pyarrow as pa

from schemas.change_file import COLUMNS
from tasks.apply import (ACCEPTED_SLICE_ROWS, VERSION_SCHEMA, CodeHistory, Delivery, Judgement, _accepted,
                         _first_versions, already_applied, as_arrow, check_refused_share, code_history,
                         judge_rows, judged_rows, quarantine_frame, sql, state_violations, stored_events,
                         with_person_keys, write_batch)
from tasks.land import LandedFile
from tasks.read import _CONTROL, ChangeFile, _lines, _parse_lines, business_date_of, private_use_lines

# A file of at least this many bytes is taken in slices (the 607,000-row BASELINE, 137 MB, is faster whole).
SLICED_FROM_BYTES = 256 * 2**20
# Physical lines per slice: one slice's frames (and GX's pandas copy of them) are held at a time.
SLICE_ROWS = 500_000
BLOCK_BYTES = 64 * 2**20
# DuckDB's memory_limit while a sliced file is applied: its inserts are then written out, not kept in memory.
APPLY_MEMORY = "1GB"
# The columns kept for every row: what the state rules, the bulk-row split and the 世帯主 rule read.
KEYS = ("line", "event_id", "event_type", "resident_code", "cancels_event_id", "new_resident_code",
        "residence_status", "relationship", "household_id", "effective_date")
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Slice:
    """Physical lines first_line .. first_line + count - 1 of a file, bytes [start, end)."""

    start: int
    end: int
    first_line: int
    count: int

    def holds(self, lines: pl.Series) -> bool:
        return bool(lines.is_between(self.first_line, self.first_line + self.count - 1).any())


@dataclass(frozen=True)
class SlicedFile:
    """A change file read in slices: its key columns for every row, the rest parsed again slice by slice."""

    name: str
    business_date: dt.date
    encoding: str
    uri: str
    header: str
    slices: tuple[Slice, ...]
    keys: pl.DataFrame  # KEYS of every row, in file order, as text
    field_count_errors: list[int]
    extra_columns: list[str]

    def parts(self, lines: pl.Series | None = None) -> Iterator[ChangeFile]:
        """Each slice as a ChangeFile (line numbers of the whole file); with `lines`, only slices holding one."""
        fs, path = fsspec.core.url_to_fs(self.uri)
        with fs.open(path, "rb") as f:
            for s in self.slices:
                if lines is not None and not s.holds(lines):
                    continue
                f.seek(s.start)
                yield _part(self, f.read(s.end - s.start), s.first_line)

    def rows_of(self, lines: pl.Series) -> pl.DataFrame:
        """The rows of these lines with every column, in file order."""
        found = [p.rows.filter(pl.col("line").is_in(lines)) for p in self.parts(lines)]
        return pl.concat(found) if found else _part(self, b"", 2).rows


def _part(file: SlicedFile, data: bytes, first_line: int) -> ChangeFile:
    """One slice's bytes parsed as read.py parses a file: the header line first, then renumbered."""
    if data and file.encoding != "utf-8":
        data = data.decode(file.encoding).encode("utf-8")
    lines = pl.concat([pl.Series("raw", [file.header]), _lines(data) if data else pl.Series("raw", [], pl.String)])
    parsed = _parse_lines(file.name, file.business_date, file.encoding, lines)
    shift = first_line - 2  # _parse_lines numbers the line after the header 2
    return ChangeFile(file.name, file.business_date, file.encoding,
                      parsed.rows.with_columns(pl.col("line") + shift), parsed.raw,
                      [line + shift for line in parsed.field_count_errors], parsed.extra_columns)


def _plain(block: bytes, encoding: str) -> bool | None:
    """What read.py asks of a file it splits in polars, for one block of whole lines: False when the file is to be
    read whole, None when the block is not in `encoding`."""
    if b'"' in block or b"\x1f" in block or block.count(b"\r") != block.count(b"\r\n"):
        return False  # (none of these bytes is a CP932 trail byte, nor is a line end)
    try:
        text = block.decode(encoding)
    except UnicodeDecodeError:
        return None
    return _CONTROL.search(text) is None


def read_sliced(landed: LandedFile, municipality_code: str) -> SlicedFile | None:
    """The archived file as a SlicedFile when it is large and plain; None when it is to be read whole."""
    business_date = business_date_of(landed.name, municipality_code)
    fs, path = fsspec.core.url_to_fs(landed.archive_uri)
    if fs.size(path) < SLICED_FROM_BYTES:
        return None
    with fs.open(path, "rb") as f:
        bom = f.read(len(_BOM)) == _BOM
        for encoding in ("utf-8", "cp932"):  # decode()'s order: UTF-8 (a BOM allowed), else CP932 (the whole file)
            if encoding == "cp932" and bom:
                return None  # read.py decodes the BOM's bytes as CP932 text
            found = _line_ends(f, len(_BOM) if bom else 0, encoding)
            if found is not None:
                break
        if not isinstance(found, np.ndarray):
            return None
        base, after = (len(_BOM) if bom else 0), found
        starts = np.concatenate([[base], after[:-1]])
        header_at = next((n for n in range(len(after)) if after[n] - starts[n] > 2
                          or _line(f, starts[n], after[n], encoding) not in ("", "\r")), None)
        if header_at is None:
            return None
        header = _line(f, starts[header_at], after[header_at], encoding).rstrip("\r")
    checked = _parse_lines(landed.name, business_date, encoding, pl.Series("raw", [header]))
    if checked is None:
        return None  # read.py refuses the header, naming why
    slices = tuple(Slice(int(starts[n]), int(after[min(n + SLICE_ROWS, len(after)) - 1]), n + 1,
                         min(SLICE_ROWS, len(after) - n)) for n in range(header_at + 1, len(after), SLICE_ROWS))
    file = SlicedFile(landed.name, business_date, encoding, landed.archive_uri, header, slices,
                      pl.DataFrame(), [], checked.extra_columns)
    keys, errors = [], []
    for part in file.parts():
        keys.append(_compact(part.rows.select(KEYS)))
        errors.extend(part.field_count_errors)
    empty = pl.DataFrame(schema={"line": pl.Int64, **{c: pl.String for c in KEYS[1:]}})
    return SlicedFile(landed.name, business_date, encoding, landed.archive_uri, header, slices,
                      pl.concat([empty, *keys]), errors, checked.extra_columns)


def _line_ends(f, base: int, encoding: str) -> np.ndarray | bool | None:
    """The offset after each line end of the file from `base`; False when it is to be read whole, None when it is
    not in `encoding`."""
    ends: list[np.ndarray] = []
    f.seek(base)
    offset, carry = base, b""
    while block := f.read(BLOCK_BYTES):
        data = carry + block
        cut = data.rfind(b"\n") + 1
        if cut:
            plain = _plain(data[:cut], encoding)
            if not plain:
                return plain
        ends.append(np.flatnonzero(np.frombuffer(data, np.uint8, cut) == 10) + offset + 1)
        carry, offset = data[cut:], offset + cut
        del data
    if carry or not ends:
        return False  # no line end at the end: read.py refuses it or quarantines the last row
    return np.concatenate(ends)


def _line(f, start: int, end: int, encoding: str) -> str:
    f.seek(start)
    return f.read(end - start).decode(encoding).rstrip("\n")


def _compact(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with its text in buffers of its own: a column split from a line may keep the whole slice's
    text alive (polars' string views share buffers)."""
    return pl.from_arrow(frame.to_arrow())


def validate_sliced(con: duckdb.DuckDBPyConnection, file: SlicedFile):
    """tasks.ingest.validate for a sliced file: the same reasons, the row rules run slice by slice."""
    from tasks.ingest import Validation
    from tasks.validate_rows import row_violations, unused_columns

    reasons: dict[int, list[tuple[str, str | None]]] = {}
    for line in file.field_count_errors:
        reasons.setdefault(line, []).append(("ROW_FIELD_COUNT", None))
    state = state_violations(con, file.keys)
    duplicates = state.filter(pl.col("rule_id") == "DUPLICATE_EVENT_ID")["line"]
    # a row can be one applied before only where the register holds its id: else no slice is parsed for it
    again = (tuple(already_applied(con, file.rows_of(duplicates)))
             if duplicates.len() and _any_stored(con, file.keys.filter(pl.col("line").is_in(duplicates))) else ())
    unused = 0
    for part in file.parts():
        for line in private_use_lines(part):
            reasons.setdefault(line, []).append(("PRIVATE_USE_CHARACTER", None))
        rows = part.rows
        fresh = rows.filter(~pl.col("line").is_in(again)) if again else rows
        if fresh.height:  # a slice of rows applied before only (or of blank lines) is not sent to GX
            for line, rule, column in row_violations(fresh, file.business_date).iter_rows():
                reasons.setdefault(line, []).append((rule, column))
        unused += unused_columns(rows).height if rows.height else 0
        del part, rows, fresh
    for line, rule in state.iter_rows():
        reasons.setdefault(line, []).append((rule, None))
    return Validation(reasons, unused, again)


def _any_stored(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame) -> bool:
    """Whether the register holds an event with one of these rows' ids (tasks/sql/applied_events.sql)."""
    con.register("incoming", rows.select("event_id").filter(pl.col("event_id").is_not_null()).unique())
    try:
        return bool(con.sql(f"select count(*) from ({sql('applied_events.sql')})").fetchall()[0][0])
    finally:
        con.unregister("incoming")


def apply_sliced(con: duckdb.DuckDBPyConnection, file: SlicedFile, reasons: dict[int, list[tuple[str, str | None]]],
                 skipped: tuple[int, ...], unused_values: int, delivery: Delivery, max_refused_share: float,
                 drop_unused: bool, one_head: bool) -> dict:
    """tasks.ingest.apply for a sliced file: judged as a whole, written slice by slice in ONE transaction."""
    from tasks.heads import register_heads
    from tasks.snapshot_writer import memory_limit
    from tasks.validate_rows import without_unused

    unused = without_unused if drop_unused else (lambda rows: rows)
    keys = unused(file.keys)
    codes = code_history(con, keys)
    persons = with_person_keys(keys, codes)
    heads = register_heads(con, persons) if one_head else None
    stored = stored_events(con, persons)
    del persons
    day, no = file.business_date, delivery.delivery_no

    def full(slow: pl.DataFrame) -> pl.DataFrame:
        return judged_rows(unused(file.rows_of(slow["line"])), day, no, codes)

    result, fast = judge_rows(judged_rows(keys, day, no, codes), full, reasons, stored, heads, skipped, codes)
    del stored, heads
    check_refused_share(file.name, keys.height, result.refusals, max_refused_share)
    lines = pl.concat([pl.Series("line", result.accepted_lines, pl.Int64), fast["line"]]).sort()
    taken = keys.filter(pl.col("line").is_in(lines))
    counts = {"rows_read": keys.height, "rows_applied": taken.height,
              "rows_quarantined": len(result.refusals), "rows_skipped": len(result.skipped_lines)}
    has_baseline = bool((taken["event_type"] == "BASELINE").any())
    del taken
    touched = pl.DataFrame({"resident_code": pl.concat([pl.Series(result.touched, dtype=pl.String),
                                                         fast["resident_code"]]).unique().sort()})
    quarantined: list[pl.DataFrame] = [quarantine_frame(_part(file, b"", 2), {})]  # filled as the events go in
    fast_lines = fast["line"]
    del fast
    events = _reader(_events(file, unused, result, delivery, lines, quarantined),
                     as_arrow(_accepted(_part(file, b"", 2).rows, result, delivery, day, lines)).schema)
    versions = _reader(_versions(file, unused, result, fast_lines, codes, no),
                       as_arrow(pl.DataFrame(schema=VERSION_SCHEMA)).schema)
    with memory_limit(con, APPLY_MEMORY):
        write_batch(con, file, delivery, counts, has_baseline, unused_values, events, lambda: pl.concat(quarantined),
                    result.cancellations, touched, versions)
    return counts


def _parts(file: SlicedFile, unused, lines: pl.Series | None = None) -> Iterator[ChangeFile]:
    for part in file.parts(lines):
        yield ChangeFile(part.name, part.business_date, part.encoding, unused(part.rows), part.raw,
                         part.field_count_errors, part.extra_columns)


def _reader(batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(schema, batches)


def _events(file: SlicedFile, unused, judgement: Judgement, delivery: Delivery, lines: pl.Series,
            quarantined: list[pl.DataFrame]) -> Iterator[pa.RecordBatch]:
    """The accepted events in file order, one slice at a time (tasks.apply.accepted_events' batches); each slice's
    refused rows, with all their reasons, into `quarantined` on the way."""
    refusals = pl.Series("line", list(judgement.refusals), pl.Int64)
    for part in _parts(file, unused):
        refused = part.rows["line"].filter(part.rows["line"].is_in(refusals))
        quarantined.append(quarantine_frame(part, {line: judgement.refusals[line] for line in refused}))
        for offset in range(0, part.rows.height, ACCEPTED_SLICE_ROWS):
            yield from as_arrow(_accepted(part.rows.slice(offset, ACCEPTED_SLICE_ROWS), judgement, delivery,
                                          file.business_date, lines)).to_batches()


def _versions(file: SlicedFile, unused, judgement: Judgement, fast_lines: pl.Series, codes: CodeHistory,
              delivery_no: int) -> Iterator[pa.RecordBatch]:
    """judge_file's new versions in its order: the other rows' versions, then the bulk rows' first versions."""
    yield from as_arrow(judgement.new_versions.select(VERSION_SCHEMA.keys())).to_batches()
    for part in _parts(file, unused, fast_lines):
        bulk = judged_rows(part.rows.filter(pl.col("line").is_in(fast_lines)), file.business_date, delivery_no,
                           codes)
        yield from as_arrow(_first_versions(bulk)).to_batches()
