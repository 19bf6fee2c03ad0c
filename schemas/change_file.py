"""The change-file agreement (異動データ連携仕様) as code: columns, codes, event types and rule ids.

Validation, quarantine, the generator and the docs all read this module; the spec in
`shared/spec/change-file.md` is its source.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "data" / "reference"

MUNICIPALITY_CODE = "112038"  # 川口市, 全国地方公共団体コード with check digit
MUNICIPALITY_PREFIX = "埼玉県川口市"
FILE_NAME_PATTERN = re.compile(r"^(?P<municipality>\d{6})_changes_(?P<date>\d{8})\.csv$")
DEFAULT_MAX_REFUSED_SHARE = 0.5

COLUMNS_V1: tuple[str, ...] = (
    "event_id", "event_type", "effective_date", "notified_date", "resident_code",
    "my_number", "household_id", "relationship", "family_name", "given_name",
    "family_name_kana", "given_name_kana", "alias_name", "birth_date", "sex",
    "nationality", "town_code", "address_line", "address_since", "prev_address",
    "dest_address", "honseki", "hittousha", "residence_status", "residence_card_no",
    "stay_expiry_date", "foreign_resident_category", "support_measure", "cancels_event_id",
)
# Columns added after version 1 of the agreement: a header may leave them out (read as not given), so
# a version-1 file is still whole. former_surname: 旧氏 (Japanese, on request); stay_period: 在留期間 (MID_LONG);
# new_resident_code: the 住民票コード issued in place of resident_code (RESIDENT_CODE_CHANGE).
ADDED_COLUMNS: tuple[str, ...] = ("former_surname", "stay_period", "new_resident_code")
COLUMNS: tuple[str, ...] = COLUMNS_V1 + ADDED_COLUMNS
COMMON_COLUMNS = ("event_id", "event_type", "effective_date", "notified_date", "resident_code")
DATE_COLUMNS = ("effective_date", "notified_date", "birth_date", "address_since", "stay_expiry_date")

FULL_RECORD = (
    "my_number", "household_id", "relationship", "family_name", "given_name",
    "family_name_kana", "given_name_kana", "birth_date", "sex", "nationality",
    "town_code", "address_line",
)
JAPANESE_ONLY = ("honseki", "hittousha", "former_surname")
FOREIGN_ONLY = ("alias_name", "foreign_resident_category", "residence_status",
                "residence_card_no", "stay_expiry_date", "stay_period")
FOREIGN_CARRIED = ("residence_status", "residence_card_no", "stay_expiry_date")
# Columns of the resident record that a correction (職権修正) may overwrite.
RECORD_COLUMNS = FULL_RECORD + JAPANESE_ONLY + FOREIGN_ONLY + ("support_measure", "prev_address")

# What each 30条の45 category carries: column -> True (required) / False (must be empty).
CATEGORY_CARRIES: dict[str, dict[str, bool]] = {
    "MID_LONG": {"residence_status": True, "residence_card_no": True, "stay_expiry_date": True},
    "SPECIAL_PERMANENT": {"residence_status": False, "residence_card_no": True, "stay_expiry_date": False},
    "TEMPORARY_REFUGE": {"residence_status": False, "residence_card_no": False, "stay_expiry_date": True},
    "PROVISIONAL_STAY": {"residence_status": False, "residence_card_no": False, "stay_expiry_date": True},
    "BIRTH_TRANSITION": {"residence_status": False, "residence_card_no": False, "stay_expiry_date": False},
    "NATIONALITY_LOSS_TRANSITION": {"residence_status": False, "residence_card_no": False, "stay_expiry_date": False},
}
CATEGORIES = tuple(CATEGORY_CARRIES)

ADDING = ("BASELINE", "BIRTH", "MOVE_IN", "RETURN_FROM_ABROAD", "ENTRY_BY_AUTHORITY")
REMOVING = ("MOVE_OUT", "MOVE_ABROAD", "DEATH", "REMOVAL_BY_AUTHORITY", "MOVE_OUT_CONFIRMED")
PLANNED_MOVES = ("MOVE_OUT", "MOVE_ABROAD")
PLANNED_MOVE_NOTICE_DAYS = 14
MAX_AGE_YEARS = 125


@dataclass(frozen=True)
class EventType:
    """One 異動事由: what the person must be before it, and which columns it requires and uses."""

    code: str
    japanese: str
    person_must_be: str  # "unknown" | "not_current" | "current" | "current_foreign" | "cancel_target"
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def uses(self) -> frozenset[str]:
        return frozenset(COMMON_COLUMNS + self.required + self.optional)


_ADD_OPTIONAL = ("alias_name", "honseki", "hittousha", "residence_status", "residence_card_no",
                 "stay_expiry_date", "foreign_resident_category", "support_measure", "former_surname",
                 "stay_period")

EVENT_TYPES: dict[str, EventType] = {e.code: e for e in (
    EventType("BASELINE", "既存データ移行", "unknown", FULL_RECORD,
              _ADD_OPTIONAL + ("address_since", "prev_address")),
    EventType("BIRTH", "出生", "unknown", FULL_RECORD, _ADD_OPTIONAL),
    EventType("MOVE_IN", "転入", "not_current", FULL_RECORD + ("prev_address",), _ADD_OPTIONAL),
    EventType("RETURN_FROM_ABROAD", "国外からの転入", "not_current", FULL_RECORD + ("prev_address",),
              _ADD_OPTIONAL),
    EventType("ENTRY_BY_AUTHORITY", "職権記載", "not_current", FULL_RECORD,
              _ADD_OPTIONAL + ("prev_address",)),
    EventType("MOVE_WITHIN", "転居", "current", ("town_code", "address_line"),
              ("household_id", "relationship")),
    EventType("HOUSEHOLD_CHANGE", "世帯変更", "current", ("household_id", "relationship")),
    EventType("NAME_CHANGE", "氏名の変更", "current",
              ("family_name", "given_name", "family_name_kana", "given_name_kana"),
              ("alias_name", "former_surname")),
    EventType("STATUS_CHANGE", "在留資格等の変更", "current_foreign", ("foreign_resident_category",),
              FOREIGN_CARRIED + ("stay_period",)),
    EventType("NATIONALITY_CHANGE", "国籍の変更", "current", ("nationality",),
              JAPANESE_ONLY + ("foreign_resident_category",) + FOREIGN_CARRIED + ("stay_period",)),
    EventType("SUPPORT_MEASURE", "支援措置の開始・終了", "current", ("support_measure",)),
    EventType("CORRECTION_BY_AUTHORITY", "職権修正", "current", (), RECORD_COLUMNS),
    EventType("MOVE_OUT", "転出", "current", ("dest_address",)),
    EventType("MOVE_ABROAD", "国外転出", "current", ("dest_address",)),
    # 転出確定: the new municipality's 転入通知 gives the actual move-out date (effective_date) and the
    # destination; it replaces the person's planned MOVE_OUT (tasks/apply.py), earlier or later
    EventType("MOVE_OUT_CONFIRMED", "転出確定", "current", ("dest_address",)),
    # 住民票コードの変更請求 (住基法30条の4): resident_code is the code given up, new_resident_code the one issued;
    # the person stays one person of the register (tasks/apply.py maps every code they had to their first)
    EventType("RESIDENT_CODE_CHANGE", "住民票コードの変更", "current", ("new_resident_code",)),
    EventType("DEATH", "死亡", "current", ()),
    EventType("REMOVAL_BY_AUTHORITY", "職権消除", "current", ()),
    EventType("CANCEL", "取消", "cancel_target", ("cancels_event_id",)),
)}

SEX_CODES = ("1", "2")
SUPPORT_MEASURE_CODES = ("0", "1")
EVENT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,36}$"
RESIDENT_CODE_PATTERN = r"^[0-9]{11}$"
MY_NUMBER_PATTERN = r"^[0-9]{12}$"
HOUSEHOLD_ID_PATTERN = r"^[0-9A-Za-z-]{1,20}$"
KANA_PATTERN = r"^[ァ-ヶー・　]{1,60}$"
RESIDENCE_CARD_PATTERN = r"^[A-Z]{2}[0-9]{8}[A-Z]{2}$"
# 在留期間 as the card writes it: years, months and days, at least one (5年, 1年6月, 3月, 90日)
STAY_PERIOD_PATTERN = r"^(?=.)([1-9][0-9]?年)?([1-9][0-9]?月)?([1-9][0-9]{0,2}日)?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
PRIVATE_USE = re.compile("[\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd]")
# Text columns and their maximum length in characters (minimum 1 when given).
TEXT_LENGTHS = {
    "family_name": 40, "given_name": 40, "alias_name": 40, "address_line": 80,
    "prev_address": 120, "dest_address": 120, "honseki": 120, "hittousha": 40, "former_surname": 40,
}

# 続柄: the national standard's grammar (住民記録システム標準仕様書 1.1.11).
_KIN = "(?:夫|妻|子|父|母|兄|姉|弟|妹)"
_SPOUSE_UNREG = "(?:夫\\(未届\\)|妻\\(未届\\))"
RELATIONSHIP_PATTERN = re.compile(
    "^(?:世帯主|縁故者|同居人|夫\\(未届\\)|妻\\(未届\\)"
    f"|{_KIN}(?:の{_KIN}){{0,2}}(?:の(?:{_KIN}|{_SPOUSE_UNREG}))?)$"
)


def normalise_relationship(value: str) -> str:
    """Full-width parentheses are the same as ASCII ones (全角括弧は半角と同じ)."""
    return value.replace("（", "(").replace("）", ")")


def is_valid_relationship(value: str) -> bool:
    """True when a 続柄 follows the standard's grammar."""
    return bool(RELATIONSHIP_PATTERN.fullmatch(normalise_relationship(value)))


