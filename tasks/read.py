"""Read a landed change file: decode, check the name and header, parse into a frame of text."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from dataclasses import dataclass

import polars as pl

from schemas.change_file import COLUMNS, COLUMNS_V1, FILE_NAME_PATTERN, PRIVATE_USE, RULES

# NUL, C0 controls other than TAB/LF/CR, DEL and C1 controls refuse a whole file.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class FileRefused(Exception):
    """A whole-file refusal: nothing of the file is applied."""

    def __init__(self, file: str, rule_id: str, detail: str = "") -> None:
        self.file, self.rule_id, self.detail = file, rule_id, detail
        sentence = RULES[rule_id].sentence.rstrip(".")
        super().__init__(f"{file}: refused ({rule_id}): {sentence}{': ' + detail if detail else ''}.")


@dataclass(frozen=True)
class ChangeFile:
    """A decoded, parsed change file: one row per record, every column as text (empty = null)."""

    name: str
    business_date: dt.date
    encoding: str
    rows: pl.DataFrame          # line + COLUMNS, all String except line
    raw: pl.Series              # each row's text as received, in the order of rows, for quarantine
    field_count_errors: list[int]  # lines whose field count differs from the header
    extra_columns: list[str]

    @property
    def raw_rows(self) -> list[str]:
        """The raw texts as Python strings (for tests and small files: 600k of them cost ~400 MB)."""
        return self.raw.to_list()


def business_date_of(name: str, municipality_code: str) -> dt.date:
    """The business date in a change-file name, or a FileRefused naming the problem."""
    m = FILE_NAME_PATTERN.fullmatch(name)
    if not m:
        raise FileRefused(name, "FILE_NAME_INVALID", "expected e.g. "
                          f"{municipality_code}_changes_20261125.csv")
    if m["municipality"] != municipality_code:
        raise FileRefused(name, "FILE_MUNICIPALITY_MISMATCH",
                          f"{m['municipality']} is not {municipality_code}")
    try:
        return dt.datetime.strptime(m["date"], "%Y%m%d").date()
    except ValueError:
        raise FileRefused(name, "FILE_DATE_INVALID", m["date"]) from None


def decode(name: str, data: bytes, refuse_cut: bool = True) -> tuple[str, str]:
    """UTF-8 (strict, BOM allowed), else CP932; control characters refuse the file, and so does a cut character."""
    if not data:
        raise FileRefused(name, "FILE_EMPTY")
    for encoding in ("utf-8-sig", "cp932"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError as exc:
            if refuse_cut and encoding == "utf-8-sig" and exc.reason == "unexpected end of data" \
                    and exc.end == len(data):
                # CP932 would read the bytes of a UTF-8 character cut in two as something else
                raise FileRefused(name, "FILE_TRUNCATED", "it ends inside a character") from None
            continue
    else:
        raise FileRefused(name, "FILE_ENCODING", "the bytes are neither UTF-8 nor CP932")
    bad = _CONTROL.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise FileRefused(name, "FILE_ENCODING",
                          f"control character U+{ord(bad.group()):04X} on line {line} "
                          "(UTF-16, EUC-JP or binary data?)")
    return text, "utf-8" if encoding == "utf-8-sig" else "cp932"


# The same characters as _CONTROL, for polars (Rust regex): judged on the split lines, not a Python str.
_CONTROL_RUST = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"


def _lines(body: bytes) -> pl.Series:
    """One string per physical line of UTF-8 bytes (a blank one ""), CR LF stripped; raises on invalid UTF-8."""
    # Polars' CSV reader with a separator that cannot occur (control characters refuse the file) gives one
    # row per physical line, a blank one null, CR LF stripped: a third of the memory of str.split + explode.
    return pl.read_csv(io.BytesIO(body), has_header=False, separator="\x1f", quote_char=None,
                       new_columns=["raw"], schema={"raw": pl.String}, infer_schema=False)["raw"].fill_null("")


def _read_unquoted(name: str, business_date: dt.date, data: bytes, refuse_cut: bool) -> ChangeFile | None:
    """read_change_file for the bytes of a file without a quote character, never held as a Python str when
    UTF-8 (a 137 MB BASELINE: the str, the control-character search over it and its re-encoding cost 2-3 s
    and ~300 MB); None whenever decode() or parse() must judge (and maybe refuse) it."""
    if not data or b'"' in data or b"\x1f" in data or (refuse_cut and not data.endswith(b"\n")):
        return None  # (neither byte is a CP932 trail byte, so the tests hold for both encodings)
    if data.count(b"\r") != data.count(b"\r\n"):
        return None  # a lone CR ends a line too: parse() knows
    body, encoding = (data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data), "utf-8"
    try:
        lines = _lines(body)
    except pl.exceptions.PolarsError:
        try:  # decode()'s order: UTF-8 first (polars refused it, Python decides), then CP932
            data.decode("utf-8-sig")
            return None
        except UnicodeDecodeError:
            pass
        try:
            body, encoding = data.decode("cp932").encode("utf-8"), "cp932"
        except UnicodeDecodeError:
            return None
        lines = _lines(body)
    del body
    if lines.str.contains(_CONTROL_RUST).any():
        return None  # decode() refuses it, naming the line
    return _parse_lines(name, business_date, encoding, lines)


def _parse_unquoted(name: str, business_date: dt.date, encoding: str, text: str) -> ChangeFile | None:
    """parse() for a file without a quote character, where every physical line is one row: split in
    polars instead of a Python csv row loop (a 158 MB BASELINE took 16-29 s that way); None when the
    header needs parse()'s checks."""
    if text.count("\r") != text.count("\r\n"):
        return None  # a lone CR ends a line too: parse() knows
    if not text or "\x1f" in text:
        return None
    return _parse_lines(name, business_date, encoding, _lines(text.encode()))


