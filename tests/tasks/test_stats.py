"""Population, household and movement statistics (tasks/stats.py) on small inline registers."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest

from tasks import stats
from tests.builders import event, foreigner, person, resident_code, write_file
from tests.conftest import Register

R = resident_code
BASELINE_DATE = "2026-04-01"
MOVEMENT_COLUMNS = ["nationality_group", "sex", "moved_in_domestic", "moved_in_abroad", "births",
                    "other_additions", "additions", "moved_out_domestic", "moved_out_abroad", "deaths",
                    "other_removals", "removals", "net_change", "natural_change", "social_change",
                    "moves_within"]
VALUES = MOVEMENT_COLUMNS[2:]


def day(value: str) -> dt.date:
    """An ISO date."""
    return dt.date.fromisoformat(value)


def base(record: dict, since: str = "2020-01-01") -> dict:
    """A BASELINE row of the 2026-04-01 file for a record, resident since `since`."""
    return event(f"base{int(record['resident_code'][:10])}", "BASELINE", since, BASELINE_DATE, **record)


def ingest_rows(register: Register, business_date: str, rows: list[dict]) -> None:
    """Write one day's file, ingest it and insist every row was applied."""
    (outcome,) = register.ingest(write_file(register.inbox, business_date, rows))
    assert (outcome.status, outcome.rows_quarantined) == ("applied", 0), register.quarantine()


def movement_rows(register: Register, d1: str, d2: str | None = None) -> list[dict]:
    """The movement table for d1..d2 (d1 alone by default) as dicts."""
    return stats.movements(register.con, day(d1), day(d2 or d1)).to_dicts()


def movement(group: str, sex: str, **values: int) -> dict:
    """One expected movement row: the given values, the rest zero, the derived columns computed."""
    row = {c: 0 for c in VALUES} | values
    row["additions"] = row["moved_in_domestic"] + row["moved_in_abroad"] + row["births"] + row["other_additions"]
    row["removals"] = (row["moved_out_domestic"] + row["moved_out_abroad"] + row["deaths"]
                       + row["other_removals"])
    row["net_change"] = row["additions"] - row["removals"]
    row["natural_change"] = row["births"] - row["deaths"]
    row["social_change"] = row["net_change"] - row["natural_change"]
    return {"nationality_group": group, "sex": sex, **row}


def population_rows(register: Register, as_of: str) -> list[tuple]:
    """The population table as (town_code, sex, age_group, nationality_group, residents) tuples, in order."""
    return stats.population(register.con, day(as_of)).rows()


def no_breaks(register: Register, d1: str, d2: str) -> bool:
    """True when the balance identity holds for d1..d2."""
    return stats.balance_breaks(register.con, day(d1), day(d2)).is_empty()


# --- population and households: one BASELINE file ---------------------------------------------

# (n, record, resident since); households H1 japanese, H6 mixed, H7 foreign, H11 without 世帯主,
# H15 mixed whose 世帯主 lives in another town than the member added earlier.
TOWN = [
    (1, person(1, household_id="H1", birth_date="1980-05-05"), "2020-01-01"),
    (2, person(2, household_id="H1", relationship="子", birth_date="2019-01-10"), "2020-01-01"),
    (3, person(3, household_id="H1", relationship="子", birth_date="2014-01-10"), "2020-01-01"),
    (4, person(4, birth_date="1926-04-02"), "2020-01-01"),
    (5, person(5, birth_date="1920-06-01"), "2020-01-01"),
    (6, person(6, sex="2", town_code="0002", birth_date="2004-02-29"), "2020-01-01"),
    (7, foreigner(7, sex="2", town_code="0002", birth_date="1990-01-01"), "2020-01-01"),
    (8, foreigner(8, household_id="H6", relationship="夫", town_code="0002", birth_date="1990-01-01",
                  residence_card_no="AB00000008CD"), "2020-01-01"),
    (9, foreigner(9, household_id="H7", relationship="子", town_code="0002", birth_date="2020-01-01",
                  residence_card_no="AB00000009CD"), "2020-01-01"),
    (11, person(11, household_id="H11", relationship="同居人", sex="2", town_code="0004",
                birth_date="1970-01-01"), "2015-01-01"),
    (12, person(12, household_id="H11", relationship="同居人", town_code="0003", birth_date="1970-01-01"),
     "2010-01-01"),
    (13, foreigner(13, household_id="H15", relationship="妻", sex="2", town_code="0006",
                   birth_date="1985-07-07", residence_card_no="AB00000013CD"), "2012-01-01"),
    (15, person(15, town_code="0005", birth_date="1985-07-07"), "2018-01-01"),
    (16, person(16, birth_date="1978-06-01"), "2020-01-01"),
    (17, foreigner(17, birth_date="1980-01-01", residence_card_no="AB00000017CD"), "2020-01-01"),
]


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    """A register holding only the TOWN baseline (read-only for its tests)."""
    reg = Register(tmp_path_factory.mktemp("town"))
    ingest_rows(reg, BASELINE_DATE, [base(record, since) for _, record, since in TOWN])
    yield reg
    reg.con.close()


