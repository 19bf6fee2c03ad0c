"""The balance identity (residents(D2) − residents(D1 − 1) = net_change) on a generated city of 60 business days."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

pytestmark = pytest.mark.slow  # 60 business days of a 2,000-resident city, each file through GX

from tasks import stats
from synthetic.city import generate_city
from tasks.summary import last_baseline_date
from tests.conftest import Register

START = dt.date(2026, 3, 2)
RESIDENTS = 2000  # small; the runtime is the ~1 s of GX per file, whatever the city's size
DAYS = 91         # 60 business days after the baseline (春分の日 and the Golden Week holidays fall in it)


def file_date(path: Path) -> dt.date:
    """The business date in a change file's name."""
    return dt.datetime.strptime(path.stem.rsplit("_", 1)[1], "%Y%m%d").date()


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """The generated city ingested file by file, in order: (register, business dates of the daily files)."""
    root = tmp_path_factory.mktemp("balance")
    paths = generate_city(root / "generated", residents=RESIDENTS, days=DAYS, start=START, seed=3)
    (root / "store").mkdir()
    reg = Register(root / "store")
    outcomes = reg.ingest(*paths)
    assert outcomes[0].status == "applied"
    assert {o.status for o in outcomes} <= {"applied", "duplicate", "refused"}
    yield reg, [file_date(p) for p in paths[1:]]
    reg.con.close()


def test_the_generated_city_has_60_business_days_after_one_baseline(city):
    """The identity applies from the first daily file: the baseline is the only BASELINE file."""
    reg, dates = city
    assert len(dates) == 60 and dates[0] > START and dates == sorted(dates)
    assert last_baseline_date(reg.con) == START


def test_balance_holds_on_every_business_date(city):
    """For every business date after the baseline, balance_breaks(D, D) is empty."""
    reg, dates = city
    broken = {d: stats.balance_breaks(reg.con, d, d).to_dicts() for d in dates}
    assert {d: b for d, b in broken.items() if b} == {}


def test_balance_holds_over_the_whole_range(city):
    """From the first daily date to the last, and over each calendar week, balance_breaks is empty."""
    reg, dates = city
    assert stats.balance_breaks(reg.con, dates[0], dates[-1]).is_empty()
    monday = dates[0] - dt.timedelta(days=dates[0].weekday())
    while monday <= dates[-1]:
        start = max(monday, dates[0])
        assert stats.balance_breaks(reg.con, start, monday + dt.timedelta(days=6)).is_empty(), start
        monday += dt.timedelta(days=7)


def test_the_range_is_not_vacuous(city):
    """Every movement column, planned move-outs, late events and cancellations occur; net = change in residents."""
    reg, dates = city
    movements = stats.movements(reg.con, dates[0], dates[-1])
    totals = movements.select(pl.exclude("nationality_group", "sex")).sum().to_dicts()[0]
    assert [c for c, v in totals.items() if c.endswith(("domestic", "abroad", "births", "deaths", "additions",
                                                          "removals", "within")) and v <= 0] == []
    (planned, late, cancelled), = reg.rows(
        "select count(*) filter (event_type in ('MOVE_OUT', 'MOVE_ABROAD') and effective_date > business_date), "
        "count(*) filter (event_type <> 'BASELINE' and effective_date < business_date), "
        "count(cancelled_by) from event")
    assert planned > 0 and late > 0 and cancelled > 0
    before = stats.population(reg.con, dates[0] - dt.timedelta(days=1))["residents"].sum()
    after = stats.population(reg.con, dates[-1])["residents"].sum()
    assert after - before == totals["net_change"]
    assert set(movements["nationality_group"]) == {"japanese", "foreign"}
