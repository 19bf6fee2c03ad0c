"""The row rules of a change file, run through the Great Expectations suite."""

from __future__ import annotations

import builtins
import datetime
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
import pytest

from schemas.change_file import (
    CATEGORIES,
    COLUMNS,
    EVENT_TYPES,
    RULES,
)
from tests.builders import my_number, resident_code
from tasks.validate_rows import row_violations, unused_columns, validation_result

BUSINESS_DATE = datetime.date(2026, 11, 25)
SUITE_RULE_IDS = {r.id for r in RULES.values() if r.scope == "row"} - {"ROW_FIELD_COUNT"}


def with_wrong_check_digit(value: str) -> str:
    return value[:-1] + str((int(value[-1]) + 1) % 10)


JAPANESE = {
    "my_number": my_number(12_345_678), "household_id": "H-0001", "relationship": "世帯主",
    "family_name": "山田", "given_name": "太郎", "family_name_kana": "ヤマダ",
    "given_name_kana": "タロウ", "birth_date": "1980-05-17", "sex": "1", "nationality": "JP",
    "town_code": "0001", "address_line": "1-2-3", "honseki": "埼玉県川口市本町一丁目1番地",
    "hittousha": "山田一郎",
}
FOREIGN = {
    "my_number": my_number(87_654_321), "household_id": "H-0002", "relationship": "世帯主",
    "family_name": "SMITH", "given_name": "JOHN", "family_name_kana": "スミス",
    "given_name_kana": "ジョン", "alias_name": "須美寿", "birth_date": "1975-01-31", "sex": "1",
    "nationality": "US", "town_code": "0272", "address_line": "5-6-7 ハイツ川口101",
}
CARRIED = {
    "MID_LONG": {"residence_status": "技術・人文知識・国際業務", "residence_card_no": "AB12345678CD",
                 "stay_expiry_date": "2029-03-31"},
    "SPECIAL_PERMANENT": {"residence_card_no": "CD87654321EF"},
    "TEMPORARY_REFUGE": {"stay_expiry_date": "2026-12-31"},
    "PROVISIONAL_STAY": {"stay_expiry_date": "2027-05-31"},
    "BIRTH_TRANSITION": {},
    "NATIONALITY_LOSS_TRANSITION": {},
}
BY_EVENT_TYPE = {
    "BASELINE": {**JAPANESE, "address_since": "2001-04-01"},
    "BIRTH": {**JAPANESE, "relationship": "子", "given_name": "花子", "given_name_kana": "ハナコ",
              "sex": "2", "birth_date": "2026-11-20", "honseki": None, "hittousha": None},
    "MOVE_IN": {**JAPANESE, "prev_address": "東京都板橋区舟渡一丁目2番3号"},
    "RETURN_FROM_ABROAD": {**JAPANESE, "prev_address": "アメリカ合衆国"},
    "ENTRY_BY_AUTHORITY": JAPANESE,
    "MOVE_WITHIN": {"town_code": "0150", "address_line": "8-9", "household_id": "H-0003"},
    "HOUSEHOLD_CHANGE": {"household_id": "H-0004", "relationship": "妻"},
    "NAME_CHANGE": {"family_name": "佐藤", "given_name": "花子", "family_name_kana": "サトウ",
                    "given_name_kana": "ハナコ"},
    "STATUS_CHANGE": {"foreign_resident_category": "SPECIAL_PERMANENT",
                      **CARRIED["SPECIAL_PERMANENT"]},
    "NATIONALITY_CHANGE": {"nationality": "JP", "honseki": "埼玉県川口市本町一丁目1番地"},
    "SUPPORT_MEASURE": {"support_measure": "1"},
    "CORRECTION_BY_AUTHORITY": {"given_name_kana": "タロー"},
    "MOVE_OUT": {"dest_address": "東京都北区赤羽一丁目1番1号", "effective_date": "2026-12-05"},
    "MOVE_ABROAD": {"dest_address": "大韓民国", "effective_date": "2026-11-10"},
    "MOVE_OUT_CONFIRMED": {"dest_address": "東京都北区赤羽一丁目1番1号"},
    "RESIDENT_CODE_CHANGE": {"new_resident_code": resident_code(4_000_001)},
    "DEATH": {},
    "REMOVAL_BY_AUTHORITY": {},
    "CANCEL": {"cancels_event_id": "EV-000001"},
}


