"""The daily balance file stats/<D>/balance.*: the days since the previous statistics date, and its identity."""

from __future__ import annotations

import datetime as dt
import hashlib

import polars as pl
import pytest

from tasks import publish, stats
from tests.builders import event, foreigner, person, resident_code, write_file

R = resident_code
D = dt.date
COLUMNS = ["nationality_group", "sex", "period_from", "period_to", "residents_before", "moved_in_domestic",
           "moved_in_abroad", "births", "other_additions", "additions", "moved_out_domestic", "moved_out_abroad",
           "deaths", "other_removals", "removals", "net_change", "natural_change", "social_change", "moves_within",
           "sex_only_changes", "residents_after"]
# BASELINE on Friday 24 April 2026; a birth on Saturday the 25th and a death on Sunday the 26th, both notified in
# Monday's file with a sex correction and a move within the city
BASELINE = [event("b1", "BASELINE", "2020-01-01", "2026-04-24", **person(1)),
            event("b2", "BASELINE", "2020-01-01", "2026-04-24", **person(2, sex="2")),
            event("b3", "BASELINE", "2020-01-01", "2026-04-24", **foreigner(3))]
MONDAY = [event("bir4", "BIRTH", "2026-04-25", "2026-04-27", **person(4, household_id="H2", relationship="子",
                                                                       birth_date="2026-04-25")),
          event("dth3", "DEATH", "2026-04-26", "2026-04-27", resident_code=R(3)),
          event("cor1", "CORRECTION_BY_AUTHORITY", "2026-04-27", resident_code=R(1), sex="2"),
          event("mov2", "MOVE_WITHIN", "2026-04-27", resident_code=R(2), town_code="0002", address_line="9-9")]


@pytest.fixture
def city(register, monkeypatch):
    """The register after the BASELINE and Monday's file; GX is not the subject here."""
    monkeypatch.setattr("tasks.validate_rows.row_violations", lambda rows, business_date: pl.DataFrame(
        schema={"line": pl.Int64, "rule_id": pl.String, "column": pl.String}))
    outcomes = register.ingest(write_file(register.inbox, "2026-04-24", BASELINE),
                               write_file(register.inbox, "2026-04-27", MONDAY))
    assert [o.rows_applied for o in outcomes] == [3, 4], register.quarantine()
    return register


def rows(frame: pl.DataFrame) -> dict[tuple[str, str], dict]:
    return {(r.pop("nationality_group"), r.pop("sex")): r for r in frame.to_dicts()}


def test_the_weekend_folds_into_mondays_balance_and_every_row_balances(city):
    """Monday's balance file holds Saturday's birth and Sunday's death (its movement file does not), the
    corrected sex out of one key and into the other, and residents before (end of Friday) and after."""
    stats_uri = str(city.root / "stats")
    out = publish.write_statistics(city.con, "run-1", stats_uri)

    assert sorted(p.name for p in (city.root / "stats" / "2026-04-24").iterdir()) == [
        "households.csv", "households.parquet", "movements.csv", "movements.parquet",
        "population.csv", "population.parquet"]  # no balance file on the BASELINE's date
    monday = city.root / "stats" / "2026-04-27"
    balance = pl.read_csv(monday / "balance.csv", schema_overrides={"sex": pl.String})
    assert balance.columns == COLUMNS
    assert pl.read_parquet(monday / "balance.parquet").equals(balance)
    assert hashlib.sha256((monday / "balance.csv").read_bytes()).hexdigest() == out.digests["2026-04-27/balance.csv"]
    assert balance.select(pl.col("period_from", "period_to").unique()).rows() == [("2026-04-25", "2026-04-27")]
    zero = dict.fromkeys(COLUMNS[4:], 0)
    assert rows(balance) == {
        ("foreign", "1"): zero | {"period_from": "2026-04-25", "period_to": "2026-04-27", "residents_before": 1,
                                  "deaths": 1, "removals": 1, "net_change": -1, "natural_change": -1},
        ("japanese", "1"): zero | {"period_from": "2026-04-25", "period_to": "2026-04-27", "residents_before": 1,
                                   "births": 1, "additions": 1, "other_removals": 1, "removals": 1,
                                   "natural_change": 1, "social_change": -1, "residents_after": 1},
        ("japanese", "2"): zero | {"period_from": "2026-04-25", "period_to": "2026-04-27", "residents_before": 1,
                                   "other_additions": 1, "additions": 1, "net_change": 1, "social_change": 1,
                                   "moves_within": 1, "sex_only_changes": 1, "residents_after": 2}}
    assert balance.filter(pl.col("residents_before") + pl.col("net_change") != pl.col("residents_after")).height == 0
    movements = pl.read_csv(monday / "movements.csv")
    assert (movements["births"].sum(), movements["deaths"].sum()) == (0, 0)  # the day's own file misses them


