"""The row rules of the change-file agreement as a Great Expectations suite.

Every rule of `schemas.change_file.RULES` with scope "row", except ROW_FIELD_COUNT (the CSV
reader's), is one or more expectations here, each carrying `meta={"rule_id", "column"}`; the
column is the one the quarantine names (None where the rule is about the row as a whole).
The suite judges one change file's rows alone, without the register. Importing this module
imports great_expectations (slow): import it lazily.

Decisions where the agreement is silent:

* "Given" means not null; the reader turns an empty field into null and "" counts as null too.
  Values are not stripped, so " JP" is given and is judged (and refused) by the format rules.
* A required column needs a value with something other than white space (ASCII or the
  full-width space): a name of only blanks is REQUIRED_FIELD_MISSING.
* Format rules judge every given value, whatever the event type, including columns the event
  type does not use (those are also reported as warnings by `tasks.validate_rows.unused_columns`).
* Columns required by an event type are checked only for known event types; a row with an
  unknown or empty event_type gets EVENT_TYPE_UNKNOWN or REQUIRED_FIELD_MISSING and the
  common-column and format rules only.
* A foreign full record is an adding event (ADDING) whose nationality is given and is not "JP";
  a Japanese one an adding event whose nationality is "JP". The columns a category carries
  are checked only when foreign_resident_category is a known category (else only
  FOREIGN_CATEGORY_INVALID), for foreign full records and for STATUS_CHANGE (the new category).
  NATIONALITY_CHANGE and CORRECTION_BY_AUTHORITY need the record before the event: their
  foreign/Japanese columns are judged by the state rules, here only their formats.
* The check digit of resident_code and my_number is judged only when the format is right, so a
  value gets either *_FORMAT or *_CHECK_DIGIT, never both.
* Rules comparing two dates apply only when both are real dates (else DATE_INVALID alone).
  MOVE_OUT and MOVE_ABROAD may be notified at most PLANNED_MOVE_NOTICE_DAYS before
  effective_date (PLANNED_MOVE_TOO_EARLY) and any time after it; every other or unknown event
  type must be notified on or after effective_date (NOTIFIED_BEFORE_EFFECTIVE).
* AGE_OVER_LIMIT: the age in whole years at effective_date exceeds MAX_AGE_YEARS; a 29 February
  birthday is reached on 28 February in common years.
* Columns named for rules between two columns: notified_date for the notification rules,
  birth_date for the birth and age rules.
* CORRECTION_WITHOUT_FIELDS: a CORRECTION_BY_AUTHORITY whose RECORD_COLUMNS are all null.
* PRIVATE_USE_CHARACTER is reported once per column that holds one.
* A value never appears in a result: run the suite with `SAFE_RESULT_FORMAT`, which returns
  only the surrogate `line` of each unexpected row.

How the rules are written: one expectation per (rule, column), built-in where GX has one. The
given/empty rules that depend on the event type, nationality or category are
`ExpectColumnToBeGivenWhen` / `ExpectColumnToBeEmptyWhen` with the condition as parameters,
not a GX row_condition: on this machine a nested row_condition (an OR of ANDs) cost 25-40 ms
per expectation and file in GX 1.24 (pydantic serialisation plus a DataFrame.query per metric)
against 6-10 ms, which kept a 500-row file above 1.3 s. The few comparisons restricted to event
types keep a plain row_condition.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Callable, ClassVar, Dict, List, Literal, Union

import numpy as np
import pandas as pd

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.core.suite_parameters import SuiteParameterDict
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import (
    ColumnMapExpectation,
    ColumnPairMapExpectation,
    MulticolumnMapExpectation,
)
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    ColumnPairMapMetricProvider,
    MulticolumnMapMetricProvider,
    column_condition_partial,
    column_pair_condition_partial,
    multicolumn_condition_partial,
)
from great_expectations.expectations.row_conditions import Column, Condition

from schemas.change_file import (
    ADDING,
    CATEGORIES,
    CATEGORY_CARRIES,
    COLUMNS,
    COMMON_COLUMNS,
    DATE_COLUMNS,
    DATE_PATTERN,
    EVENT_ID_PATTERN,
    EVENT_TYPES,
    FOREIGN_CARRIED,
    FOREIGN_ONLY,
    HOUSEHOLD_ID_PATTERN,
    JAPANESE_ONLY,
    KANA_PATTERN,
    MAX_AGE_YEARS,
    MY_NUMBER_PATTERN,
    PLANNED_MOVE_NOTICE_DAYS,
    PLANNED_MOVES,
    PRIVATE_USE,
    RECORD_COLUMNS,
    RESIDENCE_CARD_PATTERN,
    STAY_PERIOD_PATTERN,
    RESIDENT_CODE_PATTERN,
    ROW_RULE_IDS,
    RULES,
    SEX_CODES,
    SUPPORT_MEASURE_CODES,
    TEXT_LENGTHS,
    is_valid_my_number,
    is_valid_relationship,
    is_valid_resident_code,
    nationality_codes,
    residence_statuses,
    town_names,
)

SUITE_NAME = "change_file_rows"
LINE = "line"  # the surrogate row id: the only thing of a row a result may carry
BUSINESS_DATE_PARAMETER = "business_date"
SAFE_RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": [LINE],
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
    "partial_unexpected_count": 0,
}
# ROW_FIELD_COUNT is judged by the CSV reader, before there is a frame to validate.
SUITE_RULE_IDS = tuple(r for r in ROW_RULE_IDS if r != "ROW_FIELD_COUNT")

_DATE = re.compile(DATE_PATTERN)
_CHECK_DIGIT_SCHEMES: dict[str, tuple[re.Pattern[str], Callable[[str], bool]]] = {
    "resident_code": (re.compile(RESIDENT_CODE_PATTERN), is_valid_resident_code),
    "my_number": (re.compile(MY_NUMBER_PATTERN), is_valid_my_number),
}


# --- vectorised helpers (pandas) ----------------------------------------------------------

def _per_distinct_value(column: pd.Series, fn: Callable[[str], Any], if_null: Any) -> pd.Series:
    """Apply fn once per distinct given value (a file repeats its dates and codes); if_null elsewhere."""
    lookup = {value: fn(value) for value in column.dropna().unique()}
    return column.map(lookup).fillna(if_null)


def _date_ordinal(value: str) -> float:
    if not _DATE.fullmatch(value):
        return np.nan
    try:
        return float(date.fromisoformat(value).toordinal())
    except ValueError:
        return np.nan


def _date_ordinals(column: pd.Series) -> pd.Series:
    """Proleptic ordinal of each real YYYY-MM-DD date; NaN for null and anything else."""
    return _per_distinct_value(column, _date_ordinal, np.nan).astype("float64")


def _is_given_text(column: pd.Series) -> pd.Series:
    """True where a value holds something other than white space."""
    return (column.str.strip().str.len() > 0).fillna(False).astype(bool)


# --- metrics ------------------------------------------------------------------------------

class ColumnValuesGiven(ColumnMapMetricProvider):
    """A value that is not null and not only white space."""

    condition_metric_name = "column_values.juki_given"
    filter_column_isnull = False

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return _is_given_text(column)


class ColumnValuesFullMatch(ColumnMapMetricProvider):
    """The whole value matches the pattern (str.contains would accept a trailing newline)."""

    condition_metric_name = "column_values.juki_full_match"
    condition_value_keys = ("pattern",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, pattern, **kwargs):
        return column.str.fullmatch(pattern).fillna(False).astype(bool)


class ColumnValuesRealDate(ColumnMapMetricProvider):
    """A real calendar date written YYYY-MM-DD."""

    condition_metric_name = "column_values.juki_real_date"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return _date_ordinals(column).notna()


class ColumnValuesDateOnOrBefore(ColumnMapMetricProvider):
    """A real date on or before max_date; anything that is not a real date passes."""

    condition_metric_name = "column_values.juki_date_on_or_before"
    condition_value_keys = ("max_date",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, max_date, **kwargs):
        return ~(_date_ordinals(column) > date.fromisoformat(str(max_date)).toordinal())


class ColumnValuesCheckDigit(ColumnMapMetricProvider):
    """The check digit holds; a value of the wrong format passes (its format rule refuses it)."""

    condition_metric_name = "column_values.juki_check_digit"
    condition_value_keys = ("scheme",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, scheme, **kwargs):
        pattern, is_valid = _CHECK_DIGIT_SCHEMES[scheme]
        return _per_distinct_value(
            column, lambda v: not pattern.fullmatch(v) or is_valid(v), True).astype(bool)


class ColumnValuesRelationship(ColumnMapMetricProvider):
    """A 続柄 that follows the national standard's grammar."""

    condition_metric_name = "column_values.juki_relationship"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return _per_distinct_value(column, is_valid_relationship, True).astype(bool)