def test_population_table_on_the_baseline_date(town):
    """Every key with residents, counted and sorted by town, sex, age order and nationality group."""
    assert population_rows(town, BASELINE_DATE) == [
        ("0001", "1", "5-9", "japanese", 1),
        ("0001", "1", "10-14", "japanese", 1),
        ("0001", "1", "45-49", "foreign", 1),
        ("0001", "1", "45-49", "japanese", 2),
        ("0001", "1", "95-99", "japanese", 1),
        ("0001", "1", "100+", "japanese", 1),
        ("0002", "1", "5-9", "foreign", 1),
        ("0002", "1", "35-39", "foreign", 1),
        ("0002", "2", "20-24", "japanese", 1),
        ("0002", "2", "35-39", "foreign", 1),
        ("0003", "1", "55-59", "japanese", 1),
        ("0004", "2", "55-59", "japanese", 1),
        ("0005", "1", "40-44", "japanese", 1),
        ("0006", "2", "40-44", "foreign", 1),
    ]


def test_population_columns_and_types(town):
    """The key columns and residents, codes as text (town_code keeps its leading zeros)."""
    frame = stats.population(town.con, day(BASELINE_DATE))
    assert frame.columns == ["town_code", "sex", "age_group", "nationality_group", "residents"]
    assert all(frame[c].dtype == pl.String for c in ("town_code", "sex", "age_group", "nationality_group"))
    assert frame.filter(pl.col("town_code") == "0001").height == 6
    assert frame["residents"].sum() == len(TOWN)


def test_age_groups_in_age_order_not_string_order(town):
    """Within one town and sex, 5-9 comes before 10-14 and 95-99 before 100+."""
    groups = [g for t, s, g, _, _ in population_rows(town, BASELINE_DATE) if (t, s) == ("0001", "1")]
    assert groups == ["5-9", "10-14", "45-49", "45-49", "95-99", "100+"]
    assert groups != sorted(groups)


def test_hundredth_birthday_moves_to_100_plus_and_empty_group_disappears(town):
    """Person 4 (born 1926-04-02) is 99 on 1 April and 100+ on 2 April; the emptied 95-99 row is left out."""
    before = {r[:4]: r[4] for r in population_rows(town, "2026-04-01")}
    after = {r[:4]: r[4] for r in population_rows(town, "2026-04-02")}
    assert before[("0001", "1", "95-99", "japanese")] == 1 and before[("0001", "1", "100+", "japanese")] == 1
    assert ("0001", "1", "95-99", "japanese") not in after
    assert after[("0001", "1", "100+", "japanese")] == 2
    assert all(count > 0 for count in after.values())


@pytest.mark.parametrize(("as_of", "group"), [
    ("2029-02-27", "20-24"),   # common year: 24 the day before 28 February
    ("2029-02-28", "25-29"),   # a 29 February birthday is reached on 28 February in common years
    ("2044-02-28", "35-39"),   # leap year: not yet on 28 February
    ("2044-02-29", "40-44"),   # reached on 29 February
])
def test_29_february_birthday(town, as_of, group):
    """Person 6, born 2004-02-29, changes age group on 28 February of a common year, 29 February of a leap year."""
    (row,) = [r for r in population_rows(town, as_of) if r[:2] == ("0002", "2") and r[3] == "japanese"]
    assert row == ("0002", "2", group, "japanese", 1)


