"""The row-rule suite as Great Expectations code: coverage of the rules, the checks, and the custom expectations."""

from __future__ import annotations

import json

import polars as pl
import pytest

from schemas import row_rules
from schemas.change_file import COLUMNS, RULES
from schemas.expectations import (
    SAFE_RESULT_FORMAT,
    SUITE_RULE_IDS,
    ExpectRowsToPassRowRule,
    as_pandas,
    build_suite,
)
from schemas.row_rules import Check, date_ordinals


@pytest.fixture(scope="module")
def suite():
    return build_suite()


def refused(data: dict[str, list], check: Check) -> list[int]:
    """The lines (from 2) that one check refuses on a small frame of strings."""
    height = len(next(iter(data.values())))
    rows = pl.DataFrame({"line": range(2, 2 + height), **data},
                        schema={"line": pl.Int64, **{c: pl.String for c in data}})
    dates = tuple(c for c in row_rules.DATE_COLUMNS if c in data)
    return sorted(row_rules.violations(row_rules.with_ordinals(rows, dates), (check,))["line"].to_list())


def test_suite_has_one_expectation_per_row_rule_but_the_field_count(suite):
    assert sorted(e.meta["rule_id"] for e in suite.expectations) == sorted(SUITE_RULE_IDS)
    assert "ROW_FIELD_COUNT" not in SUITE_RULE_IDS
    assert all(RULES[e.meta["rule_id"]].scope == "row" for e in suite.expectations)
    assert all(e.rule_id == e.meta["rule_id"] for e in suite.expectations)


def test_every_expectation_names_agreement_columns_or_none(suite):
    for expectation in suite.expectations:
        assert expectation.columns
        assert set(expectation.columns) <= {*COLUMNS, None}
    checked = {(c.rule_id, c.column) for c in row_rules.checks()}
    named = {(e.rule_id, c) for e in suite.expectations for c in e.columns}
    assert named == checked | {(row_rules.BUSINESS_DATE_RULE, "notified_date")}


def test_suite_serialises_to_json(suite):
    assert json.loads(json.dumps(suite.to_json_dict()))["name"] == suite.name


def test_full_match_refuses_what_a_regex_search_accepts():
    data = {"event_id": ["EV-1", "EV-1\n", None, "EV 1"]}
    check = next(c for c in row_rules.checks() if c.rule_id == "EVENT_ID_FORMAT" and c.column == "event_id")
    # Python's re.search with $ matches before a final newline; the checks match the whole value.
    assert refused(data, check) == [3, 5]


def test_given_and_empty_when_select_rows_by_listed_and_other_values():
    data = {"event_type": ["BASELINE", "BASELINE", "BASELINE", "DEATH", "BASELINE"],
            "nationality": ["US", "JP", None, "US", "US"],
            "honseki": [None, None, None, None, "東京都"],
            "foreign_resident_category": [None, None, None, None, " "]}
    when, other_than = {"event_type": ["BASELINE"]}, {"nationality": ["JP"]}
    given = row_rules._when("FOREIGN_CATEGORY_MISSING", "foreign_resident_category", True, when, other_than)
    empty = row_rules._when("JAPANESE_FIELDS_ON_FOREIGNER", "honseki", False, when, other_than)
    assert refused(data, given) == [2, 6]
    assert refused(data, empty) == [6]


def test_blank_is_what_python_strips():
    data = {"family_name": ["山田", " ", "　", "\x1c", "\u200b", None]}
    assert refused(data, Check("REQUIRED_FIELD_MISSING", "family_name", ~row_rules._given("family_name"))) == [
        3, 4, 5, 7]


def test_real_dates():
    data = {"birth_date": ["2024-02-29", "2023-02-29", "0000-01-01", "9999-12-31", "2024-2-1", "２０２４-01-01"]}
    check = next(c for c in row_rules.checks() if c.rule_id == "DATE_INVALID" and c.column == "birth_date")
    assert refused(data, check) == [3, 4, 6, 7]


