"""The city's business days (開庁日): Monday to Friday, not a national holiday, not the closing days 12/29–1/3."""

from __future__ import annotations

import datetime as dt
import functools

import holidays

# 年末年始の閉庁日 (地方自治法第4条の2, the municipal holidays ordinance): 29 December to 3 January.
CLOSING_DAYS = {(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)}


@functools.cache
def _national_holidays(year: int) -> dict[dt.date, str]:
    # holidays' Japan calendar covers 1949-2099; outside it a year has no national holidays, only weekends.
    return dict(holidays.country_holidays("JP", years=year, language="ja"))


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