def test_households_by_town_and_type(town):
    """japanese / foreign / mixed; town of the 世帯主, else of the member added earliest; members counted."""
    frame = stats.households(town.con, day(BASELINE_DATE))
    assert frame.columns == ["town_code", "household_type", "households", "members"]
    assert frame.rows() == [
        ("0001", "foreign", 1, 1),     # H17
        ("0001", "japanese", 4, 6),    # H1 (3 members), H4, H5, H16
        ("0002", "foreign", 1, 2),     # H7: a foreign 世帯主 and child
        ("0002", "mixed", 1, 2),       # H6: a Japanese 世帯主 and a foreign 夫
        ("0003", "japanese", 1, 2),    # H11: no 世帯主; person 12 (since 2010, town 0003) was added first
        ("0005", "mixed", 1, 2),       # H15: the 世帯主 lives in 0005, the earlier-added 妻 in 0006
    ]


# --- movements: one kind per effective day ----------------------------------------------------

MOVES_BASELINE = [
    (101, person(101)), (102, person(102, sex="2")), (103, foreigner(103, sex="2")), (104, person(104)),
    (105, person(105, sex="2")), (106, foreigner(106, residence_card_no="AB00000106CD")), (107, person(107)),
    (108, foreigner(108, sex="2", residence_card_no="AB00000108CD")), (109, person(109)),
]
# person 110 was added by the BASELINE on the baseline date itself: still not a movement
MOVES_LATE_BASE = person(110, sex="2")
MOVES_EVENTS = [
    event("in121", "MOVE_IN", "2026-04-02", **person(121), prev_address="東京都千代田区"),
    event("ret122", "RETURN_FROM_ABROAD", "2026-04-03", **person(122, sex="2"), prev_address="アメリカ合衆国"),
    event("bir123", "BIRTH", "2026-04-06", **person(123, birth_date="2026-04-06", household_id="H101",
                                                       relationship="子")),
    event("ent124", "ENTRY_BY_AUTHORITY", "2026-04-07", **foreigner(124, residence_card_no="AB00000124CD")),
    event("out101", "MOVE_OUT", "2026-04-08", resident_code=R(101), dest_address="東京都千代田区"),
    event("abr102", "MOVE_ABROAD", "2026-04-09", resident_code=R(102), dest_address="フランス"),
    event("dth103", "DEATH", "2026-04-10", resident_code=R(103)),
    event("rem104", "REMOVAL_BY_AUTHORITY", "2026-04-13", resident_code=R(104)),
    event("mov105", "MOVE_WITHIN", "2026-04-14", resident_code=R(105), town_code="0002", address_line="9-9"),
    event("nat106", "NATIONALITY_CHANGE", "2026-04-15", resident_code=R(106), nationality="JP",
          honseki="埼玉県川口市本町一丁目1番地", hittousha="王　偉"),
    event("cor107", "CORRECTION_BY_AUTHORITY", "2026-04-16", resident_code=R(107), sex="2"),
    # changes that move nobody to another key
    event("sta108", "STATUS_CHANGE", "2026-04-17", resident_code=R(108), foreign_resident_category="MID_LONG",
          residence_status="技術・人文知識・国際業務", residence_card_no="ZZ00000108ZZ", stay_expiry_date="2029-03-31"),
    event("nam108", "NAME_CHANGE", "2026-04-17", resident_code=R(108), family_name="LI", given_name="NA",
          family_name_kana="リ", given_name_kana="ナ"),
    event("hh109", "HOUSEHOLD_CHANGE", "2026-04-17", resident_code=R(109), household_id="H101",
          relationship="同居人"),
    event("sup109", "SUPPORT_MEASURE", "2026-04-17", resident_code=R(109), support_measure="1"),
    event("cor109", "CORRECTION_BY_AUTHORITY", "2026-04-17", resident_code=R(109), birth_date="1981-05-05"),
]