class ColumnPairDateNotBefore(ColumnPairMapMetricProvider):
    """Date A is on or after date B minus tolerance_days; passes unless both are real dates."""

    condition_metric_name = "column_pair_values.juki_date_not_before"
    condition_domain_keys = ("batch_id", "table", "column_A", "column_B", "row_condition",
                             "condition_parser", "ignore_row_if")
    condition_value_keys = ("tolerance_days",)

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, tolerance_days, **kwargs):
        return ~(_date_ordinals(column_A) < _date_ordinals(column_B) - tolerance_days)


class ColumnPairSameDate(ColumnPairMapMetricProvider):
    """Date A is date B; passes unless both are real dates."""

    condition_metric_name = "column_pair_values.juki_same_date"
    condition_domain_keys = ColumnPairDateNotBefore.condition_domain_keys

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, **kwargs):
        a, b = _date_ordinals(column_A), _date_ordinals(column_B)
        return ~((a != b) & a.notna() & b.notna())


class ColumnPairAgeAtMost(ColumnPairMapMetricProvider):
    """Born on date A, the person is at most max_years whole years old on date B."""

    condition_metric_name = "column_pair_values.juki_age_at_most"
    condition_domain_keys = ColumnPairDateNotBefore.condition_domain_keys
    condition_value_keys = ("max_years",)

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, max_years, **kwargs):
        both = _date_ordinals(column_A).notna() & _date_ordinals(column_B).notna()
        birth, on = column_A[both], column_B[both]
        by, bm, bd = (birth.str.slice(a, b).astype("int64") for a, b in ((0, 4), (5, 7), (8, 10)))
        oy, om, od = (on.str.slice(a, b).astype("int64") for a, b in ((0, 4), (5, 7), (8, 10)))
        common_year = ~((oy % 4 == 0) & ((oy % 100 != 0) | (oy % 400 == 0)))
        bd = bd.where(~((bm == 2) & (bd == 29) & common_year), 28)
        before_birthday = (om < bm) | ((om == bm) & (od < bd))
        age = oy - by - before_birthday.astype("int64")
        result = pd.Series(True, index=column_A.index)
        result[both] = age <= max_years
        return result


