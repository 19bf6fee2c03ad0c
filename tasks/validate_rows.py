"""The row half of the agreement: one change file's rows judged alone, without the register.

The rules themselves are the Great Expectations suite of `schemas.expectations` (its module
docstring lists the decisions taken where the spec is silent); this module only runs it on
the file's frame and maps the result back to (line, rule_id, column). Great Expectations is
imported on first use, because its import takes seconds. Unused-column warnings are given for
known event types only (an unknown one is refused anyway); "" counts as not given throughout.
"""

from __future__ import annotations

import datetime
import gc
import logging
import os
import threading
import time
from functools import cache
from typing import TYPE_CHECKING, Any

import polars as pl

from schemas.change_file import COLUMNS, EVENT_TYPES

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuiteValidationResult

LINE = "line"
# A running Dask scheduler whose workers keep Great Expectations imported (docs/decisions.md, "GX somewhere warm").
GX_ADDRESS_VARIABLE = "JUKI_GX_DASK_ADDRESS"
GX_CONNECT_SECONDS = 10
VIOLATION_SCHEMA = {"line": pl.Int64, "rule_id": pl.String, "column": pl.String}
WARNING_SCHEMA = {"line": pl.Int64, "column": pl.String}
# GX is not thread-safe: its suite-parameter parser (pyparsing) and its "newest context" are process-wide, and two
# cities validating at once in the many-cities flow's threads failed inside GX. One validation at a time per process.
_GX_LOCK = threading.Lock()


def _prepared(frame: pl.DataFrame) -> pl.DataFrame:
    """The line and agreement columns only, as strings, with "" read as not given."""
    missing = [c for c in (LINE, *COLUMNS) if c not in frame.columns]
    if missing:
        raise ValueError(f"the change-file frame lacks the columns {missing}")
    text = frame.select(pl.col(LINE).cast(pl.Int64), *(pl.col(c).cast(pl.String) for c in COLUMNS))
    # only a column holding "" is rewritten: the others stay the same buffers (the reader gives none)
    empty = text.select((pl.col(c) == "").any() for c in COLUMNS).row(0)
    return text.with_columns(pl.when(pl.col(c) != "").then(pl.col(c)).alias(c)
                             for c, has_empty in zip(COLUMNS, empty) if has_empty)


@cache
def _suite():
    from schemas.expectations import build_suite

    return build_suite()


def warm() -> float:
    """Import Great Expectations and build the suite now, not inside a validation: the seconds it took."""
    started = time.perf_counter()
    _suite()
    return time.perf_counter() - started


def dask_setup(worker) -> None:
    """`dask worker ADDRESS --preload tasks.validate_rows`: the worker imports GX once, before any file."""
    warm()


@cache
def _client(address: str):
    from distributed import Client

    return Client(address, timeout=GX_CONNECT_SECONDS, set_as_default=False)