@pytest.fixture(scope="module")
def moves(tmp_path_factory):
    """A baseline of ten and one file (business date 2026-04-20) with one kind of movement per effective day."""
    reg = Register(tmp_path_factory.mktemp("moves"))
    ingest_rows(reg, BASELINE_DATE, [base(r) for _, r in MOVES_BASELINE] + [base(MOVES_LATE_BASE, BASELINE_DATE)])
    ingest_rows(reg, "2026-04-20", MOVES_EVENTS)
    yield reg
    reg.con.close()


@pytest.mark.parametrize(("d", "expected"), [
    ("2026-04-02", [movement("japanese", "1", moved_in_domestic=1)]),
    ("2026-04-03", [movement("japanese", "2", moved_in_abroad=1)]),
    ("2026-04-06", [movement("japanese", "1", births=1)]),
    ("2026-04-07", [movement("foreign", "1", other_additions=1)]),
    ("2026-04-08", [movement("japanese", "1", moved_out_domestic=1)]),
    ("2026-04-09", [movement("japanese", "2", moved_out_abroad=1)]),
    ("2026-04-10", [movement("foreign", "2", deaths=1)]),
    ("2026-04-13", [movement("japanese", "1", other_removals=1)]),
    ("2026-04-14", [movement("japanese", "2", moves_within=1)]),
    # naturalisation: out of foreign, into japanese
    ("2026-04-15", [movement("foreign", "1", other_removals=1), movement("japanese", "1", other_additions=1)]),
    # corrected sex: out of japanese/1, into japanese/2
    ("2026-04-16", [movement("japanese", "1", other_removals=1), movement("japanese", "2", other_additions=1)]),
    ("2026-04-17", []),
], ids=["MOVE_IN", "RETURN_FROM_ABROAD", "BIRTH", "ENTRY_BY_AUTHORITY", "MOVE_OUT", "MOVE_ABROAD", "DEATH",
        "REMOVAL_BY_AUTHORITY", "MOVE_WITHIN", "NATIONALITY_CHANGE", "CORRECTION_sex", "no_key_change"])
def test_each_kind_of_movement(moves, d, expected):
    """Each event type lands in its column, keyed by the record after (additions) or before (removals)."""
    assert movement_rows(moves, d) == expected


def test_baseline_is_not_a_movement(moves):
    """BASELINE rows, even one effective on the baseline date, count in no column."""
    assert movement_rows(moves, BASELINE_DATE) == []
    assert movement_rows(moves, "2000-01-01", BASELINE_DATE) == []
    assert ("0001", "2", "45-49", "japanese", 3) in population_rows(moves, BASELINE_DATE)


def test_movement_columns_in_the_spec_order(moves):
    """The key columns then the 14 values, in the order of the spec's table."""
    assert stats.movements(moves.con, day("2026-04-02"), day("2026-04-17")).columns == MOVEMENT_COLUMNS


def test_period_totals_and_arithmetic(moves):
    """Over 2026-04-02..17: each key's totals, and additions/removals/net/natural/social from the columns."""
    rows = movement_rows(moves, "2026-04-02", "2026-04-17")
    assert rows == [
        movement("foreign", "1", other_additions=1, other_removals=1),
        movement("foreign", "2", deaths=1),
        movement("japanese", "1", moved_in_domestic=1, births=1, other_additions=1, moved_out_domestic=1,
                 other_removals=2),
        movement("japanese", "2", moved_in_abroad=1, other_additions=1, moved_out_abroad=1, moves_within=1),
    ]
    for r in rows:
        assert r["additions"] == r["moved_in_domestic"] + r["moved_in_abroad"] + r["births"] + r["other_additions"]
        assert r["removals"] == r["moved_out_domestic"] + r["moved_out_abroad"] + r["deaths"] + r["other_removals"]
        assert r["net_change"] == r["additions"] - r["removals"]
        assert r["natural_change"] == r["births"] - r["deaths"]
        assert r["social_change"] == (r["moved_in_domestic"] + r["moved_in_abroad"] + r["other_additions"]
                                      - r["moved_out_domestic"] - r["moved_out_abroad"] - r["other_removals"])
    assert [(r["nationality_group"], r["sex"], r["social_change"]) for r in rows] == [
        ("foreign", "1", 0), ("foreign", "2", 0), ("japanese", "1", -1), ("japanese", "2", 1)]