def _applies(columns: pd.DataFrame, when: dict[str, list[str]],
             when_other_than: dict[str, list[str]]) -> pd.Series:
    """Rows whose `when` columns hold a listed value and whose `when_other_than` columns hold another one."""
    applies = pd.Series(True, index=columns.index)
    for column, values in when.items():
        applies &= columns[column].isin(values)
    for column, values in when_other_than.items():
        applies &= columns[column].notna() & ~columns[column].isin(values)
    return applies


class MulticolumnGivenWhen(MulticolumnMapMetricProvider):
    """checked_column is given and not blank on the rows that `when` and `when_other_than` select."""

    condition_metric_name = "multicolumn_values.juki_given_when"
    condition_domain_keys = ("batch_id", "table", "column_list", "row_condition",
                             "condition_parser", "ignore_row_if")
    condition_value_keys = ("checked_column", "when", "when_other_than")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, checked_column, when, when_other_than, **kwargs):
        applies = _applies(column_list, when, when_other_than)
        return ~applies | _is_given_text(column_list[checked_column])


class MulticolumnEmptyWhen(MulticolumnMapMetricProvider):
    """checked_column is null on the rows that `when` and `when_other_than` select."""

    condition_metric_name = "multicolumn_values.juki_empty_when"
    condition_domain_keys = MulticolumnGivenWhen.condition_domain_keys
    condition_value_keys = ("checked_column", "when", "when_other_than")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, checked_column, when, when_other_than, **kwargs):
        applies = _applies(column_list, when, when_other_than)
        return ~applies | column_list[checked_column].isna()


class MulticolumnAnyGiven(MulticolumnMapMetricProvider):
    """At least one of the columns is given."""

    condition_metric_name = "multicolumn_values.juki_any_given"
    condition_domain_keys = ("batch_id", "table", "column_list", "row_condition",
                             "condition_parser", "ignore_row_if")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list, **kwargs):
        return column_list.notna().any(axis=1)


# --- expectations -------------------------------------------------------------------------

class ExpectColumnValuesToBeGiven(gxe.ExpectColumnValuesToNotBeNull):
    """Expect every value of the column to be given and not blank."""

    map_metric: ClassVar[str] = "column_values.juki_given"