# --- check digits -------------------------------------------------------------------------

def my_number_check_digit(first11: str) -> int:
    """個人番号 check digit: weights 6,5,4,3,2,7,6,5,4,3,2 from the left, mod 11."""
    r = sum(int(d) * w for d, w in zip(first11, (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2))) % 11
    return 0 if r <= 1 else 11 - r


def is_valid_my_number(value: str) -> bool:
    """True for 12 digits whose last is the 個人番号 check digit."""
    return (len(value) == 12 and value.isascii() and value.isdigit()
            and my_number_check_digit(value[:11]) == int(value[11]))


# 住民票コード: the official rule (平成14年総務省告示第436号) could not be confirmed; this is the
# spec's configurable default, kept here and nowhere else.
RESIDENT_CODE_WEIGHTS = (2, 3, 4, 5, 6, 7, 2, 3, 4, 5)


def resident_code_check_digit(first10: str) -> int:
    """住民票コード check digit: weights 2..7,2..5 over the 10 data digits read from the right."""
    r = sum(int(d) * w for d, w in zip(reversed(first10), RESIDENT_CODE_WEIGHTS)) % 11
    return 0 if r <= 1 else 11 - r


def is_valid_resident_code(value: str) -> bool:
    """True for 11 digits whose last is the 住民票コード check digit."""
    return (len(value) == 11 and value.isascii() and value.isdigit()
            and resident_code_check_digit(value[:10]) == int(value[10]))


