"""The national roll-up (全国集計): every listed city's statistics files for a date, checked and summed. Wiring only."""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.hooks import FLOW_TIMEOUT_SECONDS, report_failure
from tasks import rollup as r
from tasks.stats_files import pyramid_png


@task(name="read the cities' statistics", cache_policy=NO_CACHE, persist_result=False)
def read_cities(cities: list[r.CityFiles], date_to: dt.date, date_from: dt.date,
                wards: dict[str, dict[str, str]]) -> dict[str, r.CityResult]:
    """Every city's files read and checked (a few at a time); code -> result."""
    return r.read_cities(cities, date_to, date_from, wards)


@task(name="lay out and write the tables", cache_policy=NO_CACHE, persist_result=False)
def lay_out_and_write(reference: list, prefectures: dict, expected: list[str], results: dict, date_to: dt.date,
                      out: str) -> tuple[r.Tables, list[str]]:
    """The survey's tables, the status list and the nation's pyramid, written into out."""
    tables = r.lay_out(reference, prefectures, expected, results, date_to)
    return tables, r.write_outputs(tables, pyramid_png(tables.nation_population, date_to), out, date_to)


@flow(name="rollup", log_prints=False, persist_result=False, timeout_seconds=FLOW_TIMEOUT_SECONDS,
      on_failure=[report_failure], on_crashed=[report_failure])
def rollup(date: dt.date, cities_file: str, out: str, date_from: dt.date | None = None,
           expect: str = "nation") -> dict:
    """Read, check and sum every city's statistics for date_from..date; name the cities missing or failing."""
    log = get_run_logger()
    cities = r.load_cities(cities_file)
    reference, prefectures = r.reference()
    expected = r.expected_codes(reference, cities, expect)
    results = read_cities(cities, date, date_from or date, r.ward_names(reference))
    tables, paths = lay_out_and_write(reference, prefectures, expected, results, date, out)
    short = tables.status.filter(tables.status["status"] != r.REPORTED)
    create_table_artifact(key="rollup", table=short.to_dicts() or [{"status": "every expected municipality reported"}],
                          description=f"Roll-up of {date}: the municipalities missing or failing "
                                      f"({len(tables.missing)} missing, {len(tables.failing)} failing of "
                                      f"{len(expected)})")
    log.info("rollup of %s: %d of %d municipalities reported, %d missing, %d failing", date,
             len(expected) - len(tables.missing) - len(tables.failing), len(expected), len(tables.missing),
             len(tables.failing))
    return {"expected": len(expected), "missing": tables.missing, "failing": tables.failing, "paths": paths,
            "complete": not (tables.missing or tables.failing)}
