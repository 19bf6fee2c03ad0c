"""The unquoted fast path of tasks.read.parse gives exactly what the csv-module path gives."""

from __future__ import annotations

import datetime as dt

import pytest
from polars.testing import assert_frame_equal

from schemas.change_file import COLUMNS, COLUMNS_V1
from tasks import read
from tests.builders import csv_text, event, person

DAY = dt.date(2026, 4, 1)


def _rows() -> str:
    return csv_text([event(f"B{n}", "BASELINE", "2000-01-01", "2026-04-01", **person(n)) for n in range(1, 4)])


def _v1_rows() -> str:
    """The rows as a file of the first agreement's columns only (the later ones absent, not empty)."""
    keep = [i for i, c in enumerate(COLUMNS) if c in COLUMNS_V1]
    return "".join(",".join(line.split(",")[i] for i in keep) + "\n" for line in _rows().splitlines())


CASES = {
    "plain": _rows(),
    "crlf": _rows().replace("\n", "\r\n"),
    "blank lines and no final newline": "\n\n" + _rows().replace("\n", "\n\n", 2).rstrip("\n"),
    "a short and a long row": _rows() + "E9,MOVE_WITHIN\n" + _rows().splitlines()[1] + ",extra\n",
    "an extra column": _rows().replace(",".join(COLUMNS), ",".join(COLUMNS) + ",memo", 1),
    "a row of spaces": _rows() + "   \n",
    "the first agreement's columns only": _v1_rows(),
    "blank lines and spaces in crlf": "\r\n" + (_rows() + "  \n").replace("\n", "\r\n").replace("\r\n", "\r\n\r\n", 2),
}


@pytest.mark.parametrize("text", CASES.values(), ids=CASES.keys())
def test_the_fast_path_equals_the_csv_reader(text, monkeypatch):
    fast = read._parse_unquoted("f.csv", DAY, "utf-8", text)
    assert fast is not None
    monkeypatch.setattr(read, "_parse_unquoted", lambda *args: None)
    slow = read.parse("f.csv", DAY, "utf-8", text, refuse_cut=False)
    assert_frame_equal(fast.rows, slow.rows)
    assert (fast.raw_rows, fast.field_count_errors, fast.extra_columns) == \
        (slow.raw_rows, slow.field_count_errors, slow.extra_columns)


@pytest.mark.parametrize("text", ["", "\n\n", "a,b\n1,2\n", _rows().replace("\n", "\r", 1)])
def test_what_the_fast_path_cannot_judge_goes_to_the_csv_reader(text):
    """No header, a header without the agreement's columns, a lone CR: parse() decides (and refuses)."""
    assert read._parse_unquoted("f.csv", DAY, "utf-8", text) is None


def test_a_cut_unquoted_file_is_still_refused_whole():
    """The fast path is not taken for a file without a line end at its end: FILE_TRUNCATED as before."""
    with pytest.raises(read.FileRefused) as refused:
        read.parse("f.csv", DAY, "utf-8", _rows().rstrip("\n"))
    assert refused.value.rule_id == "FILE_TRUNCATED"


def _read_both(data: bytes, monkeypatch, refuse_cut: bool = True):
    """read_change_file on these bytes with the byte-level fast path and without it: (fast, slow), each a
    ChangeFile or the FileRefused raised."""
    def attempt():
        try:
            return read.read_change_file("112038_changes_20260401.csv", data, "112038", refuse_cut)
        except read.FileRefused as refused:
            return refused

    fast = attempt()
    with monkeypatch.context() as m:
        m.setattr(read, "_read_unquoted", lambda *args: None)
        slow = attempt()
    return fast, slow


BYTE_CASES = {
    "utf-8": _rows().encode(),
    "utf-8 with a BOM": b"\xef\xbb\xbf" + _rows().encode(),
    "cp932 with CR LF": _rows().replace("\n", "\r\n").encode("cp932"),
    "cp932 with a user-defined character": (_rows() + "E9,MOVE_WITHIN,2026-04-01,2026-04-01,x\ue000\n").encode("cp932"),
    "a short and a long row": CASES["a short and a long row"].encode(),
    "blank lines in crlf": CASES["blank lines and spaces in crlf"].encode(),
    "the first agreement's columns only": _v1_rows().encode(),
    "header only": _rows().splitlines(keepends=True)[0].encode(),
    # what decode() or parse() refuses, naming the rule: the fast path steps aside for each
    "a C1 control character": (_rows() + "E9,MOVE_WITHIN,2026-04-01,2026-04-01,x\x85\n").encode(),
    "a NUL byte": _rows().encode().replace(b"B2", b"B\x002", 1),
    "a unit separator": _rows().encode().replace(b"B2", b"B\x1f2", 1),
    "neither UTF-8 nor CP932": _rows().encode() + b"E9,\xff\xfe\n",
    "a lone CR": _rows().replace("\n", "\r", 1).encode(),
    "a cut file": _rows().rstrip("\n").encode(),
    "a UTF-8 character cut in two": _rows().encode() + "E9,川".encode()[:-1],
    "no header": b"\n\n",
    "a repeated column": _rows().replace("event_type", "event_id", 1).encode(),
    "empty": b"",
}


@pytest.mark.parametrize("data", BYTE_CASES.values(), ids=BYTE_CASES.keys())
def test_the_byte_level_fast_path_equals_decode_and_parse(data, monkeypatch):
    for refuse_cut in (True, False):
        fast, slow = _read_both(data, monkeypatch, refuse_cut)
        if isinstance(slow, read.FileRefused):
            assert isinstance(fast, read.FileRefused) and str(fast) == str(slow)
            continue
        assert_frame_equal(fast.rows, slow.rows)
        assert (fast.encoding, fast.raw_rows, fast.field_count_errors, fast.extra_columns) == \
            (slow.encoding, slow.raw_rows, slow.field_count_errors, slow.extra_columns)


def test_the_byte_level_fast_path_takes_utf8_and_cp932_files():
    for data in (BYTE_CASES["utf-8"], BYTE_CASES["utf-8 with a BOM"], BYTE_CASES["cp932 with CR LF"]):
        assert read._read_unquoted("f.csv", DAY, data, True) is not None
    assert read._read_unquoted("f.csv", DAY, BYTE_CASES["a C1 control character"], True) is None