def valid_row(event_type: str, **overrides: str | None) -> dict[str, str | None]:
    """A row that breaks no row rule, with the columns of its event type."""
    row = {"event_id": f"EV-{event_type}", "event_type": event_type,
           "effective_date": "2026-11-20", "notified_date": "2026-11-24",
           "resident_code": resident_code(4_000_000)}
    row.update(BY_EVENT_TYPE.get(event_type, {}))
    row.update(overrides)
    return row


def foreign_row(event_type: str, category: str | None, **overrides: str | None) -> dict[str, str | None]:
    """A valid adding row of a foreign resident of that category."""
    row = valid_row(event_type, **{c: None for c in ("honseki", "hittousha")}, **FOREIGN,
                    foreign_resident_category=category, **CARRIED.get(category, {}))
    row.update(overrides)
    return row


def frame(rows: list[dict[str, str | None]], first_line: int = 2) -> pl.DataFrame:
    """A change-file frame; lines skip numbers, as rows with quoted line breaks do."""
    return pl.DataFrame(
        {"line": [first_line + 3 * i for i in range(len(rows))],
         **{c: [r.get(c) for r in rows] for c in COLUMNS}},
        schema={"line": pl.Int64, **{c: pl.String for c in COLUMNS}})


VALID_ROWS = {
    **{f"valid {t}": valid_row(t) for t in EVENT_TYPES},
    **{f"valid foreign {c}": foreign_row("BASELINE", c) for c in CATEGORIES},
    "valid foreign MOVE_IN": foreign_row("MOVE_IN", "SPECIAL_PERMANENT",
                                         prev_address="大阪府大阪市北区梅田一丁目1番"),
    "valid stateless": foreign_row("ENTRY_BY_AUTHORITY", "PROVISIONAL_STAY", nationality="XX"),
    "valid 朝鮮": foreign_row("RETURN_FROM_ABROAD", "SPECIAL_PERMANENT", nationality="XC",
                            prev_address="大韓民国"),
    "valid STATUS_CHANGE to MID_LONG": valid_row("STATUS_CHANGE", foreign_resident_category="MID_LONG",
                                                 **CARRIED["MID_LONG"]),
    "valid NATIONALITY_CHANGE from JP (checked against the register)": valid_row(
        "NATIONALITY_CHANGE", nationality="US", honseki=None, foreign_resident_category="MID_LONG",
        **CARRIED["MID_LONG"]),
    "valid 未届 with full-width parentheses": valid_row("HOUSEHOLD_CHANGE", relationship="妻（未届）"),
    "valid four-link relationship": valid_row("HOUSEHOLD_CHANGE", relationship="子の子の子の妻(未届)"),
    "valid MOVE_OUT notified 14 days before": valid_row("MOVE_OUT", effective_date="2026-12-08"),
    "valid MOVE_OUT notified after the move": valid_row("MOVE_OUT", effective_date="2026-11-01"),
    "valid notified on the business date": valid_row("DEATH", notified_date="2026-11-25"),
    "valid aged 125 the day before the 126th birthday": valid_row(
        "BASELINE", birth_date="1900-11-21", effective_date="2026-11-20"),
    "valid born 29 Feb, 125 on 27 Feb of a common year": valid_row(
        "BASELINE", birth_date="1896-02-29", effective_date="2022-02-27"),
    "valid correction of a foreign column": valid_row("CORRECTION_BY_AUTHORITY",
                                                      residence_card_no="ZZ00000000ZZ"),
    "valid spec example My Number": valid_row("BASELINE", my_number="983205673214"),
    "valid kana with middle dot and full-width space": valid_row(
        "NAME_CHANGE", family_name_kana="スミス・ジョーンズ", given_name_kana="ジョン　ポール"),
}