def test_movements_sum_over_days(moves):
    """The period's table is the sum of its days' tables."""
    totals: dict[tuple, dict] = {}
    for n in range(2, 18):
        for r in movement_rows(moves, f"2026-04-{n:02d}"):
            key = (r["nationality_group"], r["sex"])
            totals[key] = {c: totals.get(key, {}).get(c, 0) + r[c] for c in VALUES}
    period = {(r["nationality_group"], r["sex"]): {c: r[c] for c in VALUES}
              for r in movement_rows(moves, "2026-04-02", "2026-04-17")}
    assert totals == period


def test_balance_identity_over_inline_days(moves):
    """residents(D2) − residents(D1 − 1) = net_change in every key, for each day and over ranges."""
    days = [f"2026-04-{n:02d}" for n in range(2, 21)]
    assert [d for d in days if not no_breaks(moves, d, d)] == []
    assert no_breaks(moves, "2026-04-02", "2026-04-20")
    assert no_breaks(moves, "2026-04-06", "2026-04-15")
    before = {(g, s): n for g, s, n in stats.population(moves.con, day(BASELINE_DATE))
              .group_by("nationality_group", "sex").agg(n=pl.col("residents").sum()).rows()}
    assert before == {("japanese", "1"): 4, ("japanese", "2"): 3, ("foreign", "1"): 1, ("foreign", "2"): 2}


def test_balance_breaks_reports_a_baseline_addition(moves):
    """On the baseline date itself the BASELINE addition of person 110 is no movement: the check names the key."""
    breaks = stats.balance_breaks(moves.con, day(BASELINE_DATE), day(BASELINE_DATE)).to_dicts()
    assert breaks == [{"nationality_group": "japanese", "sex": "2", "residents_before": 2, "residents_after": 3,
                       "net_change": 0, "change_in_residents": 1}]


def test_removed_residents_leave_their_households(moves):
    """After the move-out of 101 and the death of 103, households count only the residents left."""
    frame = stats.households(moves.con, day("2026-04-20"))
    assert frame["members"].sum() == 10
    assert stats.households(moves.con, day(BASELINE_DATE))["members"].sum() == 10
    # H101: person 101 moved out; 123 (born into it) and 109 (joined it) remain, with no 世帯主
    assert frame.rows() == [("0001", "foreign", 2, 2), ("0001", "japanese", 6, 7), ("0002", "japanese", 1, 1)]


# --- a register changed after the fact --------------------------------------------------------

SMALL = [person(1), person(2, sex="2"), foreigner(3)]


@pytest.fixture(scope="module")
def small_snapshot(tmp_path_factory) -> Path:
    """A closed store with the SMALL baseline (three residents)."""
    root = tmp_path_factory.mktemp("small")
    reg = Register(root)
    try:
        ingest_rows(reg, BASELINE_DATE, [base(r) for r in SMALL])
    finally:
        reg.con.close()
    return root


@pytest.fixture
def small(small_snapshot: Path, tmp_path: Path):
    """A fresh copy of the SMALL register."""
    for path in small_snapshot.glob("registry.duckdb*"):
        shutil.copy(path, tmp_path / path.name)
    shutil.copytree(small_snapshot / "archive", tmp_path / "archive")
    reg = Register(tmp_path)
    yield reg
    reg.con.close()


def residents(register: Register, as_of: str) -> int:
    """The number of residents at the end of a day."""
    return int(stats.population(register.con, day(as_of))["residents"].sum())


def test_late_death_restates_a_counted_period(small):
    """A DEATH notified on 04-10, effective 04-03, changes the movements and residents of days already counted."""
    ingest_rows(small, "2026-04-05", [event("s1", "SUPPORT_MEASURE", "2026-04-05", resident_code=R(1),
                                            support_measure="1")])
    assert movement_rows(small, "2026-04-03") == []
    assert [residents(small, d) for d in ("2026-04-02", "2026-04-03", "2026-04-05")] == [3, 3, 3]
    (published,) = small.rows("select max(received_at) from file_ledger")[0]
    ingest_rows(small, "2026-04-10", [event("x2", "DEATH", "2026-04-03", "2026-04-10", resident_code=R(2))])
    assert movement_rows(small, "2026-04-03") == [movement("japanese", "2", deaths=1)]
    assert movement_rows(small, "2026-04-01", "2026-04-09") == [movement("japanese", "2", deaths=1)]
    assert movement_rows(small, "2026-04-10") == []
    assert [residents(small, d) for d in ("2026-04-02", "2026-04-03", "2026-04-05")] == [3, 2, 2]
    assert no_breaks(small, "2026-04-03", "2026-04-03") and no_breaks(small, "2026-04-02", "2026-04-10")
    # as the register knew it when the period was first counted, nothing changed
    assert stats.movements(small.con, day("2026-04-03"), day("2026-04-03"), published).is_empty()
    assert stats.population(small.con, day("2026-04-05"), published)["residents"].sum() == 3


