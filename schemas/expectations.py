"""The row rules of the change-file agreement as a Great Expectations suite: one expectation per rule id.

Every rule of `schemas.change_file.RULES` with scope "row", except ROW_FIELD_COUNT (the CSV
reader's), is one expectation here, carrying `meta={"rule_id"}` and the agreement columns it
judges; its result lists the refused lines by column. The checks themselves are the polars
expressions of `schemas.row_rules` (whose docstring lists the decisions taken where the
agreement is silent); the suite judges one change file's rows alone, without the register.
Importing this module imports great_expectations (slow): import it lazily.

Why one expectation per rule id, over a metric computed once: GX costs a fixed 6-10 ms per
expectation and file on this machine whatever the rows (more with a row_condition), so the
former ~110 expectations, one per (rule, column), kept a 1,300-row file at 1.5-3 s. Here every
expectation depends on the same table metric (`table.juki_row_rule_violations`, no value
parameters), which GX resolves once per batch in one polars pass; only NOTIFIED_AFTER_BUSINESS_DATE
has its own metric, for the business date is a suite parameter of each run.

A value never appears in a result: an expectation returns only the surrogate `line` of each
refused row and the column's name (run the suite with `SAFE_RESULT_FORMAT` all the same).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any, ClassVar, Dict, List, Optional, Tuple, Union

import pandas as pd
import polars as pl

import great_expectations as gx
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.core.suite_parameters import SuiteParameterDict
from great_expectations.execution_engine import ExecutionEngine, PandasExecutionEngine, pandas_execution_engine
from great_expectations.expectations.expectation import BatchExpectation
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.table_metric_provider import TableMetricProvider

from schemas.change_file import COLUMNS, RULES
from schemas.row_rules import (
    BUSINESS_DATE_RULE,
    LINE,
    SUITE_RULE_IDS,
    business_date_check,
    checks,
    violations,
    with_ordinals,
)

SUITE_NAME = "change_file_rows"
BUSINESS_DATE_PARAMETER = "business_date"
SAFE_RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": [LINE],
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
    "partial_unexpected_count": 0,
}
ROW_RULES_METRIC = "table.juki_row_rule_violations"
BUSINESS_DATE_METRIC = "table.juki_business_date_violations"
__all__ = ["SUITE_RULE_IDS", "build_suite"]

# GX fingerprints every pandas batch under 1 GB by hashing each value (a batch marker juki never reads):
# 0.7 s per 100,000 rows here, more than the rules themselves.
pandas_execution_engine.HASH_THRESHOLD = 0

Refused = Dict[str, List[Dict[str, Any]]]  # rule_id -> [{"column": c, "line": [lines]}]


def _rows(execution_engine: PandasExecutionEngine, metric_domain_kwargs: dict,
          columns: tuple[str, ...] | None = None) -> pl.DataFrame:
    frame, _, _ = execution_engine.get_compute_domain(domain_kwargs=metric_domain_kwargs,
                                                      domain_type=MetricDomainTypes.TABLE)
    return pl.from_pandas(frame if columns is None else frame[list(columns)])


def _by_rule(found: pl.DataFrame) -> Refused:
    """The refused lines of each rule id, by column (lines only: no value of the row)."""
    refused: Refused = defaultdict(list)
    for (rule_id, column), part in found.group_by("rule_id", "column", maintain_order=True):
        refused[rule_id].append({"column": column, LINE: sorted(part[LINE].to_list())})
    return dict(refused)


class RowRuleViolations(TableMetricProvider):
    """The lines each row rule refuses, every rule but the business date's, in one pass."""

    metric_name = ROW_RULES_METRIC

    @metric_value(engine=PandasExecutionEngine)
    def _pandas(cls, execution_engine, metric_domain_kwargs, metric_value_kwargs, metrics,
                runtime_configuration) -> Refused:
        return _by_rule(violations(with_ordinals(_rows(execution_engine, metric_domain_kwargs)), checks()))