def test_period_from_is_the_day_after_the_previous_statistics_date(city):
    """The first business day after the BASELINE starts the day after it; a holiday (昭和の日, 29 April) folds
    into the next business day; a file dated on a closed day is a statistics date of its own; none up to the
    BASELINE."""
    assert [publish.balance_period_from(city.con, day) for day in (D(2026, 4, 23), D(2026, 4, 24))] == [None, None]
    assert publish.balance_period_from(city.con, D(2026, 4, 27)) == D(2026, 4, 25)
    assert publish.balance_period_from(city.con, D(2026, 4, 28)) == D(2026, 4, 28)
    assert publish.balance_period_from(city.con, D(2026, 4, 30)) == D(2026, 4, 29)
    assert publish.balance_period_from(city.con, D(2026, 5, 7)) == D(2026, 5, 2)  # after Golden Week
    city.ingest(write_file(city.inbox, "2026-05-02", []))  # a Saturday's file
    assert publish.balance_period_from(city.con, D(2026, 5, 7)) == D(2026, 5, 3)


def test_a_baseline_on_a_closed_day_starts_the_next_period(register, monkeypatch):
    """BASELINE dated Sunday 26 April: Monday's balance starts on Monday."""
    monkeypatch.setattr("tasks.validate_rows.row_violations", lambda rows, business_date: pl.DataFrame(
        schema={"line": pl.Int64, "rule_id": pl.String, "column": pl.String}))
    register.ingest(write_file(register.inbox, "2026-04-26", [
        event("b1", "BASELINE", "2020-01-01", "2026-04-26", **person(1))]))
    assert publish.balance_period_from(register.con, D(2026, 4, 27)) == D(2026, 4, 27)


def test_the_daily_files_sum_to_the_period(city):
    """Over the statistics dates 27 April - 7 May (Golden Week inside), the files' movements add up to the
    movements of the whole period, and each file starts with the residents the one before ended with."""
    stats_uri = str(city.root / "stats")
    city.ingest(write_file(city.inbox, "2026-05-07", [
        event("in5", "MOVE_IN", "2026-05-03", "2026-05-07", **person(5), prev_address="東京都千代田区"),
        event("out1", "MOVE_OUT", "2026-04-29", "2026-05-07", resident_code=R(1), dest_address="東京都千代田区")]))
    publish.write_statistics(city.con, "run-1", stats_uri)
    days = sorted(p.name for p in (city.root / "stats").iterdir() if (p / "balance.csv").exists())
    assert days == ["2026-04-27", "2026-04-28", "2026-04-30", "2026-05-01", "2026-05-07"]
    files = [pl.read_parquet(city.root / "stats" / day / "balance.parquet") for day in days]
    for before, after in zip(files, files[1:]):
        assert D.fromisoformat(after["period_from"][0]) == D.fromisoformat(before["period_to"][0]) + dt.timedelta(1)
        assert rows(before.select("nationality_group", "sex", "residents_after").filter(
            pl.col("residents_after") > 0)) == rows(after.select("nationality_group", "sex", "residents_before")
                                                    .filter(pl.col("residents_before") > 0).rename(
                                                        {"residents_before": "residents_after"}))
    summed = (pl.concat(files).group_by("nationality_group", "sex")
              .agg(pl.col(c).sum() for c in stats.movements(city.con, D(2026, 4, 25), D(2026, 5, 7)).columns[2:])
              .filter(pl.any_horizontal(pl.exclude("nationality_group", "sex") != 0)).sort("nationality_group", "sex"))
    assert summed.equals(stats.movements(city.con, D(2026, 4, 25), D(2026, 5, 7)))
    assert summed["moved_in_domestic"].sum() == 1 and summed["moved_out_domestic"].sum() == 1


def test_a_second_file_for_the_date_rewrites_its_balance_file(city, tmp_path):
    """A restated date (another file for Monday, a Sunday move-in) writes Monday's balance file again."""
    stats_uri = str(city.root / "stats")
    publish.write_statistics(city.con, "run-1", stats_uri)
    monday = city.root / "stats" / "2026-04-27" / "balance.csv"
    before = monday.read_bytes()
    (tmp_path / "again").mkdir()
    city.ingest(write_file(tmp_path / "again", "2026-04-27", [
        event("in6", "MOVE_IN", "2026-04-26", "2026-04-27", **foreigner(6, residence_card_no="AB00000006CD"),
              prev_address="東京都千代田区")]))
    assert publish.pending_dates(city.con, stats_uri) == [D(2026, 4, 27)]

    out = publish.write_statistics(city.con, "run-2", stats_uri)

    assert monday.read_bytes() != before and "2026-04-27/balance.parquet" in out.digests
    foreign = rows(pl.read_csv(monday, schema_overrides={"sex": pl.String}))[("foreign", "1")]
    assert (foreign["residents_before"], foreign["moved_in_domestic"], foreign["deaths"],
            foreign["residents_after"]) == (1, 1, 1, 1)


