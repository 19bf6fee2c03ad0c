"""The daily linkage for many municipalities at once (広域・複数団体): one task per city on Dask. Wiring only."""

from __future__ import annotations

import datetime as dt
import os

from prefect import flow, get_run_logger, task
from prefect.futures import wait
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run
from prefect_dask import DaskTaskRunner
from pydantic import BaseModel, Field

from flows import daily_linkage
from flows.hooks import FLOW_TIMEOUT_SECONDS, failed, report_failure
from juki_core.cities import city_keys, keys_beside, load_cities
from juki_core.settings import Settings
from juki_core.store import StoreError, connect, writer_lock
from tasks import daily
from tasks.keys import subscriber_key

WORKERS = int(os.environ.get("JUKI_DASK_WORKERS", min(4, os.cpu_count() or 1)))


def task_runner() -> DaskTaskRunner:
    """A Dask cluster at $JUKI_DASK_ADDRESS (its workers reach the same Prefect API), else a local one.

    The local cluster runs cities in threads of this process: worker processes would not see an ephemeral
    API and would report to APIs of their own. DuckDB, polars and GX release the GIL for their heavy work."""
    address = os.environ.get("JUKI_DASK_ADDRESS")
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": 1, "threads_per_worker": WORKERS, "processes": False,
                                          "dashboard_address": None})


class City(BaseModel):
    """One municipality: its own store, inbox and subscribers (targets and keys), nothing shared."""

    name: str = Field(description="a name people use, e.g. kawaguchi")
    municipality_code: str = Field(description="全国地方公共団体コード with check digit, e.g. 112038")
    store: str = Field(description="the city's DuckDB store; its inbox, archive, stats and outbox sit beside it")
    inbox: str | None = Field(None, description="fsspec URI of the inbox (default: inbox/ beside the store)")
    subscribers: str | None = Field(None, description="the city's subscribers YAML (targets and key variables)")
    stats: str | None = Field(None, description="fsspec URI of its statistics (default: stats/ beside the store)")
    wards: str | None = Field(None, description="a 政令指定都市's CSV town_code,ward_code (its 区 for the roll-up)")
    city_name: str | None = Field(None, description="都道府県 + 市区町村 as its 本籍 and addresses are written "
                                                    "(default: $JUKI_CITY_NAME, else 埼玉県川口市)")
    keys_file: str | None = Field(None, description="a keys file (NAME=value lines) with the city's key variables, "
                                    "looked up before the environment (default: keys.env beside the cities file)")


@task(name="daily linkage of one city", task_run_name="daily linkage of {city.name}", cache_policy=NO_CACHE,
      persist_result=False, timeout_seconds=FLOW_TIMEOUT_SECONDS)
def link_city(city: City, until: dt.date | None = None) -> dict:
    """The city's new inbox files through the daily run, in its own store; a summary without personal data."""
    settings = Settings.resolve(city.store, inbox=city.inbox, subscribers=city.subscribers, stats=city.stats,
                                municipality_code=city.municipality_code, city_name=city.city_name)
    run_id = str(task_run.get_id() or f"{city.name}-local")
    summary = {"city": city.name, "municipality_code": city.municipality_code, "run_id": run_id}
    try:
        with writer_lock(settings.store, f"many-cities run {run_id} for {city.name}"):
            con = connect(settings.store)
            try:
                files = daily_linkage.pending_files(con, settings.inbox, until)
                # the daily flow's steps: the same I/O retries, statistics and hand-off artifacts per city
                record = daily.run(con, settings, run_id, files, daily.parameters(settings, files, city=city.name),
                                   key_for=key_for(city), steps=daily_linkage.STEPS)
            finally:
                con.close()
    except StoreError as exc:
        return summary | {"status": "failed", "files": 0, "rows_applied": 0, "rows_quarantined": 0,
                          "problems": str(exc)}
    return summary | {"status": record.status, "files": len(record.outcomes),
                      "rows_applied": sum(o["rows_applied"] for o in record.outcomes),
                      "rows_quarantined": sum(o["rows_quarantined"] for o in record.outcomes),
                      "problems": " ".join(record.problems())}


def listed_cities(cities: list[City] | None, cities_file: str | None) -> list[City]:
    """The cities given, or those of a cities YAML.

    Many cities are better named by their file: every task's submission to Dask carries the flow run's parameters
    (Prefect's serialized context, which Dask then tokenizes), so a list of all 1,741 cities cost each submission
    ~0.8 MB and the run's submissions O(N²) time and memory (docs/nation.md)."""
    if (cities is None) == (cities_file is None):
        raise ValueError("give the cities or a cities file, not both or neither")
    if cities_file is not None:
        keys = keys_beside(cities_file)
        default = {"keys_file": str(keys)} if keys.is_file() else {}
        return [City(**(default | c)) for c in load_cities(cities_file)]
    return [c if isinstance(c, City) else City(**c) for c in cities]


def key_for(city: City):
    """The city's keys from its keys file, else the environment or a Prefect Secret block.

    Not put into the environment: Prefect's settings read every variable each time they are built, so a nation's
    8,705 key variables made each ~0.8 s instead of 0.035 s, many times a task run (docs/nation.md)."""
    keys = city_keys(city.keys_file) if city.keys_file else None
    return lambda sub: subscriber_key(sub, use_prefect=True, keys=keys)


def _outcome(city: City, future) -> dict:
    """A city's summary, or one that says it crashed (the exception's type only: its text may quote data)."""
    result = future.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        return {"city": city.name, "municipality_code": city.municipality_code, "run_id": str(future.task_run_id),
                "status": "crashed", "files": 0, "rows_applied": 0, "rows_quarantined": 0,
                "problems": f"crashed ({type(result).__name__}); see the task run's logs"}
    return result


@flow(name="many-cities", log_prints=False, persist_result=False, timeout_seconds=FLOW_TIMEOUT_SECONDS,
      on_failure=[report_failure], on_crashed=[report_failure],
      task_runner=task_runner())
def many_cities(cities: list[City] | None = None, until: dt.date | None = None,
                cities_file: str | None = None) -> list[dict]:
    """Run the daily linkage for every city in parallel; one city's failure does not stop the others."""
    log = get_run_logger()
    cities = listed_cities(cities, cities_file)
    names = [c.name for c in cities]
    if len(set(names)) != len(names) or len({c.store for c in cities}) != len(cities):
        return failed("every city needs a name and a store of its own.", [])
    # no tags per city (the task run's name says the city): Prefect starts a concurrency-lease service, a thread
    # with its own event loop and API client, for every distinct set of task tags and keeps it for the process's
    # life, so a tag per city left one thread per city (1,741 for the nation) and a lease call each
    futures = [link_city.submit(c, until) for c in cities]
    wait(futures)  # every city ends, however another one did
    results = [_outcome(city, future) for city, future in zip(cities, futures)]
    for r in results:
        log.info("%s (%s): %s, %d file(s), %d applied, %d quarantined", r["city"], r["municipality_code"],
                 r["status"], r["files"], r["rows_applied"], r["rows_quarantined"])
    create_table_artifact(key="many-cities", table=results, description="One row per city: its daily run")
    stopped = [r for r in results if r["status"] != "completed"]
    if stopped:
        return failed(" ".join(f"{r['city']}: {r['problems']}" for r in stopped), results)
    return results