def validation_result(frame: pl.DataFrame,
                      business_date: datetime.date) -> ExpectationSuiteValidationResult:
    """Run the row-rule suite on one change file: the GX result, which carries lines but no values."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    from schemas.expectations import BUSINESS_DATE_PARAMETER, SAFE_RESULT_FORMAT, as_pandas

    if isinstance(business_date, datetime.datetime):
        business_date = business_date.date()
    suite = _suite()
    rows = as_pandas(_prepared(frame))
    # A fresh in-memory context per file: nothing is stored, and concurrent runs share no state.
    # No Data Docs site: the default ephemeral one points into a temporary folder.
    context = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    ))
    batch = (context.data_sources.add_pandas("change_file")
             .add_dataframe_asset("rows")
             .add_batch_definition_whole_dataframe("whole")
             .get_batch(batch_parameters={"dataframe": rows}))
    try:
        return batch.validate(suite, result_format=SAFE_RESULT_FORMAT,
                              expectation_parameters={BUSINESS_DATE_PARAMETER: business_date.isoformat()})
    finally:
        # GX keeps its newest context as the project, and the context this batch's frame: let the frame go
        context.data_sources.delete("change_file")


def _raised(exception_info: dict[str, Any]) -> bool:
    """True when GX caught an exception while evaluating an expectation (it then only reports)."""
    if exception_info.get("raised_exception"):
        return True
    return any(isinstance(v, dict) and v.get("raised_exception") for v in exception_info.values())


def _unexpected_lines(unexpected_index_list: list[dict[str, Any]]) -> list[tuple[str | None, list[int]]]:
    """The refused lines of a result, by column: [{"column": c, "line": [..]}, ..]."""
    return [(entry["column"], [int(v) for v in entry[LINE]]) for entry in unexpected_index_list]


def row_violations(frame: pl.DataFrame, business_date: datetime.date) -> pl.DataFrame:
    """Row-rule violations of one change file: one row per (line, rule_id, column); on the warm cluster if one is set."""
    address = os.environ.get(GX_ADDRESS_VARIABLE)
    if address and frame.height:
        try:
            return _client(address).submit(judged_here, frame, business_date, pure=False).result()
        except (OSError, TimeoutError) as exc:  # a cold validation is slower, not wrong
            logging.getLogger(__name__).warning("no GX cluster at %s (%s): validating in this process",
                                                address, type(exc).__name__)
    return judged_here(frame, business_date)


def _results(frame: pl.DataFrame, business_date: datetime.date) -> list:
    """The suite's results alone; the rest of the run is freed now, not at the next full collection."""
    with _GX_LOCK:
        results = validation_result(frame, business_date).results
    # the batch's objects are a reference cycle holding the pandas copy of the file (~0.3 GiB at a 607,000-row
    # BASELINE, then held through apply): the young generations' collection frees it in ~20 ms
    gc.collect(1)
    return results


def judged_here(frame: pl.DataFrame, business_date: datetime.date) -> pl.DataFrame:
    """row_violations in this process."""
    if frame.height == 0:
        return pl.DataFrame(schema=VIOLATION_SCHEMA)
    parts = [pl.DataFrame(schema=VIOLATION_SCHEMA)]
    for result in _results(frame, business_date):
        meta = result.expectation_config.meta
        if _raised(result.exception_info):
            # The GX message may quote a value (a My Number): name the rule only.
            raise RuntimeError(f"the row rule {meta['rule_id']} could not be evaluated")
        for column, lines in _unexpected_lines(result.result.get("unexpected_index_list") or []):
            parts.append(pl.DataFrame(
                {"line": lines, "rule_id": [meta["rule_id"]] * len(lines), "column": [column] * len(lines)},
                schema=VIOLATION_SCHEMA))
    return pl.concat(parts).unique().sort("line", "rule_id", "column", nulls_last=False)


def without_unused(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows with every value their event type does not use set to null (ignored, never stored)."""
    not_using = {column: [e.code for e in EVENT_TYPES.values() if column not in e.uses] for column in COLUMNS}
    # (a sliced file's key columns alone: tasks/sliced.py)
    not_using = {column: codes for column, codes in not_using.items() if codes and column in frame.columns}
    # only a column holding such a value is rewritten: the others stay the same buffers (a BASELINE has few)
    holds = frame.select((pl.col("event_type").is_in(codes) & pl.col(column).is_not_null()).any().alias(column)
                         for column, codes in not_using.items()).row(0, named=True) if frame.height else {}
    return frame.with_columns(
        pl.when(pl.col("event_type").is_in(codes)).then(pl.lit(None, dtype=pl.String)).otherwise(pl.col(column))
        .alias(column)
        for column, codes in not_using.items() if holds.get(column) or frame.schema[column] != pl.String)


def unused_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Warnings: non-empty columns that the row's event type does not use: line, column."""
    prepared = _prepared(frame)
    parts = [pl.DataFrame(schema=WARNING_SCHEMA)]
    for column in COLUMNS:
        not_using = [e.code for e in EVENT_TYPES.values() if column not in e.uses]
        if not_using:
            parts.append(prepared
                         .filter(pl.col("event_type").is_in(not_using) & pl.col(column).is_not_null())
                         .select(LINE, pl.lit(column, dtype=pl.String).alias("column")))
    return pl.concat(parts).unique().sort("line", "column")
