"""`juki rollup` over the benchmark's simulated statistics files (synthetic/nation_stats.py) of three municipalities."""

from __future__ import annotations

import csv
import datetime as dt
import io

from juki.cli import main
from synthetic import nation_stats as ns
from tasks.stats_files import write_tables

D = dt.date(2026, 4, 30)
CODES = ["141500", "133621", "294519"]  # 相模原市 (3 区), 利島村, 上北山村


def test_the_rollup_of_simulated_files_completes(prefect_api, tmp_path, capsys):
    """Three municipalities at real size over three statistics dates: exit 0, every row 完了, the nation their sum."""
    cities = ns.plan(CODES)
    periods = ns.statistics_dates(D, 3)
    for city in cities:
        ns.write_city(city, tmp_path, periods, 1, write_tables)
    ns.cities_yaml(tmp_path / "cities.yaml", cities)
    out = tmp_path / "out"
    assert main(["rollup", "--date", D.isoformat(), "--from", periods[0][0].isoformat(), "--cities",
                 str(tmp_path / "cities.yaml"), "--expect", "listed", "--out", str(out)]) == 0
    capsys.readouterr()
    data = (out / f"{D}_人口動態及び世帯数.csv").read_bytes()
    rows = [r for r in csv.DictReader(io.StringIO(data.decode("utf-8-sig"))) if r["区分"] == "総計"]
    assert {r["集計状況"] for r in rows} == {"完了"}
    by_code = {r["団体コード"]: r for r in rows}
    assert int(by_code["000000"]["計"]) == sum(c["population"] for c in cities)
    assert {"141518", "141526", "141534"} <= set(by_code)  # 相模原市's 区 from its wards.csv
    assert sum(int(by_code[w]["計"]) for w in ("141518", "141526", "141534")) == int(by_code["141500"]["計"])
