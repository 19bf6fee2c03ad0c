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