class BusinessDateViolations(TableMetricProvider):
    """The lines notified after the business date (YYYY-MM-DD)."""

    metric_name = BUSINESS_DATE_METRIC
    value_keys = ("business_date",)

    @metric_value(engine=PandasExecutionEngine)
    def _pandas(cls, execution_engine, metric_domain_kwargs, metric_value_kwargs, metrics,
                runtime_configuration) -> Refused:
        rows = with_ordinals(_rows(execution_engine, metric_domain_kwargs, (LINE, "notified_date")), ("notified_date",))
        check = business_date_check(date.fromisoformat(str(metric_value_kwargs["business_date"])))
        return _by_rule(violations(rows, (check,)))


class ExpectRowsToPassRowRule(BatchExpectation):
    """Expect no row of the batch to break the change-file row rule `rule_id` in any of its columns."""

    rule_id: str
    columns: List[Optional[str]]
    metric_dependencies: ClassVar[Tuple[str, ...]] = (ROW_RULES_METRIC,)
    success_keys: ClassVar[Tuple[str, ...]] = ("rule_id",)

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                  execution_engine: ExecutionEngine | None = None) -> dict:
        refused = metrics[self.metric_dependencies[0]].get(self.rule_id, [])
        count = sum(len(entry[LINE]) for entry in refused)
        return {"success": count == 0,
                "result": {"observed_value": count, "unexpected_count": count,
                           "unexpected_index_list": refused}}


class ExpectRowsNotifiedByBusinessDate(ExpectRowsToPassRowRule):
    """Expect no row notified after the business date (a suite parameter of each run)."""

    business_date: Union[str, SuiteParameterDict]
    metric_dependencies: ClassVar[Tuple[str, ...]] = (BUSINESS_DATE_METRIC,)
    success_keys: ClassVar[Tuple[str, ...]] = ("rule_id", "business_date")


def build_suite() -> gx.ExpectationSuite:
    """The row rules as one ExpectationSuite; run it with SAFE_RESULT_FORMAT and the business_date parameter."""
    columns: dict[str, list[str | None]] = defaultdict(list)
    for check in checks():
        if check.column not in columns[check.rule_id]:
            columns[check.rule_id].append(check.column)
    expectations = [ExpectRowsToPassRowRule(rule_id=rule_id, columns=found, meta={"rule_id": rule_id})
                    for rule_id, found in columns.items()]
    expectations.append(ExpectRowsNotifiedByBusinessDate(
        rule_id=BUSINESS_DATE_RULE, columns=["notified_date"], meta={"rule_id": BUSINESS_DATE_RULE},
        business_date={"$PARAMETER": BUSINESS_DATE_PARAMETER}))
    # Built without a data context; the constructor logs and drops an invalid expectation.
    suite = gx.ExpectationSuite(name=SUITE_NAME, expectations=expectations)
    if len(suite.expectations) != len(expectations):
        raise RuntimeError("an expectation of the row rules is invalid")
    implemented = {e.meta["rule_id"] for e in suite.expectations}
    if implemented != set(SUITE_RULE_IDS) or not implemented <= set(RULES):
        raise RuntimeError(f"the suite does not implement exactly the row rules: "
                           f"{sorted(implemented ^ set(SUITE_RULE_IDS))}")
    if not {c for e in suite.expectations for c in e.columns} <= {*COLUMNS, None}:
        raise RuntimeError("an expectation of the row rules names a column outside the agreement")
    return suite


def as_pandas(rows: pl.DataFrame) -> pd.DataFrame:
    """The rows as the pandas frame GX takes, backed by the same Arrow buffers (no copy of the strings)."""
    # polars' own string views: the default (large strings) copied every column, and the metric copied back
    return rows.to_arrow(compat_level=pl.CompatLevel.newest()).to_pandas(types_mapper=pd.ArrowDtype)
