"""Decoding, parsing and whole-file refusals of tasks/read.py on inline bytes."""

from __future__ import annotations

import random

import pytest

from schemas.change_file import COLUMNS
from tasks.read import FileRefused, private_use_lines, read_change_file
from tests.builders import csv_text, event, foreigner, person

CITY = "112038"
NAME = "112038_changes_20260401.csv"


def baseline(n: int, **overrides) -> dict:
    """A BASELINE row of person n."""
    return event(f"b{n}", "BASELINE", "2020-01-01", "2026-04-01", **person(n, **overrides))


def read(data: bytes, name: str = NAME):
    """Read inline bytes as the change file `name`."""
    return read_change_file(name, data, CITY)


def refusal(data: bytes, name: str = NAME) -> FileRefused:
    """The whole-file refusal of inline bytes."""
    with pytest.raises(FileRefused) as info:
        read(data, name)
    return info.value


def assert_refused(data: bytes, rule_id: str, name: str = NAME) -> FileRefused:
    """The file is refused with rule_id and the message names the file and the rule."""
    exc = refusal(data, name)
    assert exc.rule_id == rule_id
    assert exc.file == name
    assert name in str(exc) and rule_id in str(exc)
    return exc


# --- encodings ----------------------------------------------------------------------------

def test_utf8_is_read_as_utf8():
    """A UTF-8 file decodes with its kanji intact."""
    cf = read(csv_text([baseline(1), baseline(2)]).encode("utf-8"))
    assert cf.encoding == "utf-8"
    assert cf.rows.height == 2
    assert cf.rows["family_name"].to_list() == ["川口", "川口"]
    assert cf.rows["line"].to_list() == [2, 3]


def test_utf8_with_bom_strips_the_bom():
    """A BOM is allowed and does not become part of the first column name."""
    cf = read(b"\xef\xbb\xbf" + csv_text([baseline(1)]).encode("utf-8"))
    assert cf.encoding == "utf-8"
    assert cf.rows["event_id"].to_list() == ["b1"]
    assert cf.extra_columns == []


def test_cp932_file_is_decoded_as_cp932():
    """Kanji and katakana written by Windows (CP932) decode to the same text."""
    rows = [baseline(1, family_name="髙橋", hittousha="髙橋　一郎"), baseline(2, address_line="①番地")]
    cf = read(csv_text(rows).encode("cp932"))
    assert cf.encoding == "cp932"
    assert cf.rows["family_name"].to_list() == ["髙橋", "川口"]
    assert cf.rows["hittousha"][0] == "髙橋　一郎"
    assert cf.rows["family_name_kana"][0] == "カワグチ"
    assert cf.rows["address_line"][1] == "①番地"


def test_cp932_user_defined_area_is_a_row_refusal():
    """A CP932 外字 (user-defined area, bytes F0 40) decodes to U+E000 and refuses only its row."""
    data = csv_text([baseline(1, family_name="川X"), baseline(2)]).encode("cp932").replace(b"X", b"\xf0\x40")
    cf = read(data)
    assert cf.rows["family_name"][0] == "川\ue000"
    assert private_use_lines(cf) == [2]


def test_latin1_names_refuse_the_file():
    """A Latin-1 file with umlauts is neither UTF-8 nor CP932: one FILE_ENCODING refusal."""
    rows = [event("b1", "BASELINE", "2020-01-01", "2026-04-01",
                  **foreigner(1, family_name=name, family_name_kana="", given_name_kana="",
                              relationship="", residence_status=""))
            for name in ("Müller", "Zoë")]
    exc = assert_refused(csv_text(rows).encode("latin-1"), "FILE_ENCODING")
    assert "Müller" not in str(exc)


def test_zero_bytes_is_file_empty():
    """A zero-byte file is FILE_EMPTY."""
    assert_refused(b"", "FILE_EMPTY")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_is_file_encoding(encoding):
    """UTF-16 (with or without BOM) is refused as FILE_ENCODING."""
    assert_refused(csv_text([baseline(1)]).encode(encoding), "FILE_ENCODING")


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5, 6, 7])
def test_random_bytes_are_file_encoding(seed):
    """Seeded random binary data is refused as FILE_ENCODING."""
    assert_refused(random.Random(seed).randbytes(4096), "FILE_ENCODING")


def test_c1_control_character_refuses_the_file():
    """A C1 control (U+0085 NEL) in valid UTF-8 refuses the whole file, naming its line."""
    text = csv_text([baseline(1), baseline(2, address_line="1-2\u0085")])
    exc = assert_refused(text.encode("utf-8"), "FILE_ENCODING")
    assert "line 3" in str(exc)


def test_tab_inside_a_field_is_allowed():
    """TAB is the one C0 control a field may hold."""
    cf = read(csv_text([baseline(1, address_line="1-2\t3")]).encode("utf-8"))
    assert cf.rows["address_line"][0] == "1-2\t3"


# --- the file name --------------------------------------------------------------------------