class ExpectColumnValuesToFullyMatchPattern(ColumnMapExpectation):
    """Expect every given value to match the pattern as a whole."""

    pattern: str
    map_metric = "column_values.juki_full_match"
    success_keys = ("pattern", "mostly")


class ExpectColumnValuesToBeRealDates(ColumnMapExpectation):
    """Expect every given value to be a real calendar date written YYYY-MM-DD."""

    map_metric = "column_values.juki_real_date"
    success_keys = ("mostly",)


class ExpectColumnValuesToBeDatesOnOrBefore(ColumnMapExpectation):
    """Expect every real date of the column to be on or before max_date (YYYY-MM-DD)."""

    max_date: Union[str, SuiteParameterDict]
    map_metric = "column_values.juki_date_on_or_before"
    success_keys = ("max_date", "mostly")


class ExpectColumnValuesToPassCheckDigit(ColumnMapExpectation):
    """Expect every well-formed value to carry the right check digit of its scheme."""

    scheme: Literal["resident_code", "my_number"]
    map_metric = "column_values.juki_check_digit"
    success_keys = ("scheme", "mostly")


class ExpectColumnValuesToBeValidRelationships(ColumnMapExpectation):
    """Expect every given 続柄 to follow the national standard's grammar."""

    map_metric = "column_values.juki_relationship"
    success_keys = ("mostly",)


class ExpectColumnPairDateAToBeOnOrAfterB(ColumnPairMapExpectation):
    """Expect date A on or after date B minus tolerance_days, where both are real dates."""

    tolerance_days: int = 0
    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = (
        "either_value_is_missing")
    map_metric = "column_pair_values.juki_date_not_before"
    success_keys = ("tolerance_days", "ignore_row_if", "mostly")


class ExpectColumnPairDatesToBeTheSame(ColumnPairMapExpectation):
    """Expect date A to be date B, where both are real dates."""

    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = (
        "either_value_is_missing")
    map_metric = "column_pair_values.juki_same_date"
    success_keys = ("ignore_row_if", "mostly")


class ExpectAgeAtDateToBeAtMost(ColumnPairMapExpectation):
    """Expect a person born on date A to be at most max_years old on date B."""

    max_years: int
    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = (
        "either_value_is_missing")
    map_metric = "column_pair_values.juki_age_at_most"
    success_keys = ("max_years", "ignore_row_if", "mostly")


class ExpectColumnToBeGivenWhen(MulticolumnMapExpectation):
    """Expect checked_column given and not blank on the rows that `when` and `when_other_than` select."""

    checked_column: str
    when: Dict[str, List[str]] = {}
    when_other_than: Dict[str, List[str]] = {}
    ignore_row_if: Literal["all_values_are_missing", "any_value_is_missing", "never"] = "never"
    map_metric = "multicolumn_values.juki_given_when"
    success_keys = ("checked_column", "when", "when_other_than", "ignore_row_if", "mostly")


class ExpectColumnToBeEmptyWhen(ExpectColumnToBeGivenWhen):
    """Expect checked_column null on the rows that `when` and `when_other_than` select."""

    map_metric = "multicolumn_values.juki_empty_when"


class ExpectAnyColumnToBeGiven(MulticolumnMapExpectation):
    """Expect at least one column of the list to be given on every row."""

    ignore_row_if: Literal["all_values_are_missing", "any_value_is_missing", "never"] = "never"
    map_metric = "multicolumn_values.juki_any_given"
    success_keys = ("ignore_row_if", "mostly")


# --- the suite ----------------------------------------------------------------------------

def _event_type_in(event_types) -> Condition:
    return Column("event_type").is_in(sorted(event_types))


def _rule(rule_id: str, reported_column: str | None, expectation_class, **kwargs):
    return expectation_class(meta={"rule_id": rule_id, "column": reported_column}, **kwargs)


def _when(rule_id: str, column: str, expectation_class, when: dict,
          when_other_than: dict | None = None):
    """A given/empty rule on column for the rows that `when` and `when_other_than` select."""
    when_other_than = when_other_than or {}
    return _rule(rule_id, column, expectation_class,
                 column_list=[column, *when, *when_other_than], checked_column=column,
                 when={c: sorted(values) for c, values in when.items()},
                 when_other_than={c: sorted(values) for c, values in when_other_than.items()})


