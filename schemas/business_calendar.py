"""The city's business days (開庁日): Monday to Friday, not a national holiday, not the closing days 12/29–1/3."""

from __future__ import annotations

import csv
import datetime as dt
import functools
from pathlib import Path

# 年末年始の閉庁日 (地方自治法第4条の2, the municipal holidays ordinance): 29 December to 3 January.
CLOSING_DAYS = {(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)}
# Japan's national holidays 1949-2099 as the pinned `holidays` package gives them, written by
# `python -m schemas.business_calendar`: importing that package loads all its 251 countries (0.2 CPU s of every
# daily run); tests/schemas/test_business_calendar.py fails when the package and this file disagree.
NATIONAL_HOLIDAYS_CSV = Path(__file__).resolve().parent.parent / "data" / "reference" / "national_holidays.csv"
FIRST_YEAR, LAST_YEAR = 1949, 2099


@functools.cache
def _all_national_holidays() -> dict[dt.date, str]:
    with NATIONAL_HOLIDAYS_CSV.open(encoding="utf-8", newline="") as f:
        return {dt.date.fromisoformat(row["date"]): row["name"] for row in csv.DictReader(f)}


@functools.cache
def _national_holidays(year: int) -> dict[dt.date, str]:
    # holidays' Japan calendar covers 1949-2099; outside it a year has no national holidays, only weekends.
    return {day: name for day, name in _all_national_holidays().items() if day.year == year}


def national_holidays_from_package() -> dict[dt.date, str]:
    """The national holidays of 1949-2099 as the `holidays` package gives them (what the CSV file holds)."""
    import holidays

    return dict(sorted(holidays.country_holidays("JP", years=range(FIRST_YEAR, LAST_YEAR + 1), language="ja").items()))


def holiday_name(day: dt.date) -> str | None:
    """The national holiday's name or 年末年始 for a day the office is closed besides weekends; else None."""
    if (day.month, day.day) in CLOSING_DAYS:
        return "年末年始"
    return _national_holidays(day.year).get(day)


def is_business_day(day: dt.date) -> bool:
    """Monday to Friday, and neither a national holiday nor one of the closing days."""
    return (day.weekday() < 5 and (day.month, day.day) not in CLOSING_DAYS
            and day not in _national_holidays(day.year))


def business_days(first: dt.date, last: dt.date) -> list[dt.date]:
    """The business days from `first` to `last`, both included."""
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)
            if is_business_day(first + dt.timedelta(days=i))]


def business_days_in_year(year: int) -> int:
    """How many business days a calendar year has (about 240)."""
    return len(business_days(dt.date(year, 1, 1), dt.date(year, 12, 31)))


if __name__ == "__main__":
    with NATIONAL_HOLIDAYS_CSV.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("date", "name"))
        writer.writerows((day.isoformat(), name) for day, name in national_holidays_from_package().items())