# case -> (the row, the (rule_id, column) violations it must give, exactly)
REFUSED = {
    "common column missing": (valid_row("DEATH", resident_code=None),
                              {("REQUIRED_FIELD_MISSING", "resident_code")}),
    "empty string is not given": (valid_row("BASELINE", my_number=""),
                                  {("REQUIRED_FIELD_MISSING", "my_number")}),
    "full record column missing": (valid_row("MOVE_IN", prev_address=None, sex=None),
                                   {("REQUIRED_FIELD_MISSING", "prev_address"),
                                    ("REQUIRED_FIELD_MISSING", "sex")}),
    "blank name": (valid_row("NAME_CHANGE", family_name="　 "),
                   {("REQUIRED_FIELD_MISSING", "family_name")}),
    "move out without destination": (valid_row("MOVE_OUT", dest_address=None),
                                     {("REQUIRED_FIELD_MISSING", "dest_address")}),
    "cancel without target": (valid_row("CANCEL", cancels_event_id=None),
                              {("REQUIRED_FIELD_MISSING", "cancels_event_id")}),
    "no event type, notified early": (
        {**valid_row("DEATH", notified_date="2026-11-19"), "event_type": None},
        {("REQUIRED_FIELD_MISSING", "event_type"), ("NOTIFIED_BEFORE_EFFECTIVE", "notified_date")}),
    "nothing given": ({c: None for c in COLUMNS},
                      {("REQUIRED_FIELD_MISSING", c) for c in
                       ("event_id", "event_type", "effective_date", "notified_date", "resident_code")}),
    "event id with a space": (valid_row("DEATH", event_id="EV 1"), {("EVENT_ID_FORMAT", "event_id")}),
    "event id with a trailing newline": (valid_row("DEATH", event_id="EV-1\n"),
                                         {("EVENT_ID_FORMAT", "event_id")}),
    "event id of 37 characters": (valid_row("DEATH", event_id="E" * 37), {("EVENT_ID_FORMAT", "event_id")}),
    "cancelled event id malformed": (valid_row("CANCEL", cancels_event_id="EV-1;DROP"),
                                     {("EVENT_ID_FORMAT", "cancels_event_id")}),
    "unknown event type": (valid_row("BIRTHDAY", family_name="山田"),
                           {("EVENT_TYPE_UNKNOWN", "event_type")}),
    "event type in lower case": (valid_row("death"), {("EVENT_TYPE_UNKNOWN", "event_type")}),
    "30 February": (valid_row("DEATH", effective_date="2026-02-30"), {("DATE_INVALID", "effective_date")}),
    "month 13": (valid_row("DEATH", notified_date="2026-13-01"), {("DATE_INVALID", "notified_date")}),
    "date without zero padding": (valid_row("BASELINE", birth_date="1980-5-17"),
                                  {("DATE_INVALID", "birth_date")}),
    "basic-format date": (valid_row("BASELINE", address_since="20010401"),
                          {("DATE_INVALID", "address_since")}),
    "year zero": (valid_row("BASELINE", address_since="0000-04-01"), {("DATE_INVALID", "address_since")}),
    "slashed expiry date": (foreign_row("BASELINE", "MID_LONG", stay_expiry_date="2029/03/31"),
                            {("DATE_INVALID", "stay_expiry_date")}),
    "resident code of 10 digits": (valid_row("DEATH", resident_code="1234567890"),
                                   {("RESIDENT_CODE_FORMAT", "resident_code")}),
    "resident code in full-width digits": (valid_row("DEATH", resident_code="１２３４５６７８９０１"),
                                           {("RESIDENT_CODE_FORMAT", "resident_code")}),
    "resident code check digit": (
        valid_row("DEATH", resident_code=with_wrong_check_digit(resident_code(4_000_000))),
        {("RESIDENT_CODE_CHECK_DIGIT", "resident_code")}),
    "my number with a letter": (valid_row("BASELINE", my_number="12345678901X"),
                                {("MY_NUMBER_FORMAT", "my_number")}),
    "my number of 13 digits": (valid_row("BASELINE", my_number="1234567890180"),
                               {("MY_NUMBER_FORMAT", "my_number")}),
    "my number check digit": (valid_row("BASELINE", my_number="123456789019"),
                              {("MY_NUMBER_CHECK_DIGIT", "my_number")}),
    "household id with underscore": (valid_row("HOUSEHOLD_CHANGE", household_id="H_0001"),
                                     {("HOUSEHOLD_ID_FORMAT", "household_id")}),
    "forbidden relationship 孫": (valid_row("HOUSEHOLD_CHANGE", relationship="孫"),
                                 {("RELATIONSHIP_INVALID", "relationship")}),
    "relationship of five links": (valid_row("MOVE_WITHIN", relationship="子の子の子の子の子"),
                                   {("RELATIONSHIP_INVALID", "relationship")}),
    "name of 41 characters": (valid_row("NAME_CHANGE", family_name="山" * 41),
                              {("TEXT_TOO_LONG", "family_name")}),
    "destination of 121 characters": (valid_row("MOVE_OUT", dest_address="東" * 121),
                                      {("TEXT_TOO_LONG", "dest_address")}),
    "kana in hiragana": (valid_row("NAME_CHANGE", family_name_kana="さとう"),
                         {("KANA_FORMAT", "family_name_kana")}),
    "kana of 61 characters": (valid_row("NAME_CHANGE", given_name_kana="ア" * 61),
                              {("KANA_FORMAT", "given_name_kana")}),
    "sex 9": (valid_row("BASELINE", sex="9"), {("SEX_CODE_INVALID", "sex")}),
    "nationality not ISO": (valid_row("NATIONALITY_CHANGE", nationality="ZZ", honseki=None),
                            {("NATIONALITY_CODE_INVALID", "nationality")}),
    "town not in the list": (valid_row("MOVE_WITHIN", town_code="0273"),
                             {("TOWN_CODE_UNKNOWN", "town_code")}),
    "unknown residence status": (
        valid_row("STATUS_CHANGE", foreign_resident_category="MID_LONG",
                  **{**CARRIED["MID_LONG"], "residence_status": "観光"}),
        {("RESIDENCE_STATUS_UNKNOWN", "residence_status")}),
    "residence status never registrable": (
        foreign_row("MOVE_IN", "MID_LONG", prev_address="アメリカ合衆国", residence_status="短期滞在"),
        {("RESIDENCE_STATUS_NOT_REGISTRABLE", "residence_status")}),
    "code change without a new code": (valid_row("RESIDENT_CODE_CHANGE", new_resident_code=None),
                                       {("REQUIRED_FIELD_MISSING", "new_resident_code")}),
    "new resident code of ten digits": (valid_row("RESIDENT_CODE_CHANGE", new_resident_code="4000001000"),
                                        {("NEW_RESIDENT_CODE_FORMAT", "new_resident_code")}),
    "new resident code with a wrong check digit": (
        valid_row("RESIDENT_CODE_CHANGE", new_resident_code=resident_code(4_000_001)[:-1]
                  + str((int(resident_code(4_000_001)[-1]) + 1) % 10)),
        {("NEW_RESIDENT_CODE_CHECK_DIGIT", "new_resident_code")}),
    "new resident code is the old one": (valid_row("RESIDENT_CODE_CHANGE", new_resident_code=resident_code(4_000_000)),
                                         {("NEW_RESIDENT_CODE_UNCHANGED", "new_resident_code")}),
    "stay period in English": (valid_row("STATUS_CHANGE", foreign_resident_category="MID_LONG",
                                         **CARRIED["MID_LONG"], stay_period="3 years"),
                               {("STAY_PERIOD_FORMAT", "stay_period")}),
    "stay period on a special permanent resident": (
        foreign_row("BASELINE", "SPECIAL_PERMANENT", stay_period="5年"),
        {("FOREIGN_CATEGORY_FIELDS", "stay_period")}),
    "former surname on a foreign record": (
        foreign_row("BASELINE", "SPECIAL_PERMANENT", former_surname="鈴木"),
        {("JAPANESE_FIELDS_ON_FOREIGNER", "former_surname")}),
    "residence card in lower case": (foreign_row("BASELINE", "SPECIAL_PERMANENT",
                                                 residence_card_no="cd87654321ef"),
                                     {("RESIDENCE_CARD_NO_FORMAT", "residence_card_no")}),
    "unknown category": (valid_row("STATUS_CHANGE", foreign_resident_category="PERMANENT"),
                         {("FOREIGN_CATEGORY_INVALID", "foreign_resident_category")}),
    "support measure 2": (valid_row("SUPPORT_MEASURE", support_measure="2"),
                          {("SUPPORT_MEASURE_INVALID", "support_measure")}),
    "private-use character in an address": (valid_row("MOVE_WITHIN", address_line="1-2-3\ue000"),
                                            {("PRIVATE_USE_CHARACTER", "address_line")}),
    "supplementary private-use character in a name": (
        valid_row("NAME_CHANGE", given_name="花\U000f0001"), {("PRIVATE_USE_CHARACTER", "given_name")}),
    "private-use character in an event id": (
        valid_row("DEATH", event_id="EV\uf8ff"),
        {("PRIVATE_USE_CHARACTER", "event_id"), ("EVENT_ID_FORMAT", "event_id")}),
    "correction of nothing": (valid_row("CORRECTION_BY_AUTHORITY", given_name_kana=None),
                              {("CORRECTION_WITHOUT_FIELDS", None)}),
    "death notified before it happened": (valid_row("DEATH", notified_date="2026-11-19"),
                                          {("NOTIFIED_BEFORE_EFFECTIVE", "notified_date")}),
    "move out notified 15 days before": (valid_row("MOVE_OUT", effective_date="2026-12-09"),
                                         {("PLANNED_MOVE_TOO_EARLY", "notified_date")}),
    "move abroad notified 30 days before": (
        valid_row("MOVE_ABROAD", effective_date="2026-12-24"),
        {("PLANNED_MOVE_TOO_EARLY", "notified_date")}),
    "notified after the business date": (valid_row("DEATH", notified_date="2026-11-26"),
                                         {("NOTIFIED_AFTER_BUSINESS_DATE", "notified_date")}),
    "born after the event": (valid_row("BASELINE", birth_date="2026-11-21"),
                             {("BIRTH_AFTER_EFFECTIVE", "birth_date")}),
    "birth on another day": (valid_row("BIRTH", birth_date="2026-11-19"),
                             {("BIRTH_DATE_NOT_EFFECTIVE_DATE", "birth_date")}),
    "126th birthday": (valid_row("BASELINE", birth_date="1900-11-21", effective_date="2026-11-21"),
                       {("AGE_OVER_LIMIT", "birth_date")}),
    "born 29 Feb, 126 on 28 Feb of a common year": (
        valid_row("BASELINE", birth_date="1896-02-29", effective_date="2022-02-28"),
        {("AGE_OVER_LIMIT", "birth_date")}),
    "alias of a Japanese": (valid_row("BASELINE", alias_name="通称"),
                            {("FOREIGN_FIELDS_ON_JAPANESE", "alias_name")}),
    "residence card of a Japanese": (
        valid_row("MOVE_IN", residence_card_no="AB12345678CD", foreign_resident_category="MID_LONG"),
        {("FOREIGN_FIELDS_ON_JAPANESE", "residence_card_no"),
         ("FOREIGN_FIELDS_ON_JAPANESE", "foreign_resident_category")}),
    "lower-case jp is not JP: refused, and judged as a foreign record": (
        valid_row("BASELINE", nationality="jp"),
        {("NATIONALITY_CODE_INVALID", "nationality"),
         ("FOREIGN_CATEGORY_MISSING", "foreign_resident_category"),
         ("JAPANESE_FIELDS_ON_FOREIGNER", "honseki"), ("JAPANESE_FIELDS_ON_FOREIGNER", "hittousha")}),
    "honseki of a foreigner": (foreign_row("BASELINE", "MID_LONG", honseki="東京都千代田区"),
                               {("JAPANESE_FIELDS_ON_FOREIGNER", "honseki")}),
    "foreigner without category": (foreign_row("BIRTH", None, birth_date="2026-11-20"),
                                   {("FOREIGN_CATEGORY_MISSING", "foreign_resident_category")}),
    "mid-long without card": (foreign_row("BASELINE", "MID_LONG", residence_card_no=None),
                              {("FOREIGN_CATEGORY_FIELDS", "residence_card_no")}),
    "special permanent with a status": (
        foreign_row("ENTRY_BY_AUTHORITY", "SPECIAL_PERMANENT", residence_status="永住者"),
        {("FOREIGN_CATEGORY_FIELDS", "residence_status")}),
    "birth transition with an expiry": (
        foreign_row("BIRTH", "BIRTH_TRANSITION", birth_date="2026-11-20", stay_expiry_date="2027-01-19"),
        {("FOREIGN_CATEGORY_FIELDS", "stay_expiry_date")}),
    "status change to temporary refuge without end": (
        valid_row("STATUS_CHANGE", foreign_resident_category="TEMPORARY_REFUGE", residence_card_no=None),
        {("FOREIGN_CATEGORY_FIELDS", "stay_expiry_date")}),
}