def _parse_lines(name: str, business_date: dt.date, encoding: str, lines: pl.Series) -> ChangeFile | None:
    """The rows of a file's physical lines, each one row; None when the header needs parse()'s checks."""
    given = (lines != "").arg_true()
    if given.len() == 0:
        return None
    first = given[0]
    header = [h.strip() for h in lines[first].split(",")]
    if (all(not h for h in header) or not set(header) & set(COLUMNS) or len(set(header)) != len(header)
            or any(c not in header for c in COLUMNS_V1)):
        return None  # parse() refuses it with the right reason
    width = len(header)
    numbered = pl.DataFrame({"line": pl.int_range(first + 2, lines.len() + 1, dtype=pl.Int64, eager=True),
                             "raw": lines.slice(first + 1)}).filter(pl.col("raw") != "")
    # One struct of `width` fields (a missing one null, any beyond ignored), not a list per row: less memory.
    counts = numbered["raw"].str.count_matches(",", literal=True) + 1
    fields = numbered.select("line", pl.col("raw").str.split_exact(",", width - 1)
                             .struct.rename_fields([f"f{i}" for i in range(width)]).alias("parts")).unnest("parts")
    frame = fields.select("line", *(pl.col(f"f{header.index(c)}").alias(c) if c in header
                                    else pl.lit(None, pl.String).alias(c) for c in COLUMNS))
    frame = frame.with_columns(pl.col(c).replace("", None) for c in COLUMNS)
    errors = numbered.filter(counts != width)["line"].to_list()
    extra = [h for h in header if h not in COLUMNS]
    return ChangeFile(name, business_date, encoding, frame, numbered["raw"], errors, extra)


