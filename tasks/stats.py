"""Population statistics (人口, 世帯, 異動集計表) as DuckDB queries over the register's versions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:  # polars (and pyarrow with it) is imported where a frame is made, not by `juki stats`
    import polars as pl

STATS_SQL = Path(__file__).resolve().parent / "sql" / "stats"
POPULATION_KEYS = ("town_code", "sex", "age_group", "nationality_group")
HOUSEHOLD_KEYS = ("town_code", "household_type")
MOVEMENT_KEYS = ("nationality_group", "sex")
BALANCE_COLUMNS = ("nationality_group", "sex", "period_from", "period_to", "residents_before", "moved_in_domestic",
                   "moved_in_abroad", "births", "other_additions", "additions", "moved_out_domestic",
                   "moved_out_abroad", "deaths", "other_removals", "removals", "net_change", "natural_change",
                   "social_change", "moves_within", "sex_only_changes", "residents_after")


def _sql(name: str) -> str:
    return (STATS_SQL / name).read_text(encoding="utf-8")


def _on_day(query: str) -> str:
    """A query over `residents_on`, with residents_on.sql as its first common table (no temp copy)."""
    body = "\n".join(line for line in _sql(query).splitlines() if not line.startswith("--")).strip()
    first = f"with residents_on as (\n{_sql('residents_on.sql')}\n)"
    return f"{first},{body[len('with'):]}" if body.startswith("with ") else f"{first}\n{body}"


def table(con: duckdb.DuckDBPyConnection, name: str, as_of: dt.date | None = None, known_at: dt.datetime | None = None,
          date_from: dt.date | None = None, date_to: dt.date | None = None) -> duckdb.DuckDBPyRelation:
    """One statistics table (population, households or movements) as a DuckDB relation."""
    if name == "movements":
        return con.sql(_sql("movements.sql"), params={"date_from": date_from, "date_to": date_to, "known_at": known_at})
    return con.sql(_on_day(f"{name}.sql"), params={"as_of": as_of, "known_at": known_at})


def population(con: duckdb.DuckDBPyConnection, as_of: dt.date, known_at: dt.datetime | None = None) -> pl.DataFrame:
    """Residents by town, sex, 5-year age group and nationality group at the end of a day."""
    return table(con, "population", as_of, known_at).pl()


def households(con: duckdb.DuckDBPyConnection, as_of: dt.date, known_at: dt.datetime | None = None) -> pl.DataFrame:
    """Households and members by town and household type (japanese / mixed / foreign)."""
    return table(con, "households", as_of, known_at).pl()


def movements(con: duckdb.DuckDBPyConnection, date_from: dt.date, date_to: dt.date,
              known_at: dt.datetime | None = None) -> pl.DataFrame:
    """The movement table (異動集計表) for effective dates date_from..date_to, both included."""
    return table(con, "movements", known_at=known_at, date_from=date_from, date_to=date_to).pl()


def balance(con: duckdb.DuckDBPyConnection, date_from: dt.date, date_to: dt.date,
            known_before: dt.datetime | None = None) -> pl.DataFrame:
    """The balance file of date_from..date_to: residents at the end of date_from − 1 as known at `known_before`
    (when the previous date's files were written; None: now), the movements counted since, residents after."""
    params = {"date_before": date_from - dt.timedelta(days=1), "date_from": date_from, "date_to": date_to,
              "known_before": known_before}
    con.register("movement_table", con.sql(_sql("balance_movements.sql"), params={
        k: v for k, v in params.items() if k != "date_before"}).pl())
    try:
        return con.sql(_sql("balance_file.sql"), params=params).pl()
    finally:
        con.unregister("movement_table")


def balance_breaks(con: duckdb.DuckDBPyConnection, date_from: dt.date, date_to: dt.date) -> pl.DataFrame:
    """Keys where residents(date_to) − residents(date_from − 1) ≠ net_change; empty when the balance holds."""
    con.register("movement_table", movements(con, date_from, date_to))
    try:
        return con.sql(_sql("balance.sql"), params={"date_before": date_from - dt.timedelta(days=1),
                                                    "date_to": date_to}).pl()
    finally:
        con.unregister("movement_table")