ALL_ROWS = list(VALID_ROWS.items()) + [(name, row) for name, (row, _) in REFUSED.items()]
LINE_OF = {name: 2 + 3 * i for i, (name, _) in enumerate(ALL_ROWS)}


@pytest.fixture(scope="module")
def judged() -> pl.DataFrame:
    return row_violations(frame([row for _, row in ALL_ROWS]), BUSINESS_DATE)


def violations_on(judged: pl.DataFrame, name: str) -> set[tuple[str, str | None]]:
    return set(judged.filter(pl.col("line") == LINE_OF[name]).select("rule_id", "column").iter_rows())


def test_every_rule_of_the_suite_has_a_refused_row():
    refused_rules = {rule for _, expected in REFUSED.values() for rule, _ in expected}
    assert refused_rules == SUITE_RULE_IDS


def test_the_valid_rows_cover_every_event_type_and_category():
    assert {r["event_type"] for r in VALID_ROWS.values()} == set(EVENT_TYPES)
    assert {r.get("foreign_resident_category") for r in VALID_ROWS.values()} >= set(CATEGORIES)


@pytest.mark.parametrize("name", list(VALID_ROWS))
def test_valid_row_gives_no_violation(judged, name):
    assert violations_on(judged, name) == set()


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_row_gives_exactly_its_violations(judged, name):
    assert violations_on(judged, name) == REFUSED[name][1]