def parse(name: str, business_date: dt.date, encoding: str, text: str, refuse_cut: bool = True) -> ChangeFile:
    """RFC 4180 CSV with one header row into a frame of text with the physical start line of each row."""
    # With refuse_cut a file that is not whole (no line end at its end, its end inside a quoted field) is
    # FILE_TRUNCATED: a transfer cut short must not pass for a shorter file, its last row quarantined.
    if '"' not in text and (text.endswith("\n") or not refuse_cut):  # a cut file: the checks below say so
        fast = _parse_unquoted(name, business_date, encoding, text)
        if fast is not None:
            return fast
    lines = io.StringIO(text, newline="")
    reader = csv.reader(lines, strict=True)
    start = 1
    try:
        header = next(reader, None)
        while header == []:
            header = next(reader, None)
        if header is None or all(not h.strip() for h in header):
            raise FileRefused(name, "FILE_NO_HEADER")
        header = [h.strip() for h in header]
        if not set(header) & set(COLUMNS):
            raise FileRefused(name, "FILE_NO_HEADER", "the first line names none of the agreement's columns")
        repeated = sorted({h for h in header if h and header.count(h) > 1})
        if repeated:
            raise FileRefused(name, "FILE_REPEATED_COLUMN", ", ".join(repeated))
        missing = [c for c in COLUMNS_V1 if c not in header]
        if missing:
            raise FileRefused(name, "FILE_MISSING_COLUMN", ", ".join(missing))
        if refuse_cut and not text.endswith("\n"):
            raise FileRefused(name, "FILE_TRUNCATED", f"line {text.count(chr(10)) + 1} has no line end")
        width = len(header)
        records: list[list[str]] = []
        line_numbers: list[int] = []
        raw_rows: list[str] = []
        field_count_errors: list[int] = []
        physical = [p.rstrip("\r\n") for p in io.StringIO(text, newline="").readlines()]
        start = reader.line_num + 1
        for record in reader:
            end = reader.line_num
            if record:  # a blank line is no row
                line_numbers.append(start)
                raw_rows.append(physical[start - 1] if end == start else "\n".join(physical[start - 1:end]))
                if len(record) != width:
                    field_count_errors.append(start)
                    record = (record + [""] * width)[:width]
                records.append(record)
            start = end + 1
    except csv.Error as exc:
        if refuse_cut and str(exc) == "unexpected end of data":  # the end came inside a quoted field
            raise FileRefused(name, "FILE_TRUNCATED", f"the row starting on line {start} ends inside a "
                                                      "quoted field") from None
        raise FileRefused(name, "FILE_NOT_CSV", f"line {reader.line_num}: {exc}") from None
    columns = list(zip(*records)) if records else [()] * width
    frame = pl.DataFrame([pl.Series("line", line_numbers, dtype=pl.Int64)]
                         + [pl.Series(c, columns[header.index(c)] if c in header else [None] * len(records),
                                      dtype=pl.String) for c in COLUMNS])
    frame = frame.with_columns(pl.col(c).replace("", None) for c in COLUMNS)
    extra = [h for h in header if h not in COLUMNS]
    return ChangeFile(name, business_date, encoding, frame, pl.Series("raw", raw_rows, dtype=pl.String),
                      field_count_errors, extra)


def read_change_file(name: str, data: bytes, municipality_code: str, refuse_cut: bool = True) -> ChangeFile:
    """Name, bytes and header checks, then the parsed rows; a FileRefused for whole-file refusals."""
    business_date = business_date_of(name, municipality_code)
    fast = _read_unquoted(name, business_date, data, refuse_cut)
    if fast is not None:
        return fast
    text, encoding = decode(name, data, refuse_cut)
    return parse(name, business_date, encoding, text, refuse_cut)


def private_use_lines(change_file: ChangeFile) -> list[int]:
    """Lines whose raw text holds a private-use character (外字 the front office failed to map)."""
    # One regex pass in polars: a Python loop took 4.8 s over the 610,000 rows of a BASELINE under load.
    found = change_file.raw.str.contains(PRIVATE_USE.pattern)
    return change_file.rows["line"].filter(found).to_list()