def test_an_empty_period_has_the_header_and_typed_columns(city, tmp_path):
    """A balance with no rows (nobody before or after, nothing moved) still has its columns; all-zero rows are
    left out."""
    frame = stats.balance(city.con, D(2019, 1, 1), D(2019, 1, 2))
    assert frame.height == 0 and frame.columns == COLUMNS
    assert frame.schema["period_from"] == pl.String and frame.schema["births"] == pl.Int64
    assert frame.schema == stats.balance(city.con, D(2026, 4, 25), D(2026, 4, 27)).schema


def chained(stats_root, days: list[str]) -> list[pl.DataFrame]:
    """The balance files of the dates, each checked to start where the one before ended as it was written."""
    files = [pl.read_parquet(stats_root / day / "balance.parquet") for day in days]
    for before, after in zip(files, files[1:]):
        ended = {k: v["residents_after"] for k, v in rows(before.select(
            "nationality_group", "sex", "residents_after")).items() if v["residents_after"]}
        started = {k: v["residents_before"] for k, v in rows(after.select(
            "nationality_group", "sex", "residents_before")).items() if v["residents_before"]}
        assert started == ended, (before["period_to"][0], after["period_to"][0])
    for frame in files:
        assert frame.filter(pl.col("residents_before") + pl.col("net_change") != pl.col("residents_after")).height == 0
    return files


def test_a_late_birth_is_counted_where_it_arrives_and_the_files_chain(city):
    """A birth on Sunday 26 April notified in Tuesday's file: Monday's files were written without it, so Tuesday's
    balance counts it (its period is Tuesday alone) and starts with the residents Monday's file ended with."""
    stats_uri = str(city.root / "stats")
    publish.write_statistics(city.con, "run-1", stats_uri)
    monday = (city.root / "stats" / "2026-04-27" / "balance.csv").read_bytes()
    city.ingest(write_file(city.inbox, "2026-04-28", [
        event("bir7", "BIRTH", "2026-04-26", "2026-04-28", **person(7, household_id="H2", relationship="子",
                                                                      birth_date="2026-04-26"))]))
    publish.write_statistics(city.con, "run-2", stats_uri)

    assert (city.root / "stats" / "2026-04-27" / "balance.csv").read_bytes() == monday  # not rewritten
    monday_file, tuesday = chained(city.root / "stats", ["2026-04-27", "2026-04-28"])
    japanese_men = rows(tuesday)[("japanese", "1")]
    assert (japanese_men["period_from"], japanese_men["period_to"]) == ("2026-04-28", "2026-04-28")
    assert (japanese_men["residents_before"], japanese_men["births"], japanese_men["natural_change"],
            japanese_men["residents_after"]) == (1, 1, 1, 2)
    assert stats.movements(city.con, D(2026, 4, 28), D(2026, 4, 28))["births"].sum() == 0  # not the day's own
    known = city.rows("select business_date, delivery_no from statistics_written order by business_date")
    assert known == [(D(2026, 4, 24), 2), (D(2026, 4, 27), 2), (D(2026, 4, 28), 3)]


def test_a_cancelled_counted_event_is_a_negative_count_and_the_files_chain(city):
    """Monday's file counted Saturday's birth; Tuesday's file cancels it: Tuesday's balance counts −1 birth."""
    stats_uri = str(city.root / "stats")
    publish.write_statistics(city.con, "run-1", stats_uri)
    city.ingest(write_file(city.inbox, "2026-04-28", [
        event("x4", "CANCEL", "2026-04-28", resident_code=R(4), cancels_event_id="bir4")]))
    publish.write_statistics(city.con, "run-2", stats_uri)

    _, tuesday = chained(city.root / "stats", ["2026-04-27", "2026-04-28"])
    japanese_men = rows(tuesday)[("japanese", "1")]
    assert (japanese_men["residents_before"], japanese_men["births"], japanese_men["additions"],
            japanese_men["net_change"], japanese_men["residents_after"]) == (1, -1, -1, -1, 0)


def test_a_catch_up_run_writes_files_that_chain(city):
    """Three files taken in one run (Tuesday's with a late move-out effective on Monday): every file starts where
    the one before ended, and the late move-out is counted once, in the first file written after it was known."""
    stats_uri = str(city.root / "stats")
    city.ingest(write_file(city.inbox, "2026-04-28", [
        event("in8", "MOVE_IN", "2026-04-28", **person(8), prev_address="東京都千代田区")]),
        write_file(city.inbox, "2026-04-30", [
            event("out2", "MOVE_OUT", "2026-04-27", "2026-04-30", resident_code=R(2), dest_address="東京都千代田区")]))
    publish.write_statistics(city.con, "run-1", stats_uri)

    files = chained(city.root / "stats", ["2026-04-27", "2026-04-28", "2026-04-30"])
    assert [f["moved_out_domestic"].sum() for f in files] == [1, 0, 0]  # known when Monday's files were written
    assert [f["moved_in_domestic"].sum() for f in files] == [0, 1, 0]


