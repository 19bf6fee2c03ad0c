"""One city run day by day with late events, then `juki rollup` over its files: they chain (no break), exit 0."""

from __future__ import annotations

import datetime as dt

import pytest

from juki_core.store import connect
from synthetic.city import generate_city


@pytest.mark.slow
def test_a_city_run_day_by_day_rolls_up_its_period_without_a_chain_break(prefect_api, nation_reference, tmp_path,
                                                                          capsys, monkeypatch):
    """Each day's file taken by its own `juki daily --date D`; late events (effective before the previous
    statistics date) are counted in the file of the day they arrive, so the period's files chain."""
    from juki.cli import main
    from tasks.handoff import load_subscribers

    for i, sub in enumerate(load_subscribers().values()):
        monkeypatch.setenv(sub.key_env, f"{i + 1:02d}" * 32)
    paths = generate_city(tmp_path / "inbox", residents=300, days=10)
    store = tmp_path / "registry.duckdb"
    dates = [dt.datetime.strptime(p.stem.rsplit("_", 1)[1], "%Y%m%d").date() for p in paths]
    for day in dates:
        assert main(["--store", str(store), "daily", "--date", day.isoformat()]) in (0, 1)
    capsys.readouterr()
    with connect(store, read_only=True) as con:
        (late,) = con.sql("select count(*) from event as e join file_ledger as f using (delivery_no) "
                          "where e.event_type <> 'BASELINE' and e.effective_date < (select max(business_date) from "
                          "file_ledger as p where p.business_date < f.business_date)").fetchall()[0]
        assert late > 0  # the case: events effective before the previous date's files were written
        assert con.sql("select count(distinct business_date) from statistics_written").fetchall()[0][0] == len(dates)
    balances = sorted(p.parent.name for p in (tmp_path / "stats").glob("*/balance.parquet"))
    assert len(balances) == len(dates) - 1  # every date after the BASELINE's
    (tmp_path / "cities.yaml").write_text(
        "cities:\n  - {name: kawaguchi, municipality_code: '112038', store: registry.duckdb}\n", encoding="utf-8")

    status = main(["rollup", "--from", balances[0], "--date", balances[-1], "--cities", str(tmp_path / "cities.yaml"),
                   "--expect", "listed", "--out", str(tmp_path / "report")])

    report = (tmp_path / "report" / f"{balances[-1]}_報告状況.csv").read_text(encoding="utf-8-sig")
    assert status == 0, report  # the first definition: failing, chain breaks in most files
    assert "112038" in report and ",reported," in report
