"""The scheduled run's calendar: which day it is in Tokyo, whether to work, and which delivery must be there."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from schemas.business_calendar import holiday_name, is_business_day
from schemas.change_file import FILE_NAME_PATTERN

TOKYO = ZoneInfo("Asia/Tokyo")
WEEKDAYS = ["月", "火", "水", "木", "金", "土", "日"]


def day_in_tokyo(moment: dt.datetime | None = None) -> dt.date:
    """The calendar day in Japan at `moment` (default now); a naive moment is taken as UTC."""
    moment = moment or dt.datetime.now(dt.timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(TOKYO).date()


def closed_reason(day: dt.date) -> str | None:
    """Why the office is closed on `day` ("土曜日", "振替休日", "年末年始"); None on a business day."""
    if is_business_day(day):
        return None
    return holiday_name(day) or f"{WEEKDAYS[day.weekday()]}曜日"


def expected_business_date(run_day: dt.date) -> dt.date:
    """The business date whose file a run on `run_day` takes in: the last business day before it."""
    day = run_day - dt.timedelta(days=1)
    while not is_business_day(day):
        day -= dt.timedelta(days=1)
    return day


def missing_delivery(con: duckdb.DuckDBPyConnection, pending: list[str], run_day: dt.date, inbox: str,
                     municipality_code: str) -> str | None:
    """The sentence for a business day's change file that has not arrived (neither in the inbox nor received)."""
    expected = expected_business_date(run_day)
    stamp = expected.strftime("%Y%m%d")
    if any((m := FILE_NAME_PATTERN.fullmatch(Path(uri).name)) and m["date"] == stamp for uri in pending):
        return None
    (received,) = con.execute("select count(*) from file_ledger where business_date = $d",
                              {"d": expected}).fetchall()[0]
    if received:
        return None
    return (f"no change file for business day {expected} arrived by this run on {run_day}: "
            f"{municipality_code}_changes_{stamp}.csv is not in {inbox}.")
