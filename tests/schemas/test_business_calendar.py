"""The business-day calendar: weekdays minus Japan's national holidays and the closing days 12/29-1/3."""

from __future__ import annotations

import datetime as dt

from schemas.business_calendar import business_days, business_days_in_year, holiday_name, is_business_day

D = dt.date


def test_golden_week_2026_and_its_substitute_holiday_are_closed():
    assert business_days(D(2026, 4, 27), D(2026, 5, 8)) == [
        D(2026, 4, 27), D(2026, 4, 28), D(2026, 4, 30), D(2026, 5, 1), D(2026, 5, 7), D(2026, 5, 8)]
    assert holiday_name(D(2026, 5, 6)) == "振替休日"


def test_the_year_end_closing_days_are_closed_even_on_weekdays():
    assert business_days(D(2026, 12, 25), D(2027, 1, 6)) == [
        D(2026, 12, 25), D(2026, 12, 28), D(2027, 1, 4), D(2027, 1, 5), D(2027, 1, 6)]
    assert holiday_name(D(2026, 12, 29)) == "年末年始" and holiday_name(D(2027, 1, 2)) == "年末年始"


def test_weekends_and_ordinary_weekdays():
    assert not is_business_day(D(2026, 4, 4)) and holiday_name(D(2026, 4, 4)) is None  # a Saturday
    assert is_business_day(D(2026, 4, 1)) and holiday_name(D(2026, 4, 1)) is None
    assert not is_business_day(D(2026, 9, 22))  # 国民の休日 between 敬老の日 and 秋分の日


def test_a_year_has_about_240_business_days():
    assert business_days_in_year(2026) == 240
    assert business_days_in_year(2027) == 242


def test_the_national_holidays_file_is_what_the_holidays_package_gives():
    """data/reference/national_holidays.csv (read instead of importing `holidays`) matches the pinned package:
    after a `holidays` upgrade that changes a holiday, write it again with `python -m schemas.business_calendar`."""
    from schemas.business_calendar import _all_national_holidays, national_holidays_from_package

    assert _all_national_holidays() == national_holidays_from_package()


def test_outside_the_packages_years_only_weekends_and_closing_days_are_closed():
    assert is_business_day(D(1948, 11, 3)) and is_business_day(D(2100, 11, 3))  # the package covers 1949-2099
    assert holiday_name(D(2100, 1, 1)) == "年末年始"
