"""The row-rule suite as Great Expectations code: coverage of the rules and the custom expectations."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from schemas.change_file import COLUMNS, RULES
from schemas.expectations import (
    SAFE_RESULT_FORMAT,
    SUITE_RULE_IDS,
    ExpectAgeAtDateToBeAtMost,
    ExpectColumnPairDateAToBeOnOrAfterB,
    ExpectColumnToBeEmptyWhen,
    ExpectColumnToBeGivenWhen,
    ExpectColumnValuesToBeRealDates,
    ExpectColumnValuesToFullyMatchPattern,
    _date_ordinals,
    build_suite,
)


@pytest.fixture(scope="module")
def suite():
    return build_suite()


@pytest.fixture(scope="module")
def batch_of():
    """Validate one expectation on a small pandas frame with an ephemeral context."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    definition = (context.data_sources.add_pandas("p").add_dataframe_asset("rows")
                  .add_batch_definition_whole_dataframe("whole"))

    def validate(data: dict[str, list], expectation):
        rows = pd.DataFrame({"line": range(2, 2 + len(next(iter(data.values())))), **data})
        result = definition.get_batch(batch_parameters={"dataframe": rows}).validate(
            expectation, result_format=SAFE_RESULT_FORMAT)
        assert not result.exception_info["raised_exception"]
        return sorted(int(line) for entry in result.result["unexpected_index_list"]
                      for line in entry["line"])
    return validate


def test_suite_implements_every_row_rule_but_the_field_count(suite):
    assert {e.meta["rule_id"] for e in suite.expectations} == set(SUITE_RULE_IDS)
    assert "ROW_FIELD_COUNT" not in SUITE_RULE_IDS
    assert all(RULES[e.meta["rule_id"]].scope == "row" for e in suite.expectations)


def test_every_expectation_names_an_agreement_column_or_none(suite):
    for expectation in suite.expectations:
        reported = expectation.meta["column"]
        assert reported is None or reported in COLUMNS
        checked = getattr(expectation, "column", None) or getattr(expectation, "checked_column", None)
        if checked is not None:
            assert reported == checked


def test_suite_serialises_to_json(suite):
    assert json.loads(json.dumps(suite.to_json_dict()))["name"] == suite.name


def test_full_match_refuses_what_a_regex_search_accepts(batch_of):
    import great_expectations.expectations as gxe

    data = {"event_id": ["EV-1", "EV-1\n", None, "EV 1"]}
    pattern = r"^[A-Za-z0-9_-]{1,36}$"
    assert batch_of(data, ExpectColumnValuesToFullyMatchPattern(column="event_id", pattern=pattern)) == [3, 5]
    # The built-in regex expectation searches, and Python's $ matches before a final newline.
    assert batch_of(data, gxe.ExpectColumnValuesToMatchRegex(column="event_id", regex=pattern)) == [5]


def test_given_and_empty_when_select_rows_by_listed_and_other_values(batch_of):
    data = {"event_type": ["BASELINE", "BASELINE", "BASELINE", "DEATH", "BASELINE"],
            "nationality": ["US", "JP", None, "US", "US"],
            "honseki": [None, None, None, None, "東京都"],
            "foreign_resident_category": [None, None, None, None, " "]}
    selection = {"when": {"event_type": ["BASELINE"]}, "when_other_than": {"nationality": ["JP"]}}
    given = ExpectColumnToBeGivenWhen(
        column_list=["foreign_resident_category", "event_type", "nationality"],
        checked_column="foreign_resident_category", **selection)
    empty = ExpectColumnToBeEmptyWhen(column_list=["honseki", "event_type", "nationality"],
                                      checked_column="honseki", **selection)
    assert batch_of(data, given) == [2, 6]
    assert batch_of(data, empty) == [6]


def test_real_dates(batch_of):
    data = {"d": ["2024-02-29", "2023-02-29", "0000-01-01", "9999-12-31", "2024-2-1", "２０２４-01-01"]}
    assert batch_of(data, ExpectColumnValuesToBeRealDates(column="d")) == [3, 4, 6, 7]


def test_date_order_with_tolerance_ignores_what_is_not_a_date(batch_of):
    data = {"a": ["2026-11-10", "2026-11-09", "2026-11-01", "x"],
            "b": ["2026-11-24", "2026-11-24", None, "2026-11-24"]}
    expectation = ExpectColumnPairDateAToBeOnOrAfterB(column_A="a", column_B="b", tolerance_days=14)
    assert batch_of(data, expectation) == [3]


def test_age_counts_whole_years_and_29_february(batch_of):
    data = {"birth": ["1896-02-29", "1896-02-29", "1900-03-01", "1900-03-01", "2000-02-29", "2000-02-29"],
            "on": ["2022-02-27", "2022-02-28", "2026-02-28", "2026-03-01", "2026-02-28", "2026-02-27"]}
    assert batch_of(data, ExpectAgeAtDateToBeAtMost(column_A="birth", column_B="on", max_years=125)) == [3, 5]
    assert batch_of(data, ExpectAgeAtDateToBeAtMost(column_A="birth", column_B="on", max_years=25)) == [
        2, 3, 4, 5, 6]


def test_date_ordinals_are_nan_for_anything_but_a_real_date():
    ordinals = _date_ordinals(pd.Series(["2026-11-25", "2026-11-31", None, "2026-11-25 "], dtype="str"))
    assert ordinals.isna().tolist() == [False, True, True, True]