def test_result_shape(judged):
    assert judged.schema == pl.Schema({"line": pl.Int64, "rule_id": pl.String, "column": pl.String})
    assert judged.height == sum(len(expected) for _, expected in REFUSED.values())
    assert judged.equals(judged.sort("line", "rule_id", "column", nulls_last=False))
    assert judged.is_duplicated().sum() == 0


def test_business_date_is_a_parameter_of_each_run():
    rows = frame([valid_row("DEATH", notified_date="2026-11-24"), valid_row("DEATH")])
    assert row_violations(rows, datetime.date(2026, 11, 24)).height == 0
    late = row_violations(rows, datetime.date(2026, 11, 23))
    assert late.rows() == [(2, "NOTIFIED_AFTER_BUSINESS_DATE", "notified_date"),
                           (5, "NOTIFIED_AFTER_BUSINESS_DATE", "notified_date")]


def test_empty_file_has_no_violations():
    empty = row_violations(frame([]), BUSINESS_DATE)
    assert empty.height == 0
    assert empty.schema == pl.Schema({"line": pl.Int64, "rule_id": pl.String, "column": pl.String})


def test_unused_columns_are_warnings_per_line_and_column():
    rows = frame([
        valid_row("DEATH", dest_address="東京都北区", family_name="山田"),
        valid_row("BASELINE", cancels_event_id="EV-000001", dest_address=""),
        valid_row("BIRTHDAY", family_name="山田"),
        valid_row("MOVE_WITHIN"),
    ])
    assert unused_columns(rows).rows() == [(2, "dest_address"), (2, "family_name"),
                                           (5, "cancels_event_id")]
    assert unused_columns(rows).schema == pl.Schema({"line": pl.Int64, "column": pl.String})