def test_cancelled_move_out_disappears_from_its_period(small):
    """A MOVE_OUT counted on 04-02 and cancelled on 04-06: the 04-02 movements are restated without it."""
    ingest_rows(small, "2026-04-02", [event("o1", "MOVE_OUT", "2026-04-02", resident_code=R(1),
                                            dest_address="東京都千代田区")])
    assert movement_rows(small, "2026-04-02") == [movement("japanese", "1", moved_out_domestic=1)]
    assert residents(small, "2026-04-03") == 2
    ingest_rows(small, "2026-04-06", [event("c1", "CANCEL", "2026-04-06", resident_code=R(1),
                                            cancels_event_id="o1")])
    assert movement_rows(small, "2026-04-02") == []
    assert movement_rows(small, "2026-04-01", "2026-04-30") == []
    assert residents(small, "2026-04-03") == 3
    assert no_breaks(small, "2026-04-02", "2026-04-02") and no_breaks(small, "2026-04-02", "2026-04-06")


def test_planned_move_out_counts_on_its_date(small):
    """A MOVE_OUT notified 04-02 for 04-10: a resident through 04-09, counted on 04-10 only."""
    ingest_rows(small, "2026-04-02", [event("o3", "MOVE_OUT", "2026-04-10", "2026-04-02", resident_code=R(3),
                                            dest_address="東京都千代田区")])
    assert residents(small, "2026-04-09") == 3 and residents(small, "2026-04-10") == 2
    assert ("0001", "1", "45-49", "foreign", 1) in population_rows(small, "2026-04-09")
    assert movement_rows(small, "2026-04-02", "2026-04-09") == []
    assert movement_rows(small, "2026-04-10") == [movement("foreign", "1", moved_out_domestic=1)]
    assert no_breaks(small, "2026-04-10", "2026-04-10") and no_breaks(small, "2026-04-02", "2026-04-15")


def test_naturalisation_and_death_on_one_day(small):
    """A naturalisation then a death the same day: out of foreign, into japanese, a japanese death."""
    ingest_rows(small, "2026-04-02", [
        event("n3", "NATIONALITY_CHANGE", "2026-04-02", resident_code=R(3), nationality="JP",
              honseki="埼玉県川口市本町一丁目1番地", hittousha="王　偉"),
        event("d3", "DEATH", "2026-04-02", resident_code=R(3)),
    ])
    assert movement_rows(small, "2026-04-02") == [movement("foreign", "1", other_removals=1),
                                                  movement("japanese", "1", other_additions=1, deaths=1)]
    assert no_breaks(small, "2026-04-02", "2026-04-02")


def test_move_out_and_return_in_one_period(small):
    """A move-out and a later move-in of the same person are both counted; the balance still holds."""
    ingest_rows(small, "2026-04-02", [event("o1", "MOVE_OUT", "2026-04-02", resident_code=R(1),
                                            dest_address="東京都千代田区")])
    ingest_rows(small, "2026-04-06", [event("i1", "MOVE_IN", "2026-04-06", **person(1, address_line="5-5"),
                                            prev_address="東京都千代田区")])
    assert movement_rows(small, "2026-04-02", "2026-04-06") == [
        movement("japanese", "1", moved_in_domestic=1, moved_out_domestic=1)]
    assert [residents(small, d) for d in ("2026-04-01", "2026-04-03", "2026-04-06")] == [3, 2, 3]
    assert no_breaks(small, "2026-04-02", "2026-04-06") and no_breaks(small, "2026-04-03", "2026-04-05")
