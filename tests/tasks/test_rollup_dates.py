"""The roll-up finds a period's balance files by listing the date folders once (not a glob over the history)."""

from __future__ import annotations

import datetime as dt

import fsspec
import pytest

from tasks.rollup import balance_dates


@pytest.mark.parametrize("protocol", ["file", "memory"])
def test_the_dates_in_the_period_with_a_balance_file(tmp_path, protocol):
    root = str(tmp_path / "stats") if protocol == "file" else "/rollup-dates/stats"
    fs = fsspec.filesystem(protocol)
    for day, files in (("2026-03-31", ["balance.parquet"]), ("2026-04-01", ["population.parquet"]),  # a BASELINE date
                       ("2026-04-02", ["balance.parquet", "population.parquet"]), ("2026-04-06", ["balance.parquet"]),
                       ("2026-04-07", ["balance.parquet"]), ("not-a-date", ["balance.parquet"])):
        fs.makedirs(f"{root}/{day}", exist_ok=True)
        for name in files:
            fs.pipe(f"{root}/{day}/{name}", b"x")
    fs.pipe(f"{root}/README", b"x")
    assert balance_dates(fs, root, dt.date(2026, 4, 1), dt.date(2026, 4, 6)) == [dt.date(2026, 4, 2),
                                                                                 dt.date(2026, 4, 6)]
    assert balance_dates(fs, root, dt.date(2026, 4, 7), dt.date(2026, 4, 7)) == [dt.date(2026, 4, 7)]
    assert balance_dates(fs, root, dt.date(2026, 4, 1), dt.date(2026, 4, 1)) == []
    assert balance_dates(fs, f"{root}-none", dt.date(2026, 4, 1), dt.date(2026, 4, 6)) == []
    if protocol == "memory":
        fs.rm("/rollup-dates", recursive=True)