def municipality_check_digit(first5: str) -> int:
    """全国地方公共団体コード check digit: weights 6..2, last digit of 11 - sum mod 11."""
    return (11 - sum(int(d) * w for d, w in zip(first5, (6, 5, 4, 3, 2))) % 11) % 10


def mask_my_number(value: str | None) -> str | None:
    """Mask a 個人番号 to its last four digits, the only form that may be shown."""
    if value is None or value == "":
        return value
    return "*" * max(len(value) - 4, 0) + value[-4:]


# --- reference lists ----------------------------------------------------------------------

def _read_reference(name: str) -> list[dict[str, str]]:
    with open(REFERENCE_DIR / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@cache
def town_names() -> dict[str, str]:
    """town_code -> town name (町丁), from data/reference/towns.csv."""
    return {r["town_code"]: r["town_name"] for r in _read_reference("towns.csv")}


@cache
def residence_statuses() -> dict[str, bool]:
    """在留資格 -> registrable (false for statuses whose holders never become residents)."""
    return {r["residence_status"]: r["registrable"] == "true"
            for r in _read_reference("residence_statuses.csv")}


@cache
def residence_status_starts() -> dict[str, date]:
    """在留資格 -> the day it comes into force, for statuses created by a later law (育成就労: 2027-04-01)."""
    return {r["residence_status"]: date.fromisoformat(r["in_force_from"])
            for r in _read_reference("residence_statuses.csv") if r.get("in_force_from")}


@cache
def nationality_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes plus XX (無国籍) and XC (朝鮮)."""
    return frozenset(r["nationality"] for r in _read_reference("countries.csv"))


# --- rules --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """A rule of the agreement: a stable id, where it is checked, and the sentence shown."""

    id: str
    scope: str  # "file" | "row" | "state"
    sentence: str


RULES: dict[str, Rule] = {r.id: r for r in (
    # whole-file refusals
    Rule("FILE_NAME_INVALID", "file", "The file name is not <municipality code>_changes_<YYYYMMDD>.csv."),
    Rule("FILE_DATE_INVALID", "file", "The business date in the file name is not a real date."),
    Rule("FILE_MUNICIPALITY_MISMATCH", "file", "The file name carries another municipality's code."),
    Rule("FILE_DATE_IN_FUTURE", "file", "The business date in the file name is after today in Asia/Tokyo "
                                        "(plus the days ahead the settings allow)."),
    Rule("FILE_EMPTY", "file", "The file is empty (zero bytes)."),
    Rule("FILE_TRUNCATED", "file", "The file is cut short: its last line has no line end, or its last row is cut "
                                   "inside a quoted field."),
    Rule("FILE_ENCODING", "file", "The file is neither UTF-8 nor CP932 text (undecodable bytes or control characters)."),
    Rule("FILE_NOT_CSV", "file", "The file is not RFC 4180 CSV."),
    Rule("FILE_NO_HEADER", "file", "The file has no header row."),
    Rule("FILE_MISSING_COLUMN", "file", "The header lacks a column of the agreement."),
    Rule("FILE_REPEATED_COLUMN", "file", "The header names a column more than once."),
    Rule("FILE_TOO_MANY_REFUSED", "file", "More than the configured share of the file's rows was refused."),
    # row rules: checked on the row alone (the Great Expectations suite)
    Rule("ROW_FIELD_COUNT", "row", "The row has a different number of fields than the header."),
    Rule("REQUIRED_FIELD_MISSING", "row", "A column required for this event type is empty."),
    Rule("EVENT_ID_FORMAT", "row", "event_id is not 1-36 characters of A-Z, a-z, 0-9, _ and -."),
    Rule("EVENT_TYPE_UNKNOWN", "row", "event_type is not an event type of the agreement."),
    Rule("DATE_INVALID", "row", "A date column is not a real YYYY-MM-DD date."),
    Rule("RESIDENT_CODE_FORMAT", "row", "resident_code is not 11 digits."),
    Rule("RESIDENT_CODE_CHECK_DIGIT", "row", "resident_code fails its check digit."),
    Rule("NEW_RESIDENT_CODE_FORMAT", "row", "new_resident_code is not 11 digits."),
    Rule("NEW_RESIDENT_CODE_CHECK_DIGIT", "row", "new_resident_code fails its check digit."),
    Rule("NEW_RESIDENT_CODE_UNCHANGED", "row", "new_resident_code is the resident_code it replaces."),
    Rule("MY_NUMBER_FORMAT", "row", "my_number is not 12 digits."),
    Rule("MY_NUMBER_CHECK_DIGIT", "row", "my_number fails its check digit."),
    Rule("HOUSEHOLD_ID_FORMAT", "row", "household_id is not 1-20 characters of 0-9, A-Z, a-z and -."),
    Rule("RELATIONSHIP_INVALID", "row", "relationship (続柄) is not written as the national standard allows."),
    Rule("TEXT_TOO_LONG", "row", "A text column is longer than the agreement allows."),
    Rule("KANA_FORMAT", "row", "A kana name is not 1-60 full-width katakana."),
    Rule("SEX_CODE_INVALID", "row", "sex is not 1 (male) or 2 (female)."),
    Rule("NATIONALITY_CODE_INVALID", "row", "nationality is not ISO 3166-1 alpha-2, XX or XC."),
    Rule("TOWN_CODE_UNKNOWN", "row", "town_code is not in the town reference list."),
    Rule("RESIDENCE_STATUS_UNKNOWN", "row", "residence_status is not a 在留資格 of the reference list."),
    Rule("RESIDENCE_STATUS_NOT_REGISTRABLE", "row", "residence_status is one whose holders never become residents."),
    Rule("RESIDENCE_CARD_NO_FORMAT", "row", "residence_card_no is not 2 capital letters, 8 digits, 2 capital letters."),
    Rule("STAY_PERIOD_FORMAT", "row", "stay_period (在留期間) is not years, months and days such as 5年, 1年6月 or 90日."),
    Rule("FOREIGN_CATEGORY_INVALID", "row", "foreign_resident_category is not a category of the agreement."),
    Rule("SUPPORT_MEASURE_INVALID", "row", "support_measure is not 0 or 1."),
    Rule("PRIVATE_USE_CHARACTER", "row", "The row holds a private-use character (unmapped 外字)."),
    Rule("CORRECTION_WITHOUT_FIELDS", "row", "A correction gives no record column."),
    Rule("NOTIFIED_BEFORE_EFFECTIVE", "row", "notified_date is before effective_date."),
    Rule("PLANNED_MOVE_TOO_EARLY", "row", "A move-out is notified more than 14 days before the planned move."),
    Rule("NOTIFIED_AFTER_BUSINESS_DATE", "row", "notified_date is after the file's business date."),
    Rule("BIRTH_AFTER_EFFECTIVE", "row", "birth_date is after effective_date."),
    Rule("BIRTH_DATE_NOT_EFFECTIVE_DATE", "row", "A birth's birth_date differs from its effective_date."),
    Rule("AGE_OVER_LIMIT", "row", "The person would be older than 125 years at effective_date."),
    # rules on the record as it is after the event (full-record rows: row rules; others: state)
    Rule("FOREIGN_FIELDS_ON_JAPANESE", "row", "A foreign-only column is given for a Japanese record."),
    Rule("JAPANESE_FIELDS_ON_FOREIGNER", "row", "honseki or hittousha is given for a foreign record."),
    Rule("FOREIGN_CATEGORY_MISSING", "row", "A foreign record has no foreign_resident_category."),
    Rule("FOREIGN_CATEGORY_FIELDS", "row", "The columns carried by the foreign_resident_category are missing or extra."),
    # state rules: checked against the register (SQL and the history rebuild)
    Rule("DUPLICATE_EVENT_ID", "state", "event_id was applied before or appears earlier in the file."),
    Rule("BASELINE_FIRST", "state", "Only BASELINE rows are accepted before the first BASELINE file has been applied."),
    Rule("PERSON_ALREADY_KNOWN", "state", "The event adds a person the register already knows."),
    Rule("PERSON_ALREADY_CURRENT", "state", "The event adds a person who is already a current resident."),
    Rule("PERSON_NOT_CURRENT", "state", "The person is not a current resident at effective_date."),
    Rule("PERSON_NOT_FOREIGN", "state", "A status change for a person who is not a foreign resident."),
    Rule("CANCEL_TARGET_UNKNOWN", "state", "cancels_event_id names no applied event."),
    Rule("CANCEL_TARGET_OTHER_PERSON", "state", "cancels_event_id names an event of another resident_code."),
    Rule("CANCEL_TARGET_CANCELLED", "state", "cancels_event_id names an event that is already cancelled."),
    Rule("CANCEL_TARGET_IS_CANCEL", "state", "cancels_event_id names a CANCEL."),
    Rule("CANCEL_BREAKS_HISTORY", "state", "Without the cancelled event, a later event of the person would no longer hold."),
    Rule("LATE_EVENT_CONFLICT", "state", "Placed at its effective date, the event would break a later event of the person."),
    Rule("RESIDENCE_STATUS_NOT_IN_FORCE", "state", "residence_status is not yet in force on effective_date."),
    Rule("MOVE_OUT_NOT_PLANNED", "state", "A 転出確定 for a person whose last removal is not a MOVE_OUT to confirm."),
    Rule("CANCEL_TARGET_IS_CONFIRMATION", "state",
         "cancels_event_id names a 転出確定; the move-out it replaced cannot come back (re-send the MOVE_OUT)."),
    Rule("RESIDENT_CODE_IN_USE", "state",
         "new_resident_code is already a 住民票コード of the register (of this person or another)."),
    Rule("RESIDENT_CODE_REPLACED", "state",
         "resident_code was replaced by a new 住民票コード on or before effective_date (use the new code)."),
    Rule("CANCEL_TARGET_IS_CODE_CHANGE", "state",
         "cancels_event_id names a 住民票コードの変更; a code once issued is not taken back (change it again)."),
    Rule("HOUSEHOLD_HAS_HEAD", "state", "The household already has a 世帯主 on a date on which this row makes a second one."),
    Rule("DEPENDS_ON_REFUSED_ROW", "state", "An earlier row of the file for this resident was refused."),
)}
ROW_RULE_IDS = tuple(r.id for r in RULES.values() if r.scope == "row")
STATE_RULE_IDS = tuple(r.id for r in RULES.values() if r.scope == "state")
FILE_RULE_IDS = tuple(r.id for r in RULES.values() if r.scope == "file")
