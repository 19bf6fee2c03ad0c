"""Simulated statistics files at real size (synthetic/nation_stats.py): real sizes, identities, the files' shapes."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from synthetic import nation_stats as ns
from tasks.rollup import BALANCE_COLUMNS
from tasks.stats_files import write_tables

D = dt.date(2026, 4, 30)  # a Thursday; the day before is a holiday (昭和の日), so its period is two days
# 相模原市 (a 政令指定都市 of 3 区, 376 towns), 利島村 (1 town), 上北山村 (4 towns)
CODES = ["141500", "133621", "294519"]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("nation-stats")
    cities = ns.plan(CODES)
    periods = ns.statistics_dates(D, 3)
    for city in cities:
        ns.write_city(city, out, periods, 1, write_tables)
    ns.cities_yaml(out / "cities.yaml", cities)
    return out, cities, periods


def test_periods_are_business_days_with_closed_days_folded_in():
    assert ns.statistics_dates(D, 3) == [(dt.date(2026, 4, 25), dt.date(2026, 4, 27)),
                                         (dt.date(2026, 4, 28), dt.date(2026, 4, 28)),
                                         (dt.date(2026, 4, 29), dt.date(2026, 4, 30))]
    with pytest.raises(ValueError, match="not a business day"):
        ns.statistics_dates(dt.date(2026, 4, 29), 1)


def test_real_sizes_and_wards(written):
    """Each municipality's residents are its real population over its real towns; wards.csv is its wards' towns."""
    out, cities, _ = written
    by_code = {c["code"]: c for c in cities}
    assert sorted(by_code) == sorted(CODES)
    assert by_code["141500"]["population"] == 720780 and by_code["141500"]["towns"] == 376
    assert [w for w, _t in by_code["141500"]["wards"]] == ["141518", "141526", "141534"]
    for code, city in by_code.items():
        population = pl.read_parquet(out / code / "stats" / D.isoformat() / "population.parquet")
        assert population["residents"].sum() == city["population"]
        assert population["town_code"].n_unique() <= city["towns"]
        assert population.columns == ["town_code", "sex", "age_group", "nationality_group", "residents"]
        assert (population["residents"] > 0).all()
    wards = pl.read_csv(out / "141500" / "wards.csv", schema_overrides={"town_code": pl.String, "ward_code": pl.String})
    assert wards.height == 376 and wards["town_code"].is_unique().all()
    assert wards.group_by("ward_code").len().sort("ward_code")["len"].to_list() == [t for _w, t in
                                                                                   by_code["141500"]["wards"]]
    assert not (out / "133621" / "wards.csv").exists()


def test_balance_identities_hold_and_chain(written):
    """before + net = after in every row, the parts sum, each file starts where the last ended, and each date's
    residents_after is that date's population file by key; every table written as Parquet and CSV."""
    out, cities, periods = written
    for city in cities:
        previous = None
        for period_from, date in periods:
            folder = out / city["code"] / "stats" / date.isoformat()
            assert sorted(p.name for p in folder.iterdir()) == sorted(
                f"{t}.{s}" for t in ("balance", "households", "movements", "population") for s in ("csv", "parquet"))
            b = pl.read_parquet(folder / "balance.parquet")
            assert tuple(b.columns) == BALANCE_COLUMNS
            assert set(b["period_from"]) == {period_from.isoformat()} and set(b["period_to"]) == {date.isoformat()}
            assert (b["residents_before"] + b["net_change"] == b["residents_after"]).all()
            assert (b["additions"] - b["removals"] == b["net_change"]).all()
            assert (b.select(pl.sum_horizontal("moved_in_domestic", "moved_in_abroad", "births", "other_additions"))
                    .to_series() == b["additions"]).all()
            assert (b["natural_change"] + b["social_change"] == b["net_change"]).all()
            assert (b["residents_before"] >= 0).all()
            population = pl.read_parquet(folder / "population.parquet")
            by_key = population.group_by("nationality_group", "sex").agg(pl.col("residents").sum())
            after = b.select("nationality_group", "sex", "residents_after")
            assert by_key.join(after, on=["nationality_group", "sex"], how="full", coalesce=True).fill_null(0) \
                .filter(pl.col("residents") != pl.col("residents_after")).height == 0
            if previous is not None:
                chained = previous.join(b.select("nationality_group", "sex", "residents_before"),
                                        on=["nationality_group", "sex"], how="full", coalesce=True).fill_null(0)
                assert (chained["residents_after"] == chained["residents_before"]).all()
            previous = after


def test_the_same_seed_writes_the_same_files(tmp_path):
    periods = ns.statistics_dates(D, 1)
    city = ns.plan(["294519"])[0]
    for n in (1, 2):
        ns.write_city(city, tmp_path / str(n), periods, 7, write_tables)
    folder = f"294519/stats/{D.isoformat()}"
    assert all((tmp_path / "1" / folder / name).read_bytes() == (tmp_path / "2" / folder / name).read_bytes()
               for name in ("population.parquet", "balance.parquet", "households.csv"))