def test_a_store_without_the_knowledge_of_the_previous_date_keeps_the_first_definition(city):
    """A previous date written before statistics_written (no row): its residents as known now, the period's
    movements as known now."""
    stats_uri = str(city.root / "stats")
    publish.write_statistics(city.con, "run-1", stats_uri)
    city.con.execute("delete from statistics_written")
    city.ingest(write_file(city.inbox, "2026-04-28", [
        event("bir7", "BIRTH", "2026-04-26", "2026-04-28", **person(7, birth_date="2026-04-26"))]))
    publish.write_statistics(city.con, "run-2", stats_uri)

    tuesday = pl.read_parquet(city.root / "stats" / "2026-04-28" / "balance.parquet")
    assert tuesday.equals(stats.balance(city.con, D(2026, 4, 28), D(2026, 4, 28)))
    assert rows(tuesday)[("japanese", "1")]["births"] == 0


def test_a_file_for_a_closed_day_arriving_after_the_next_dates_files_writes_no_overlapping_balance(city):
    """A file dated Saturday 25 April taken after Monday's files were written (Monday's balance covers Sat..Mon):
    Saturday gets its population files but no balance file, which would count Saturday a second time; its move-in
    is counted once, in the next file written (Tuesday's), and the files chain."""
    stats_uri = str(city.root / "stats")
    publish.write_statistics(city.con, "run-1", stats_uri)
    city.ingest(write_file(city.inbox, "2026-04-25", [
        event("in9", "MOVE_IN", "2026-04-25", **person(9), prev_address="東京都千代田区")]))
    publish.write_statistics(city.con, "run-2", stats_uri)
    city.ingest(write_file(city.inbox, "2026-04-28", []))
    publish.write_statistics(city.con, "run-3", stats_uri)

    saturday = city.root / "stats" / "2026-04-25"
    assert (saturday / "population.parquet").exists() and not (saturday / "balance.parquet").exists()
    files = chained(city.root / "stats", ["2026-04-27", "2026-04-28"])
    assert [f["moved_in_domestic"].sum() for f in files] == [0, 1]


def test_a_late_closed_days_file_with_another_file_for_the_next_date_folds_into_its_period(city, tmp_path):
    """Saturday's file arrives after Monday's statistics, with another file for Monday: Monday's files are written
    again over Saturday..Monday (Saturday is no statistics date of its own), counting both move-ins once."""
    stats_uri = str(city.root / "stats")
    publish.write_statistics(city.con, "run-1", stats_uri)
    (tmp_path / "again").mkdir()
    city.ingest(write_file(city.inbox, "2026-04-25", [
        event("in9", "MOVE_IN", "2026-04-25", **person(9), prev_address="東京都千代田区")]),
        write_file(tmp_path / "again", "2026-04-27", [
            event("in6", "MOVE_IN", "2026-04-27", **person(6), prev_address="東京都千代田区")]))
    publish.write_statistics(city.con, "run-2", stats_uri)

    assert not (city.root / "stats" / "2026-04-25" / "balance.parquet").exists()
    monday = pl.read_parquet(city.root / "stats" / "2026-04-27" / "balance.parquet")
    assert monday["period_from"][0] == "2026-04-25" and monday["moved_in_domestic"].sum() == 2


def test_a_late_closed_days_file_then_another_file_for_the_next_date_in_a_later_run(city, tmp_path):
    """Saturday's file after Monday's statistics, then another file for Monday in a later run: Monday's period stays
    Saturday..Monday (Saturday is in no file otherwise), Saturday's move-in counted in it."""
    stats_uri = str(city.root / "stats")
    publish.write_statistics(city.con, "run-1", stats_uri)
    city.ingest(write_file(city.inbox, "2026-04-25", [
        event("in9", "MOVE_IN", "2026-04-25", **person(9), prev_address="東京都千代田区")]))
    publish.write_statistics(city.con, "run-2", stats_uri)
    (tmp_path / "again").mkdir()
    city.ingest(write_file(tmp_path / "again", "2026-04-27", [
        event("in6", "MOVE_IN", "2026-04-27", **person(6), prev_address="東京都千代田区")]))
    publish.write_statistics(city.con, "run-3", stats_uri)

    monday = pl.read_parquet(city.root / "stats" / "2026-04-27" / "balance.parquet")
    assert monday["period_from"][0] == "2026-04-25" and monday["moved_in_domestic"].sum() == 2
