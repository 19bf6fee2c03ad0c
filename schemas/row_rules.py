"""The row rules of the change-file agreement as polars expressions: one pass over a file's rows.

Every rule of `schemas.change_file.RULES` with scope "row", except ROW_FIELD_COUNT (the CSV
reader's), is one or more checks here: (rule_id, column, an expression true on a refused row).
The column is the one the quarantine names (None where the rule is about the row as a whole).
`schemas.expectations` runs them as a Great Expectations suite, one expectation per rule id; this
module imports no GX, so the checks can be tested and timed alone.

Decisions where the agreement is silent:

* "Given" means not null; the reader turns an empty field into null and "" counts as null too.
  Values are not stripped, so " JP" is given and is judged (and refused) by the format rules.
* A required column needs a value with something other than white space (what Python's
  str.isspace calls white space, the full-width space among it): a name of only blanks is
  REQUIRED_FIELD_MISSING.
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
  type (an empty one too) must be notified on or after effective_date (NOTIFIED_BEFORE_EFFECTIVE).
* AGE_OVER_LIMIT: the age in whole years at effective_date exceeds MAX_AGE_YEARS; a 29 February
  birthday is reached on 28 February in common years.
* Columns named for rules between two columns: notified_date for the notification rules,
  birth_date for the birth and age rules.
* CORRECTION_WITHOUT_FIELDS: a CORRECTION_BY_AUTHORITY whose RECORD_COLUMNS are all null.
* PRIVATE_USE_CHARACTER is reported once per column that holds one.
* Patterns match the whole value (a value with a trailing newline does not match ^…$).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Callable

import numpy as np
import polars as pl

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
    RESIDENT_CODE_PATTERN,
    RESIDENT_CODE_WEIGHTS,
    ROW_RULE_IDS,
    SEX_CODES,
    STAY_PERIOD_PATTERN,
    SUPPORT_MEASURE_CODES,
    TEXT_LENGTHS,
    is_valid_relationship,
    nationality_codes,
    residence_statuses,
    town_names,
)

LINE = "line"
# ROW_FIELD_COUNT is judged by the CSV reader, before there is a frame to validate.
SUITE_RULE_IDS = tuple(r for r in ROW_RULE_IDS if r != "ROW_FIELD_COUNT")
BUSINESS_DATE_RULE = "NOTIFIED_AFTER_BUSINESS_DATE"
VIOLATION_SCHEMA = {"line": pl.Int64, "rule_id": pl.String, "column": pl.String}
# What Python's str.strip() removes: the white space a blank value may hold.
WHITE_SPACE = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
_NOT_WHITE_SPACE = "[^" + "".join(f"\\u{{{ord(c):x}}}" for c in WHITE_SPACE) + "]"
# Rust's regex has no look-ahead; on a given (non-empty) value the pattern without it is the same.
_STAY_PERIOD = STAY_PERIOD_PATTERN.replace("(?=.)", "")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()  # a polars Date counts days from 1970-01-01


@dataclass(frozen=True)
class Check:
    """One (rule, column) of the row rules: `refused` is true on a row the rule refuses."""

    rule_id: str
    column: str | None
    refused: pl.Expr


# --- the pieces ---------------------------------------------------------------------------

def _ordinal_column(column: str) -> str:
    return f"__ordinal_{column}"


def date_ordinals(values: pl.Series) -> pl.Series:
    """Proleptic ordinal (date.toordinal) of each real YYYY-MM-DD date; null for null and anything else."""
    days = values.str.to_date("%Y-%m-%d", strict=False)
    # the pattern keeps out what the parser would read leniently; Python has no year 0, the parser has
    real = values.str.contains(DATE_PATTERN).fill_null(False) & days.is_not_null() & (days.dt.year() >= 1)
    return pl.select(pl.when(real).then(days.cast(pl.Int64) + _EPOCH_ORDINAL).cast(pl.Float64)).to_series()


def _ordinal(column: str) -> pl.Expr:
    return pl.col(_ordinal_column(column))


def _given(column: str) -> pl.Expr:
    """A value with something other than white space."""
    return pl.col(column).str.contains(_NOT_WHITE_SPACE).fill_null(False)


def _present(column: str) -> pl.Expr:
    return pl.col(column).is_not_null()


def _full_match(column: str, pattern: str) -> pl.Expr:
    """The whole value matches (patterns are anchored ^…$; Rust's $ is the end of the text only)."""
    return pl.col(column).str.contains(pattern)


def _in(column: str, values) -> pl.Expr:
    return pl.col(column).is_in(sorted(values)).fill_null(False)


def _applies(when: dict[str, list[str]], when_other_than: dict[str, list[str]]) -> pl.Expr:
    """Rows whose `when` columns hold a listed value and whose `when_other_than` columns hold another one."""
    applies = pl.lit(True)
    for column, values in when.items():
        applies &= _in(column, values)
    for column, values in when_other_than.items():
        applies &= _present(column) & ~_in(column, values)
    return applies


def _check_digit_wrong(column: str) -> pl.Expr:
    """A value of the right format whose last digit is not its scheme's check digit."""
    if column == "my_number":
        pattern, weights = MY_NUMBER_PATTERN, (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)  # from the left
    else:
        pattern, weights = RESIDENT_CODE_PATTERN, tuple(reversed(RESIDENT_CODE_WEIGHTS))  # from the right

    def wrong(values: pl.Series) -> pl.Series:
        # Digits by arithmetic on the number: one parse per value, not one slice per digit.
        right_format = values.str.contains(pattern).fill_null(False)
        number = values.cast(pl.UInt64, strict=False).fill_null(0).to_numpy()
        body = number // 10
        r = sum((body // 10 ** (len(weights) - 1 - i)) % 10 * w for i, w in enumerate(weights)) % 11
        expected = np.where(r <= 1, 0, 11 - r)
        return right_format & pl.Series(expected != number % 10)

    return pl.col(column).map_batches(wrong, return_dtype=pl.Boolean)


def _relationship_invalid() -> pl.Expr:
    # Few distinct 続柄 in a file: the grammar is judged once per distinct value, in Python.
    return pl.col("relationship").map_batches(
        lambda s: _per_distinct(s, lambda v: not is_valid_relationship(v)), return_dtype=pl.Boolean)


def _per_distinct(values: pl.Series, fn: Callable[[str], bool]) -> pl.Series:
    distinct = values.drop_nulls().unique()
    judged = pl.Series([fn(v) for v in distinct], dtype=pl.Boolean)
    return values.replace_strict(distinct, judged, default=False, return_dtype=pl.Boolean)


def _age_over(limit: int) -> pl.Expr:
    """Born on birth_date, older than limit whole years on effective_date (29 February: 28 February)."""
    def day(column: str) -> pl.Expr:  # the real date from its proleptic ordinal
        return (_ordinal(column) - _EPOCH_ORDINAL).cast(pl.Int32).cast(pl.Date)

    birth, on = day("birth_date"), day("effective_date")
    by, bm, bd = birth.dt.year(), birth.dt.month(), birth.dt.day()
    oy, om, od = on.dt.year(), on.dt.month(), on.dt.day()
    common_year = ~on.dt.is_leap_year()
    bd = pl.when((bm == 2) & (bd == 29) & common_year).then(28).otherwise(bd)
    before_birthday = (om < bm) | ((om == bm) & (od < bd))
    age = oy.cast(pl.Int64) - by.cast(pl.Int64) - before_birthday.cast(pl.Int64)
    return _both_dates("birth_date", "effective_date") & (age > limit)


def _both_dates(a: str, b: str) -> pl.Expr:
    return _ordinal(a).is_not_null() & _ordinal(b).is_not_null()


# --- the checks ---------------------------------------------------------------------------

def _when(rule_id: str, column: str, given: bool, when: dict, when_other_than: dict | None = None) -> Check:
    """column given (or empty) on the rows that `when` and `when_other_than` select."""
    applies = _applies(when, when_other_than or {})
    return Check(rule_id, column, applies & (~_given(column) if given else _present(column)))


def _required_checks() -> list[Check]:
    checks = [Check("REQUIRED_FIELD_MISSING", c, ~_given(c)) for c in COMMON_COLUMNS]
    for column in COLUMNS:
        requiring = [e.code for e in EVENT_TYPES.values() if column in e.required]
        if requiring and column not in COMMON_COLUMNS:
            checks.append(_when("REQUIRED_FIELD_MISSING", column, True, {"event_type": requiring}))
    checks.append(Check("EVENT_TYPE_UNKNOWN", "event_type",
                        _present("event_type") & ~_in("event_type", EVENT_TYPES)))
    checks.append(Check("CORRECTION_WITHOUT_FIELDS", None,
                        (pl.col("event_type") == "CORRECTION_BY_AUTHORITY").fill_null(False)
                        & pl.all_horizontal(pl.col(c).is_null() for c in RECORD_COLUMNS)))
    return checks


def _format_checks() -> list[Check]:
    def full_match(rule_id: str, column: str, pattern: str) -> Check:
        return Check(rule_id, column, _present(column) & ~_full_match(column, pattern))

    def in_set(rule_id: str, column: str, values) -> Check:
        return Check(rule_id, column, _present(column) & ~_in(column, values))

    statuses = residence_statuses()
    checks = [
        full_match("EVENT_ID_FORMAT", "event_id", EVENT_ID_PATTERN),
        full_match("EVENT_ID_FORMAT", "cancels_event_id", EVENT_ID_PATTERN),
        full_match("RESIDENT_CODE_FORMAT", "resident_code", RESIDENT_CODE_PATTERN),
        Check("RESIDENT_CODE_CHECK_DIGIT", "resident_code", _check_digit_wrong("resident_code")),
        full_match("NEW_RESIDENT_CODE_FORMAT", "new_resident_code", RESIDENT_CODE_PATTERN),
        Check("NEW_RESIDENT_CODE_CHECK_DIGIT", "new_resident_code", _check_digit_wrong("new_resident_code")),
        Check("NEW_RESIDENT_CODE_UNCHANGED", "new_resident_code",
              (pl.col("new_resident_code") == pl.col("resident_code")).fill_null(False)),
        full_match("MY_NUMBER_FORMAT", "my_number", MY_NUMBER_PATTERN),
        Check("MY_NUMBER_CHECK_DIGIT", "my_number", _check_digit_wrong("my_number")),
        full_match("HOUSEHOLD_ID_FORMAT", "household_id", HOUSEHOLD_ID_PATTERN),
        Check("RELATIONSHIP_INVALID", "relationship", _relationship_invalid()),
        full_match("KANA_FORMAT", "family_name_kana", KANA_PATTERN),
        full_match("KANA_FORMAT", "given_name_kana", KANA_PATTERN),
        full_match("RESIDENCE_CARD_NO_FORMAT", "residence_card_no", RESIDENCE_CARD_PATTERN),
        full_match("STAY_PERIOD_FORMAT", "stay_period", _STAY_PERIOD),
        in_set("SEX_CODE_INVALID", "sex", SEX_CODES),
        in_set("SUPPORT_MEASURE_INVALID", "support_measure", SUPPORT_MEASURE_CODES),
        in_set("FOREIGN_CATEGORY_INVALID", "foreign_resident_category", CATEGORIES),
        in_set("NATIONALITY_CODE_INVALID", "nationality", nationality_codes()),
        in_set("TOWN_CODE_UNKNOWN", "town_code", town_names()),
        in_set("RESIDENCE_STATUS_UNKNOWN", "residence_status", statuses),
        Check("RESIDENCE_STATUS_NOT_REGISTRABLE", "residence_status",
              _in("residence_status", [s for s, registrable in statuses.items() if not registrable])),
    ]
    checks += [Check("DATE_INVALID", c, _present(c) & _ordinal(c).is_null()) for c in DATE_COLUMNS]
    checks += [Check("TEXT_TOO_LONG", c, pl.col(c).str.len_chars() > n) for c, n in TEXT_LENGTHS.items()]
    checks += [Check("PRIVATE_USE_CHARACTER", c, pl.col(c).str.contains(PRIVATE_USE.pattern))
               for c in COLUMNS]
    return checks


def _record_checks() -> list[Check]:
    """The foreign and Japanese columns of the record as it is after an adding or status event."""
    adding, not_japanese = {"event_type": ADDING}, {"nationality": ["JP"]}
    japanese = {"event_type": ADDING, "nationality": ["JP"]}
    checks = [_when("FOREIGN_CATEGORY_MISSING", "foreign_resident_category", True, adding, not_japanese)]
    for column in FOREIGN_CARRIED:
        carrying = [c for c in CATEGORIES if CATEGORY_CARRIES[c][column]]
        not_carrying = [c for c in CATEGORIES if not CATEGORY_CARRIES[c][column]]
        for events, other_than in ((ADDING, not_japanese), (["STATUS_CHANGE"], {})):
            checks.append(_when("FOREIGN_CATEGORY_FIELDS", column, True,
                                {"event_type": events, "foreign_resident_category": carrying}, other_than))
            checks.append(_when("FOREIGN_CATEGORY_FIELDS", column, False,
                                {"event_type": events, "foreign_resident_category": not_carrying}, other_than))
    # 在留期間 (optional, a column added after version 1) belongs to 中長期在留者 only
    not_mid_long = [c for c in CATEGORIES if c != "MID_LONG"]
    for events, other_than in ((ADDING, not_japanese), (["STATUS_CHANGE"], {})):
        checks.append(_when("FOREIGN_CATEGORY_FIELDS", "stay_period", False,
                            {"event_type": events, "foreign_resident_category": not_mid_long}, other_than))
    checks += [_when("FOREIGN_FIELDS_ON_JAPANESE", c, False, japanese) for c in FOREIGN_ONLY]
    checks += [_when("JAPANESE_FIELDS_ON_FOREIGNER", c, False, adding, not_japanese) for c in JAPANESE_ONLY]
    return checks


def _date_checks() -> list[Check]:
    notified, effective, birth = _ordinal("notified_date"), _ordinal("effective_date"), _ordinal("birth_date")
    planned = _in("event_type", PLANNED_MOVES)
    return [
        Check("NOTIFIED_BEFORE_EFFECTIVE", "notified_date", ~planned & (notified < effective)),
        Check("PLANNED_MOVE_TOO_EARLY", "notified_date",
              planned & (notified < effective - PLANNED_MOVE_NOTICE_DAYS)),
        Check("BIRTH_AFTER_EFFECTIVE", "birth_date", effective < birth),
        Check("BIRTH_DATE_NOT_EFFECTIVE_DATE", "birth_date",
              (pl.col("event_type") == "BIRTH").fill_null(False) & _both_dates("birth_date", "effective_date")
              & (birth != effective)),
        Check("AGE_OVER_LIMIT", "birth_date", _age_over(MAX_AGE_YEARS)),
    ]


@cache
def checks() -> tuple[Check, ...]:
    """Every check of the row rules but the one that needs the business date."""
    return tuple(_required_checks() + _format_checks() + _record_checks() + _date_checks())


def business_date_check(business_date: date) -> Check:
    """NOTIFIED_AFTER_BUSINESS_DATE: notified after the business date of the file."""
    return Check(BUSINESS_DATE_RULE, "notified_date", _ordinal("notified_date") > business_date.toordinal())


# --- running them -------------------------------------------------------------------------

def with_ordinals(rows: pl.DataFrame, columns: tuple[str, ...] = DATE_COLUMNS) -> pl.DataFrame:
    """The rows with the ordinal of each date column beside it (null where it is not a real date)."""
    return rows.with_columns(date_ordinals(rows[c]).alias(_ordinal_column(c)) for c in columns)


def violations(rows: pl.DataFrame, of: tuple[Check, ...]) -> pl.DataFrame:
    """One row per (line, rule_id, column) that a check refuses, on rows prepared by `with_ordinals`."""
    refused = rows.select(pl.col(LINE), *(c.refused.fill_null(False).alias(str(i)) for i, c in enumerate(of)))
    refused = refused.filter(pl.any_horizontal(pl.exclude(LINE)))  # the few refused rows, before a pass per check
    parts = [pl.DataFrame(schema=VIOLATION_SCHEMA)]
    for i, check in enumerate(of):
        lines = refused.filter(pl.col(str(i)))[LINE]
        if lines.len():
            parts.append(lines.to_frame().with_columns(pl.lit(check.rule_id, pl.String).alias("rule_id"),
                                                       pl.lit(check.column, pl.String).alias("column")))
    return pl.concat(parts)