def _required_rules() -> list:
    rules = [_rule("REQUIRED_FIELD_MISSING", c, ExpectColumnValuesToBeGiven, column=c)
             for c in COMMON_COLUMNS]
    for column in COLUMNS:
        requiring = [e.code for e in EVENT_TYPES.values() if column in e.required]
        if requiring and column not in COMMON_COLUMNS:
            rules.append(_when("REQUIRED_FIELD_MISSING", column, ExpectColumnToBeGivenWhen,
                               {"event_type": requiring}))
    rules.append(_rule("EVENT_TYPE_UNKNOWN", "event_type", gxe.ExpectColumnValuesToBeInSet,
                       column="event_type", value_set=list(EVENT_TYPES)))
    rules.append(_rule("CORRECTION_WITHOUT_FIELDS", None, ExpectAnyColumnToBeGiven,
                       column_list=list(RECORD_COLUMNS),
                       row_condition=Column("event_type") == "CORRECTION_BY_AUTHORITY"))
    return rules


def _format_rules() -> list:
    def full_match(rule_id: str, column: str, pattern: str):
        return _rule(rule_id, column, ExpectColumnValuesToFullyMatchPattern,
                     column=column, pattern=pattern)

    def in_set(rule_id: str, column: str, values):
        return _rule(rule_id, column, gxe.ExpectColumnValuesToBeInSet,
                     column=column, value_set=sorted(values))

    statuses = residence_statuses()
    rules = [
        full_match("EVENT_ID_FORMAT", "event_id", EVENT_ID_PATTERN),
        full_match("EVENT_ID_FORMAT", "cancels_event_id", EVENT_ID_PATTERN),
        full_match("RESIDENT_CODE_FORMAT", "resident_code", RESIDENT_CODE_PATTERN),
        _rule("RESIDENT_CODE_CHECK_DIGIT", "resident_code", ExpectColumnValuesToPassCheckDigit,
              column="resident_code", scheme="resident_code"),
        full_match("MY_NUMBER_FORMAT", "my_number", MY_NUMBER_PATTERN),
        _rule("MY_NUMBER_CHECK_DIGIT", "my_number", ExpectColumnValuesToPassCheckDigit,
              column="my_number", scheme="my_number"),
        full_match("HOUSEHOLD_ID_FORMAT", "household_id", HOUSEHOLD_ID_PATTERN),
        _rule("RELATIONSHIP_INVALID", "relationship", ExpectColumnValuesToBeValidRelationships,
              column="relationship"),
        full_match("KANA_FORMAT", "family_name_kana", KANA_PATTERN),
        full_match("KANA_FORMAT", "given_name_kana", KANA_PATTERN),
        full_match("RESIDENCE_CARD_NO_FORMAT", "residence_card_no", RESIDENCE_CARD_PATTERN),
        full_match("STAY_PERIOD_FORMAT", "stay_period", STAY_PERIOD_PATTERN),
        in_set("SEX_CODE_INVALID", "sex", SEX_CODES),
        in_set("SUPPORT_MEASURE_INVALID", "support_measure", SUPPORT_MEASURE_CODES),
        in_set("FOREIGN_CATEGORY_INVALID", "foreign_resident_category", CATEGORIES),
        in_set("NATIONALITY_CODE_INVALID", "nationality", nationality_codes()),
        in_set("TOWN_CODE_UNKNOWN", "town_code", town_names()),
        in_set("RESIDENCE_STATUS_UNKNOWN", "residence_status", statuses),
        _rule("RESIDENCE_STATUS_NOT_REGISTRABLE", "residence_status",
              gxe.ExpectColumnValuesToNotBeInSet, column="residence_status",
              value_set=sorted(s for s, registrable in statuses.items() if not registrable)),
    ]
    rules += [_rule("DATE_INVALID", c, ExpectColumnValuesToBeRealDates, column=c)
              for c in DATE_COLUMNS]
    rules += [_rule("TEXT_TOO_LONG", c, gxe.ExpectColumnValueLengthsToBeBetween,
                    column=c, max_value=n) for c, n in TEXT_LENGTHS.items()]
    rules += [_rule("PRIVATE_USE_CHARACTER", c, gxe.ExpectColumnValuesToNotMatchRegex,
                    column=c, regex=PRIVATE_USE.pattern) for c in COLUMNS]
    return rules