def test_no_my_number_in_the_validation_result():
    numbers = [my_number(31_415_926), with_wrong_check_digit(my_number(27_182_818))]
    rows = frame([valid_row("BASELINE", my_number=numbers[0]),
                  valid_row("BASELINE", my_number=numbers[1])])
    result = validation_result(rows, BUSINESS_DATE)
    check_digit = next(r for r in result.results
                       if r.expectation_config.meta["rule_id"] == "MY_NUMBER_CHECK_DIGIT")
    assert check_digit.result["unexpected_count"] == 1
    serialised = json.dumps(result.to_json_dict(), ensure_ascii=False, default=str) + repr(result)
    for number in numbers:
        assert number not in serialised


def test_validating_writes_no_file_outside_a_temp_folder(tmp_path, monkeypatch):
    written: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def recording_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)) and any(m in mode for m in "wax+"):
            written.append(os.fsdecode(file))
        return real_open(file, mode, *args, **kwargs)

    def recording_os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            written.append(os.fsdecode(path))
        return real_os_open(path, flags, *args, **kwargs)

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(builtins, "open", recording_open)
    monkeypatch.setattr(io, "open", recording_open)
    monkeypatch.setattr(os, "open", recording_os_open)

    row_violations(frame([valid_row("BASELINE"), valid_row("DEATH", event_id="bad id")]), BUSINESS_DATE)

    temp_root = Path(tempfile.gettempdir()).resolve()
    outside = [p for p in written if not Path(p).resolve().is_relative_to(temp_root)]
    assert outside == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]
    assert list(home.iterdir()) == []