def test_planned_move_tolerance_ignores_what_is_not_a_date():
    data = {"event_type": ["MOVE_OUT"] * 4,
            "notified_date": ["2026-11-10", "2026-11-09", "2026-11-01", "x"],
            "effective_date": ["2026-11-24", "2026-11-24", None, "2026-11-24"]}
    check = next(c for c in row_rules.checks() if c.rule_id == "PLANNED_MOVE_TOO_EARLY")
    assert refused(data, check) == [3]


def test_age_counts_whole_years_and_29_february():
    data = {"birth_date": ["1896-02-29", "1896-02-29", "1900-03-01", "1900-03-01", "2000-02-29", "2000-02-29"],
            "effective_date": ["2022-02-27", "2022-02-28", "2026-02-28", "2026-03-01", "2026-02-28", "2026-02-27"]}
    assert refused(data, Check("AGE_OVER_LIMIT", "birth_date", row_rules._age_over(125))) == [3, 5]
    assert refused(data, Check("AGE_OVER_LIMIT", "birth_date", row_rules._age_over(25))) == [2, 3, 4, 5, 6]


def test_check_digits_are_judged_only_on_the_right_format():
    from schemas.change_file import is_valid_my_number, is_valid_resident_code

    numbers = ["983205673214", "983205673215", "98320567321", None, "９８３２０５６７３２１４"]
    codes = ["12345678903", "12345678901", "1234567890", None]
    for column, values, is_valid, length in (("my_number", numbers, is_valid_my_number, 12),
                                             ("resident_code", codes, is_valid_resident_code, 11)):
        expected = [i + 2 for i, v in enumerate(values)
                    if v and len(v) == length and v.isascii() and v.isdigit() and not is_valid(v)]
        assert refused({column: values}, Check("X", column, row_rules._check_digit_wrong(column))) == expected
    assert refused({"my_number": numbers}, Check("X", "my_number", row_rules._check_digit_wrong("my_number"))) == [3]


def test_date_ordinals_are_null_for_anything_but_a_real_date():
    ordinals = date_ordinals(pl.Series(["2026-11-25", "2026-11-31", None, "2026-11-25 "], dtype=pl.String))
    assert ordinals.is_null().to_list() == [False, True, True, True]


def test_an_expectation_lists_refused_lines_by_column_and_no_value():
    import great_expectations as gx

    rows = pl.DataFrame({"line": [2, 5, 8], **{c: ["x"] * 3 for c in COLUMNS}},
                        schema={"line": pl.Int64, **{c: pl.String for c in COLUMNS}})
    rows = rows.with_columns(pl.Series("event_id", ["EV-1", "EV 2", "EV-3"]),
                             pl.Series("cancels_event_id", [None, None, "bad id"]))
    context = gx.get_context(mode="ephemeral")
    batch = (context.data_sources.add_pandas("p").add_dataframe_asset("rows")
             .add_batch_definition_whole_dataframe("whole").get_batch(batch_parameters={"dataframe": as_pandas(rows)}))
    result = batch.validate(ExpectRowsToPassRowRule(rule_id="EVENT_ID_FORMAT", columns=["event_id", "cancels_event_id"]),
                            result_format=SAFE_RESULT_FORMAT)
    assert not result.success
    assert result.result["unexpected_count"] == 2
    assert result.result["unexpected_index_list"] == [{"column": "event_id", "line": [5]},
                                                      {"column": "cancels_event_id", "line": [8]}]
    assert "EV 2" not in json.dumps(result.to_json_dict(), default=str)


def test_date_ordinals_agree_with_python_on_every_day_of_awkward_years():
    import re
    from datetime import date

    from schemas.change_file import DATE_PATTERN

    def python(value: str):  # the agreement's form, then Python's calendar (3.11 also reads 20240201)
        if not re.fullmatch(DATE_PATTERN, value):
            return None
        try:
            return float(date.fromisoformat(value).toordinal())
        except ValueError:
            return None

    values = [f"{y}-{m:02d}-{d:02d}" for y in ("0000", "0001", "1900", "2000", "2023", "2024", "9999")
              for m in range(14) for d in range(33)] + ["2024-2-01", "20240201", "2024-02-01T00", "+2024-02-01"]
    assert date_ordinals(pl.Series(values, dtype=pl.String)).to_list() == [python(v) for v in values]