@pytest.mark.parametrize("name, rule_id", [
    ("changes_20260401.csv", "FILE_NAME_INVALID"),
    ("112038_changes_.csv", "FILE_NAME_INVALID"),
    ("112038_changes_20260401.txt", "FILE_NAME_INVALID"),
    ("112038_changes_2026-04-01.csv", "FILE_NAME_INVALID"),
    ("112038_changes_20260230.csv", "FILE_DATE_INVALID"),
    ("112038_changes_20261301.csv", "FILE_DATE_INVALID"),
    ("131016_changes_20260401.csv", "FILE_MUNICIPALITY_MISMATCH"),
])
def test_bad_file_names_are_refused(name, rule_id):
    """A name that does not fit, an impossible date or another city's code refuses the file."""
    assert_refused(csv_text([baseline(1)]).encode("utf-8"), rule_id, name=name)


def test_business_date_comes_from_the_name():
    """The business date is the date in the file name."""
    cf = read(csv_text([]).encode("utf-8"), name="112038_changes_20240229.csv")
    assert cf.business_date.isoformat() == "2024-02-29"


# --- header ---------------------------------------------------------------------------------

def test_missing_column_is_refused():
    """A header without cancels_event_id refuses the file and names the column."""
    columns = tuple(c for c in COLUMNS if c != "cancels_event_id")
    exc = assert_refused(csv_text([baseline(1)], columns=columns).encode("utf-8"), "FILE_MISSING_COLUMN")
    assert "cancels_event_id" in str(exc)


def test_repeated_column_is_refused():
    """A header naming sex twice refuses the file and names the column."""
    exc = assert_refused(csv_text([baseline(1)], columns=COLUMNS + ("sex",)).encode("utf-8"),
                         "FILE_REPEATED_COLUMN")
    assert "sex" in str(exc)


def test_header_only_is_a_quiet_day():
    """A header and no rows is accepted with zero rows."""
    cf = read(csv_text([]).encode("utf-8"))
    assert cf.rows.height == 0
    assert cf.raw_rows == [] and cf.field_count_errors == []
    assert set(COLUMNS) <= set(cf.rows.columns)


def test_columns_in_any_order():
    """The header may list the columns in any order; values follow their names."""
    columns = tuple(reversed(COLUMNS))
    cf = read(csv_text([baseline(1)], columns=columns).encode("utf-8"))
    assert cf.rows["event_id"][0] == "b1"
    assert cf.rows["resident_code"][0] == person(1)["resident_code"]


def test_extra_unknown_column_is_reported_and_ignored():
    """An unknown column is listed in extra_columns and does not reach the rows."""
    cf = read(csv_text([dict(baseline(1), memo="x")], columns=COLUMNS[:5] + ("memo",) + COLUMNS[5:]
                       ).encode("utf-8"))
    assert cf.extra_columns == ["memo"]
    assert "memo" not in cf.rows.columns
    assert cf.rows["my_number"][0] == person(1)["my_number"]
    assert cf.field_count_errors == []


def test_only_blank_lines_is_no_header():
    """A file of blank lines has no header row."""
    assert_refused(b"\r\n\n", "FILE_NO_HEADER")


def test_bom_only_is_no_header():
    """A file holding only a UTF-8 BOM is not empty but has no header row."""
    assert_refused(b"\xef\xbb\xbf", "FILE_NO_HEADER")


def test_data_row_instead_of_header():
    """A file that starts with a data row is refused for its header (no header / missing columns)."""
    exc = refusal(csv_text([baseline(1), baseline(2)]).split("\n", 1)[1].encode("utf-8"))
    assert exc.rule_id in ("FILE_NO_HEADER", "FILE_MISSING_COLUMN")


def test_one_blank_header_cell_is_an_extra_column():
    """A trailing comma on the header adds one unnamed extra column, which is ignored."""
    header, row = csv_text([baseline(1)]).splitlines()
    cf = read(f"{header},\n{row},\n".encode("utf-8"))
    assert cf.extra_columns == [""]
    assert cf.rows["event_id"].to_list() == ["b1"] and cf.field_count_errors == []


def test_two_blank_header_cells_are_extra_columns():
    """Two trailing commas on every line are unnamed extra columns, not a repeated column name."""
    header, row = csv_text([baseline(1)]).splitlines()
    cf = read(f"{header},,\n{row},,\n".encode("utf-8"))
    assert cf.rows["event_id"].to_list() == ["b1"]


def test_text_after_a_closing_quote_is_not_csv():
    """A quoted field followed by more text refuses the file as FILE_NOT_CSV."""
    text = csv_text([baseline(1)]) + 'b2,"BASELINE"X\n'
    assert_refused(text.encode("utf-8"), "FILE_NOT_CSV")


# --- a file cut short (issue 10, case 6) -----------------------------------------------------