def _record_rules() -> list:
    """The foreign and Japanese columns of the record as it is after an adding or status event."""
    adding, not_japanese = {"event_type": ADDING}, {"nationality": ["JP"]}
    japanese = {"event_type": ADDING, "nationality": ["JP"]}
    rules = [_when("FOREIGN_CATEGORY_MISSING", "foreign_resident_category",
                   ExpectColumnToBeGivenWhen, adding, not_japanese)]
    for column in FOREIGN_CARRIED:
        carrying = [c for c in CATEGORIES if CATEGORY_CARRIES[c][column]]
        not_carrying = [c for c in CATEGORIES if not CATEGORY_CARRIES[c][column]]
        for events, other_than in ((ADDING, not_japanese), (["STATUS_CHANGE"], {})):
            rules.append(_when("FOREIGN_CATEGORY_FIELDS", column, ExpectColumnToBeGivenWhen,
                               {"event_type": events, "foreign_resident_category": carrying},
                               other_than))
            rules.append(_when("FOREIGN_CATEGORY_FIELDS", column, ExpectColumnToBeEmptyWhen,
                               {"event_type": events, "foreign_resident_category": not_carrying},
                               other_than))
    # 在留期間 (optional, a column added after version 1) belongs to 中長期在留者 only
    not_mid_long = [c for c in CATEGORIES if c != "MID_LONG"]
    for events, other_than in ((ADDING, not_japanese), (["STATUS_CHANGE"], {})):
        rules.append(_when("FOREIGN_CATEGORY_FIELDS", "stay_period", ExpectColumnToBeEmptyWhen,
                           {"event_type": events, "foreign_resident_category": not_mid_long}, other_than))
    rules += [_when("FOREIGN_FIELDS_ON_JAPANESE", c, ExpectColumnToBeEmptyWhen, japanese)
              for c in FOREIGN_ONLY]
    rules += [_when("JAPANESE_FIELDS_ON_FOREIGNER", c, ExpectColumnToBeEmptyWhen, adding,
                    not_japanese) for c in JAPANESE_ONLY]
    return rules


def _date_rules() -> list:
    return [
        _rule("NOTIFIED_BEFORE_EFFECTIVE", "notified_date", ExpectColumnPairDateAToBeOnOrAfterB,
              column_A="notified_date", column_B="effective_date",
              row_condition=Column("event_type").is_not_in(sorted(PLANNED_MOVES))),
        _rule("PLANNED_MOVE_TOO_EARLY", "notified_date", ExpectColumnPairDateAToBeOnOrAfterB,
              column_A="notified_date", column_B="effective_date",
              tolerance_days=PLANNED_MOVE_NOTICE_DAYS, row_condition=_event_type_in(PLANNED_MOVES)),
        _rule("NOTIFIED_AFTER_BUSINESS_DATE", "notified_date",
              ExpectColumnValuesToBeDatesOnOrBefore, column="notified_date",
              max_date={"$PARAMETER": BUSINESS_DATE_PARAMETER}),
        _rule("BIRTH_AFTER_EFFECTIVE", "birth_date", ExpectColumnPairDateAToBeOnOrAfterB,
              column_A="effective_date", column_B="birth_date"),
        _rule("BIRTH_DATE_NOT_EFFECTIVE_DATE", "birth_date", ExpectColumnPairDatesToBeTheSame,
              column_A="birth_date", column_B="effective_date",
              row_condition=Column("event_type") == "BIRTH"),
        _rule("AGE_OVER_LIMIT", "birth_date", ExpectAgeAtDateToBeAtMost,
              column_A="birth_date", column_B="effective_date", max_years=MAX_AGE_YEARS),
    ]


def build_suite() -> gx.ExpectationSuite:
    """The row rules as one ExpectationSuite; run it with SAFE_RESULT_FORMAT and the business_date parameter."""
    expectations = _required_rules() + _format_rules() + _record_rules() + _date_rules()
    # Built without a data context; the constructor logs and drops an invalid expectation.
    suite = gx.ExpectationSuite(name=SUITE_NAME, expectations=expectations)
    if len(suite.expectations) != len(expectations):
        raise RuntimeError("an expectation of the row rules is invalid")
    implemented = {e.meta["rule_id"] for e in suite.expectations}
    if implemented != set(SUITE_RULE_IDS) or not implemented <= set(RULES):
        raise RuntimeError(f"the suite does not implement exactly the row rules: "
                           f"{sorted(implemented ^ set(SUITE_RULE_IDS))}")
    return suite
