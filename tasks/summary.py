"""What a run did, from the ledgers: files, rows, quarantine by rule, residents now (no personal data)."""

from __future__ import annotations

import datetime as dt

import duckdb


def run_files(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict]:
    """The file-ledger rows of one run, in delivery order."""
    return con.sql(
        "select file_name as file, file_sha256 as sha256, status, rows_read, rows_applied, rows_quarantined, "
        "rows_skipped, reason, unused_values, extra_columns from file_ledger where run_id = $run order by delivery_no",
        params={"run": run_id}).pl().to_dicts()


def quarantine_by_rule(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> list[dict]:
    """Refused rows counted by rule id (a row with two reasons counts under both)."""
    where = "where run_id = $run" if run_id else ""
    return con.sql(
        f"select rule_id, count(*) as rows from (select unnest(rule_ids) as rule_id from quarantine {where}) "
        "group by rule_id order by rows desc, rule_id", params={"run": run_id} if run_id else None).pl().to_dicts()


def residents_on(con: duckdb.DuckDBPyConnection, day: dt.date) -> int:
    """Residents at the end of a day, as the register knows it now."""
    return con.sql(
        "select count(*) from resident_version where recorded_to is null and status = 'current' "
        "and valid_from <= $d and (valid_to is null or valid_to > $d)", params={"d": day}).fetchall()[0][0]


def latest_business_date(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The newest business date the register has applied."""
    return con.sql("select max(business_date) from file_ledger where status = 'applied'").fetchall()[0][0]


def first_baseline_date(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The business date of the first applied BASELINE file: the register knows nothing before it."""
    return con.sql("select min(business_date) from file_ledger where status = 'applied' and has_baseline"
                   ).fetchall()[0][0]


class BeforeRegister(Exception):
    """A question about a day before the register knew the city."""


def check_known(con: duckdb.DuckDBPyConnection, day: dt.date) -> None:
    """Refuse a day before the first BASELINE file's business date."""
    first = first_baseline_date(con)
    if first is None:
        raise BeforeRegister("the register holds no BASELINE yet: ingest the city's BASELINE file first")
    if day < first:
        raise BeforeRegister(f"the register knows the city from {first} (its first BASELINE file); "
                             f"{day} is earlier")


def summary_markdown(files: list[dict], by_rule: list[dict], residents: int | None, as_of: dt.date | None) -> str:
    """The run summary as a markdown document for a Prefect artifact."""
    lines = ["# Daily linkage", "", "| file | status | read | applied | quarantined | skipped | ignored values |",
             "|---|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {f['file']} | {f['status']} | {f['rows_read']} | {f['rows_applied']} | "
              f"{f['rows_quarantined']} | {f['rows_skipped']} | {f['unused_values']} |" for f in files]
    extra = [f"- {f['file']}: {', '.join(c or '(blank)' for c in f['extra_columns'])}"
             for f in files if f["extra_columns"]]
    if extra:
        lines += ["", "## Columns outside the agreement (ignored)", ""] + extra
    refused = [f for f in files if f["status"] == "refused"]
    if refused:
        lines += ["", "## Refused files", ""] + [f"- {f['reason']}" for f in refused]
    if by_rule:
        lines += ["", "## Quarantine by rule", "", "| rule | rows |", "|---|---:|"]
        lines += [f"| {r['rule_id']} | {r['rows']} |" for r in by_rule]
    if residents is not None:
        lines += ["", f"Residents at the end of {as_of}: **{residents:,}**"]
    return "\n".join(lines) + "\n"


def last_baseline_date(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The business date of the newest applied file that held BASELINE rows."""
    return con.sql("select max(business_date) from file_ledger where status = 'applied' and has_baseline"
                   ).fetchall()[0][0]


def applied_dates(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dt.date]:
    """Business dates of the files this run applied, oldest first."""
    return [r[0] for r in con.sql("select distinct business_date from file_ledger where run_id = $run "
                                  "and status = 'applied' order by 1", params={"run": run_id}).fetchall()]


def pyramid_table(population) -> list[dict]:
    """Residents by age group: men and women, Japanese and foreign (for a table artifact)."""
    import polars as pl

    from tasks.stats_files import AGE_GROUPS

    wide = {g: {"age_group": g, "men_japanese": 0, "men_foreign": 0, "women_japanese": 0, "women_foreign": 0}
            for g in AGE_GROUPS}
    for r in population.group_by("sex", "age_group", "nationality_group").agg(pl.col("residents").sum()).to_dicts():
        wide[r["age_group"]][f"{'men' if r['sex'] == '1' else 'women'}_{r['nationality_group']}"] = r["residents"]
    return list(wide.values())


def run_movements(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[tuple[dt.date, dt.date] | None, list[dict]]:
    """What this run's rows changed in the movement table (異動集計表): the effective dates they reach, and per key
    the table as known after the run minus as known before it (a change file mostly reports earlier days' events,
    so the table of the business date alone is often empty)."""
    from tasks import stats

    first, last, before, after = con.sql(
        "select min(least(e.effective_date, t.effective_date)), max(greatest(e.effective_date, t.effective_date)), "
        "min(e.recorded_at) - interval 1 microsecond, max(e.recorded_at) from event e left join event t on t.event_id = e.cancels_event_id "
        "where e.run_id = $run and e.event_type <> 'BASELINE'", params={"run": run_id}).fetchall()[0]
    if first is None:
        return None, []
    import polars as pl

    keys = ["nationality_group", "sex"]
    now, earlier = stats.movements(con, first, last, known_at=after), stats.movements(con, first, last, known_at=before)
    figures = [c for c in now.columns if c not in keys]
    both = now.join(earlier, on=keys, how="full", coalesce=True, suffix="_before").fill_null(0)
    delta = both.select(keys + [(pl.col(c) - pl.col(f"{c}_before")).alias(c) for c in figures])
    delta = delta.filter(pl.any_horizontal(pl.col(figures) != 0)).sort(keys)
    return (first, last), delta.to_dicts()


def person_key(con: duckdb.DuckDBPyConnection, resident_code: str) -> str:
    """The person a 住民票コード names: the code the register first knew them by (see RESIDENT_CODE_CHANGE)."""
    # a store not yet written by a juki that knows the change (read-only commands do not migrate) has none
    if not con.execute("select count(*) from duckdb_columns() where table_name = 'event' "
                       "and column_name = 'new_resident_code'").fetchall()[0][0]:
        return resident_code
    (person,) = con.execute("select any_value(resident_code) from event where event_type = 'RESIDENT_CODE_CHANGE' "
                            "and new_resident_code = $c and cancelled_by is null", {"c": resident_code}).fetchall()[0]
    return person or resident_code