def test_an_expectation_that_cannot_be_evaluated_fails_without_quoting_values(monkeypatch):
    import schemas.row_rules

    number = my_number(16_180_339)

    def failing(values):
        raise ValueError(f"cannot read {number}")

    monkeypatch.setattr(schemas.row_rules, "date_ordinals", failing)
    with pytest.raises(RuntimeError, match="could not be evaluated") as raised:
        row_violations(frame([valid_row("BASELINE", my_number=number)]), BUSINESS_DATE)
    assert number not in str(raised.value)


def test_importing_the_task_module_does_not_import_great_expectations():
    probe = "import sys, tasks.validate_rows; print('great_expectations' in sys.modules)"
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                               check=True, cwd=Path(__file__).resolve().parents[2])
    assert completed.stdout.strip() == "False"


def test_a_warm_cluster_gives_the_same_violations(monkeypatch):
    from distributed import LocalCluster

    import tasks.validate_rows as validate_rows

    rows = frame([row for _, row in ALL_ROWS])
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        monkeypatch.setenv(validate_rows.GX_ADDRESS_VARIABLE, cluster.scheduler_address)
        try:
            on_cluster = row_violations(rows, BUSINESS_DATE)
        finally:
            validate_rows._client(cluster.scheduler_address).close()
            validate_rows._client.cache_clear()
    assert on_cluster.equals(validate_rows.judged_here(rows, BUSINESS_DATE))


def test_without_the_cluster_it_validates_here(monkeypatch, caplog):
    import socket

    import tasks.validate_rows as validate_rows

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setenv(validate_rows.GX_ADDRESS_VARIABLE, f"tcp://127.0.0.1:{port}")
    monkeypatch.setattr(validate_rows, "GX_CONNECT_SECONDS", 1)
    rows = frame([valid_row("DEATH", event_id="bad id")])
    assert row_violations(rows, BUSINESS_DATE).rows() == [(2, "EVENT_ID_FORMAT", "event_id")]
    assert "validating in this process" in caplog.text


def test_the_file_handed_to_gx_is_let_go_after_the_suite(monkeypatch):
    """GX keeps its newest context, and a batch's objects are a cycle: the file's pandas frame must not outlive the
    validation (at a 607,000-row BASELINE it was 0.3 GiB held through apply)."""
    import weakref

    import schemas.expectations as expectations

    handed = []
    as_pandas = expectations.as_pandas

    def kept(rows):
        frame = as_pandas(rows)
        handed.append(weakref.ref(frame))
        return frame

    monkeypatch.setattr(expectations, "as_pandas", kept)
    monkeypatch.delenv("JUKI_GX_DASK_ADDRESS", raising=False)
    violations = row_violations(frame([valid_row("BASELINE"), valid_row("BASELINE", sex="9")]), BUSINESS_DATE)
    assert violations["rule_id"].to_list() == ["SEX_CODE_INVALID"]
    assert handed and all(ref() is None for ref in handed)


def test_two_threads_never_validate_at_once(monkeypatch):
    """GX is not thread-safe (the many-cities flow validates cities in threads): one validation at a time."""
    import threading
    import time

    import tasks.validate_rows as validate_rows

    active, most = [0], [0]
    real = validate_rows.validation_result

    def watched(rows, business_date):
        active[0] += 1
        most[0] = max(most[0], active[0])
        time.sleep(0.2)  # long enough for the other thread to enter if nothing kept it out
        try:
            return real(rows, business_date)
        finally:
            active[0] -= 1

    monkeypatch.setattr(validate_rows, "validation_result", watched)
    monkeypatch.delenv("JUKI_GX_DASK_ADDRESS", raising=False)
    rows = frame([valid_row("BASELINE"), valid_row("BASELINE", sex="9")])
    found = []
    threads = [threading.Thread(target=lambda: found.append(row_violations(rows, BUSINESS_DATE))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [v["rule_id"].to_list() for v in found] == [["SEX_CODE_INVALID"]] * 2
    assert most[0] == 1