def test_a_file_that_ends_inside_a_quoted_field_is_truncated():
    """The end inside a quoted field is a cut (a run recorded before the rule called it FILE_NOT_CSV)."""
    text = csv_text([baseline(1)]) + 'b2,"BASELINE\n'
    exc = assert_refused(text.encode("utf-8"), "FILE_TRUNCATED")
    assert "the row starting on line 3 ends inside a quoted field" in str(exc)
    with pytest.raises(FileRefused, match="FILE_NOT_CSV"):
        read_change_file(NAME, text.encode("utf-8"), CITY, refuse_cut=False)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_file_cut_mid_row_is_truncated_whatever_its_line_ends(newline):
    """The last line without its line end (cut mid-row, or between CR and LF) refuses the file, naming the line."""
    text = csv_text([baseline(1), baseline(2), baseline(3)], newline=newline)
    for cut in (text[:-40], text[:-1]):  # with CRLF, text[:-1] ends between CR and LF
        exc = assert_refused(cut.encode("utf-8"), "FILE_TRUNCATED")
        assert "line 4 has no line end" in str(exc)
    cf = read_change_file(NAME, text[:-40].encode("utf-8"), CITY, refuse_cut=False)  # as runs before the rule
    assert (cf.rows.height, cf.field_count_errors) == (3, [4])


def test_a_utf8_character_cut_in_two_is_truncated_not_read_as_cp932():
    """The first bytes of a UTF-8 character at the very end would decode as CP932; the cut is named."""
    data = csv_text([baseline(1), baseline(2)]).encode("utf-8")
    cut = data[:data.rindex("川口".encode("utf-8")) + 2]
    exc = assert_refused(cut, "FILE_TRUNCATED")
    assert "ends inside a character" in str(exc)


def test_a_header_without_its_line_end_is_truncated_and_with_it_a_quiet_day():
    """A quiet day is the header and its line end; the header alone is a cut (the rows may have followed)."""
    header = csv_text([])
    assert read(header.encode("utf-8")).rows.height == 0
    assert_refused(header.rstrip("\n").encode("utf-8"), "FILE_TRUNCATED")
    assert read((header + "\n\n").encode("utf-8")).rows.height == 0  # blank lines after the last row are no rows


# --- rows and line numbers ------------------------------------------------------------------

def test_embedded_newline_keeps_physical_start_lines():
    """A quoted field spanning two lines: each row's line is its physical start line."""
    text = csv_text([baseline(1, address_line="1-2\n301号室"), baseline(2), baseline(3, address_line="a\nb\nc"),
                     baseline(4)])
    cf = read(text.encode("utf-8"))
    assert cf.rows["line"].to_list() == [2, 4, 5, 8]
    assert cf.rows["address_line"][0] == "1-2\n301号室"
    assert cf.raw_rows[0].startswith("b1,") and cf.raw_rows[0].count("\n") == 1
    assert cf.raw_rows[1].startswith("b2,")


def test_crlf_line_ends():
    """CRLF files give the same rows and lines as LF files; a quoted CRLF stays inside its value."""
    rows = [baseline(1, address_line="1-2\r\n3"), baseline(2)]
    crlf = read(csv_text(rows, newline="\r\n").encode("utf-8"))
    lf = read(csv_text(rows, newline="\n").encode("utf-8"))
    assert crlf.rows["line"].to_list() == [2, 4]
    assert crlf.rows["address_line"][0] == "1-2\r\n3"
    assert crlf.rows.equals(lf.rows)
    assert not any(raw.endswith("\r") for raw in crlf.raw_rows)


def test_blank_lines_are_no_rows_and_keep_line_numbers():
    """Blank lines between rows are skipped; later rows keep their physical line."""
    header, row1, row2 = csv_text([baseline(1), baseline(2)]).splitlines()
    cf = read("\n".join([header, "", row1, "", "", row2, ""]).encode("utf-8"))
    assert cf.rows["event_id"].to_list() == ["b1", "b2"]
    assert cf.rows["line"].to_list() == [3, 6]


def test_wrong_field_count_is_a_row_problem():
    """A row with one field too many or too few is listed, the others are not."""
    header, row1, row2, row3 = csv_text([baseline(1), baseline(2), baseline(3)]).splitlines()
    cf = read("\n".join([header, row1 + ",surplus", row2, row3.rsplit(",", 2)[0], ""]).encode("utf-8"))
    assert cf.rows.height == 3
    assert cf.field_count_errors == [2, 4]
    assert cf.rows["event_id"].to_list() == ["b1", "b2", "b3"]


def test_empty_field_means_not_given():
    """An empty field reads as null, not as an empty string."""
    cf = read(csv_text([baseline(1)]).encode("utf-8"))
    assert cf.rows["alias_name"][0] is None
    assert cf.rows["cancels_event_id"][0] is None


def test_private_use_character_is_a_row_refusal():
    """U+E000 in one row does not refuse the file; only its line is flagged."""
    cf = read(csv_text([baseline(1), baseline(2, given_name="太\ue000"), baseline(3)]).encode("utf-8"))
    assert cf.rows.height == 3
    assert private_use_lines(cf) == [3]
