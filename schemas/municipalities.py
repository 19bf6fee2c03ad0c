"""The nation's municipalities and 政令指定都市 wards, read from data/reference/municipalities.csv.

The CSV is rebuilt from published sources by scripts/make_municipalities.py; data/reference/README.md
says which and how far the population figures are estimated.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from schemas.change_file import REFERENCE_DIR

KINDS = ("city", "designated_city", "ward", "special_ward", "town", "village")


@dataclass(frozen=True)
class Municipality:
    """One row of municipalities.csv: a 市区町村, or a 区 of a 政令指定都市 (kind `ward`)."""

    municipality_code: str  # 6-digit 全国地方公共団体コード with check digit
    prefecture_code: str
    prefecture: str
    name: str
    kind: str
    parent_code: str  # the designated city's code for a ward, else ""
    population: int
    households: int | None
    towns: int | None


def check_digit(five_digits: str) -> str:
    """The 団体コード check digit of a 5-digit code: digits weighted 6..2, (11 - sum mod 11) mod 10."""
    if len(five_digits) != 5 or not five_digits.isdigit():
        raise ValueError(f"not a 5-digit code: {five_digits!r}")
    total = sum(int(d) * w for d, w in zip(five_digits, (6, 5, 4, 3, 2)))
    return str((11 - total % 11) % 10)


def _optional_int(value: str) -> int | None:
    return int(value) if value else None


@cache
def municipalities() -> list[Municipality]:
    """Every row of municipalities.csv, in code order (the 1,741 municipalities are kind != 'ward')."""
    with open(REFERENCE_DIR / "municipalities.csv", encoding="utf-8", newline="") as f:
        return [Municipality(
            municipality_code=r["municipality_code"], prefecture_code=r["prefecture_code"],
            prefecture=r["prefecture"], name=r["name"], kind=r["kind"], parent_code=r["parent_code"],
            population=int(r["population"]), households=_optional_int(r["households"]),
            towns=_optional_int(r["towns"]),
        ) for r in csv.DictReader(f)]


@cache
def _by_code() -> dict[str, Municipality]:
    return {m.municipality_code: m for m in municipalities()}


def municipality(code: str) -> Municipality:
    """The municipality or ward with this 6-digit code (a 5-digit code without check digit is accepted)."""
    if len(code) == 5:
        code += check_digit(code)
    try:
        return _by_code()[code]
    except KeyError:
        raise KeyError(f"no municipality {code}") from None


@cache
def prefectures() -> dict[str, tuple[str, str]]:
    """prefecture_code -> (the prefecture's own 6-digit 団体コード, 都道府県名), in code order."""
    names = {m.prefecture_code: m.prefecture for m in municipalities()}
    return {p: (p + "000" + check_digit(p + "000"), names[p]) for p in sorted(names)}
