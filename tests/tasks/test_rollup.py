"""The national roll-up's pure functions on tiny inline frames: sum, chain, identity, missing cities, wards."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from tasks import rollup as r

D = dt.date(2026, 4, 6)  # a Monday: its period starts on Saturday 4 April
FRI = dt.date(2026, 4, 3)


@dataclass(frozen=True)
class Muni:
    municipality_code: str
    prefecture_code: str
    prefecture: str
    name: str
    kind: str
    parent_code: str = ""
    population: int = 0
    households: int | None = None
    towns: int | None = None


REFERENCE = [
    Muni("111007", "11", "埼玉県", "さいたま市", "designated_city"),
    Muni("111015", "11", "埼玉県", "さいたま市西区", "ward", "111007"),
    Muni("111023", "11", "埼玉県", "さいたま市北区", "ward", "111007"),
    Muni("112038", "11", "埼玉県", "川口市", "city"),
    Muni("131016", "13", "東京都", "千代田区", "special_ward"),
]
PREFECTURES = {"11": ("110001", "埼玉県"), "13": ("130001", "東京都")}


def balance(period_from: dt.date, period_to: dt.date, rows: list[tuple]) -> pl.DataFrame:
    """A balance file: rows (group, sex, before, births, deaths, moved_in, moved_out[, sex_only]) with its sums."""
    out = []
    for group, sex, before, births, deaths, moved_in, moved_out, *rest in rows:
        net = births + moved_in - deaths - moved_out
        out.append({"nationality_group": group, "sex": sex, "period_from": period_from.isoformat(),
                    "period_to": period_to.isoformat(), "residents_before": before,
                    "moved_in_domestic": moved_in, "moved_in_abroad": 0, "births": births, "other_additions": 0,
                    "additions": births + moved_in, "moved_out_domestic": moved_out, "moved_out_abroad": 0,
                    "deaths": deaths, "other_removals": 0, "removals": deaths + moved_out, "net_change": net,
                    "natural_change": births - deaths, "social_change": moved_in - moved_out, "moves_within": 0,
                    "sex_only_changes": rest[0] if rest else 0, "residents_after": before + net})
    return pl.DataFrame(out).select(r.BALANCE_COLUMNS)


def population(rows: list[tuple]) -> pl.DataFrame:
    """(town, sex, age_group, group, residents) rows."""
    return pl.DataFrame(rows, schema=["town_code", "sex", "age_group", "nationality_group", "residents"],
                        orient="row")


def households(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["town_code", "household_type", "households", "members"], orient="row")


def write_city(root: Path, day: dt.date, pop: pl.DataFrame | None, hh: pl.DataFrame | None,
               bal: pl.DataFrame | None) -> None:
    folder = root / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in (("population", pop), ("households", hh), ("balance", bal)):
        if frame is not None:
            frame.write_parquet(folder / f"{name}.parquet")


# 川口市: 3 men and 2 women, Japanese; one birth and one move-out among the men over Sat..Mon
KAWAGUCHI_POP = population([("0001", "1", "0-4", "japanese", 1), ("0001", "1", "30-34", "japanese", 2),
                            ("0002", "2", "30-34", "japanese", 2)])
KAWAGUCHI_HH = households([("0001", "japanese", 2, 3), ("0002", "japanese", 1, 2)])
KAWAGUCHI_BAL = balance(dt.date(2026, 4, 4), D, [("japanese", "1", 3, 1, 0, 0, 1), ("japanese", "2", 2, 0, 0, 0, 0)])
# 千代田区: 1 foreign woman, who moved in
CHIYODA_POP = population([("0001", "2", "20-24", "foreign", 1)])
CHIYODA_HH = households([("0001", "foreign", 1, 1)])
CHIYODA_BAL = balance(dt.date(2026, 4, 4), D, [("foreign", "2", 0, 0, 0, 1, 0)])


@pytest.fixture
def two_cities(tmp_path):
    """川口市 and 千代田区 with good files for D; the cities list of both."""
    write_city(tmp_path / "kawaguchi", D, KAWAGUCHI_POP, KAWAGUCHI_HH, KAWAGUCHI_BAL)
    write_city(tmp_path / "chiyoda", D, CHIYODA_POP, CHIYODA_HH, CHIYODA_BAL)
    return [r.CityFiles("kawaguchi", "112038", str(tmp_path / "kawaguchi")),
            r.CityFiles("chiyoda", "131016", str(tmp_path / "chiyoda"))]


def roll(cities, expect="listed", date_from=None) -> r.Tables:
    expected = r.expected_codes(REFERENCE, cities, expect)
    results = r.read_cities(cities, D, date_from, r.ward_names(REFERENCE))
    return r.lay_out(REFERENCE, PREFECTURES, expected, results, D)


def rows_of(tables: r.Tables, code: str, label: str = "総計") -> dict:
    return next(x for x in tables.movements.iter_rows(named=True) if x["団体コード"] == code and x["区分"] == label)


def test_the_nation_is_the_sum_of_the_cities(two_cities):
    """Nation, each prefecture and each municipality; the nation's row is the sum of the two cities' rows."""
    t = roll(two_cities)
    assert [(x["団体コード"], x["都道府県名"], x["市区町村名"]) for x in t.movements.iter_rows(named=True)
            if x["区分"] == "総計"] == [("000000", "全国", ""), ("110001", "埼玉県", ""), ("112038", "埼玉県", "川口市"),
                                       ("130001", "東京都", ""), ("131016", "東京都", "千代田区")]
    kawaguchi, chiyoda, nation = rows_of(t, "112038"), rows_of(t, "131016"), rows_of(t, "000000")
    assert (kawaguchi["男"], kawaguchi["女"], kawaguchi["計"], kawaguchi["世帯数"]) == (3, 2, 5, 3)
    assert (kawaguchi["出生者数"], kawaguchi["転出者数（国内）"], kawaguchi["増減数"]) == (1, 1, 0)
    assert (chiyoda["計"], chiyoda["転入者数（国内）"], chiyoda["外国人のみの世帯"]) == (1, 1, 1)
    figures = [c for c, dtype in t.movements.schema.items() if dtype.is_numeric()]
    for column in figures:
        assert nation[column] == pytest.approx(kawaguchi[column] + chiyoda[column]) or "率" in column
    assert nation["増減率（％）"] == pytest.approx(round(1 / 5 * 100, 3))  # of the 5 at the start, one more
    assert rows_of(t, "110001")["計"] == 5 and rows_of(t, "130001")["計"] == 1
    assert set(t.movements[r.STATUS_COLUMN]) == {"完了"} and not t.missing and not t.failing
    assert list(t.movements.columns)[-1] == r.STATUS_COLUMN
    ages = {(x["団体コード"], x["区分"], x["性別"]): x for x in t.ages.iter_rows(named=True)}
    assert ages[("000000", "総計", "計")]["総数"] == 6 and ages[("000000", "総計", "男")]["0～4歳"] == 1
    assert t.status["status"].to_list() == ["reported", "reported"]
    assert t.status["period_from"].to_list() == ["2026-04-04"] * 2


def test_the_tables_keep_stats_report_labels(two_cities):
    """The same columns as `juki stats report`, and 集計状況 last."""
    from tasks.stats_report import age_rows, movement_rows

    t = roll(two_cities)
    empty = r._NO_POPULATION
    assert t.movements.columns == [*movement_rows(r.NATION, empty, r._NO_HOUSEHOLDS, r._NO_MOVEMENTS,
                                                  {}, {})[0], r.STATUS_COLUMN]
    assert t.ages.columns == [*age_rows(r.NATION, empty)[0], r.STATUS_COLUMN]


def test_a_missing_city_is_named_and_its_rows_are_empty(two_cities, tmp_path):
    """A city without files for D: missing; its rows have no figures; every row above it says 不完全."""
    saitama = r.CityFiles("saitama", "111007", str(tmp_path / "saitama"))
    t = roll([*two_cities, saitama])
    assert t.missing == ["111007"] and not t.failing
    row = rows_of(t, "111007")
    assert row["計"] is None and row[r.STATUS_COLUMN] == "不完全（未報告1・不整合0）"
    assert rows_of(t, "000000")[r.STATUS_COLUMN] == "不完全（未報告1・不整合0）"
    assert rows_of(t, "110001")[r.STATUS_COLUMN] == "不完全（未報告1・不整合0）"
    assert rows_of(t, "130001")[r.STATUS_COLUMN] == "完了"
    assert rows_of(t, "000000")["計"] == 6  # the two that reported, and said to be short
    status = {x["団体コード"]: x for x in t.status.iter_rows(named=True)}
    assert status["111007"]["status"] == "missing" and "population.parquet" in status["111007"]["reason"]


def test_expect_nation_names_the_municipalities_not_listed(two_cities):
    """--expect nation: every non-ward municipality of the reference must report; 区 are not expected alone."""
    t = roll(two_cities, expect="nation")
    assert t.missing == ["111007"]
    assert {x["団体コード"]: x["reason"] for x in t.status.iter_rows(named=True)}["111007"] == "not in the cities file"
    assert "111015" not in set(t.status["団体コード"])


def test_an_identity_failure_fails_the_city_and_its_figures_are_left_out(two_cities, tmp_path):
    """A balance row whose before + net ≠ after: failing, named, not added."""
    bad = KAWAGUCHI_BAL.with_columns(residents_after=pl.col("residents_after") + 1)
    write_city(tmp_path / "kawaguchi", D, KAWAGUCHI_POP, KAWAGUCHI_HH, bad)
    t = roll(two_cities)
    assert t.failing == ["112038"] and not t.missing
    assert rows_of(t, "000000")["計"] == 1 and rows_of(t, "112038")["計"] is None
    assert rows_of(t, "000000")[r.STATUS_COLUMN] == "不完全（未報告0・不整合1）"
    reason = t.status.filter(pl.col("団体コード") == "112038")["reason"][0]
    assert "before + net_change ≠ after" in reason and "(japanese, sex 1)" in reason


def test_the_population_file_must_agree_with_the_balance(two_cities, tmp_path):
    """D's residents_after by key = population.parquet's residents by key."""
    more = pl.concat([KAWAGUCHI_POP, population([("0002", "2", "40-44", "japanese", 1)])])
    write_city(tmp_path / "kawaguchi", D, more, KAWAGUCHI_HH, KAWAGUCHI_BAL)
    t = roll(two_cities)
    reason = t.status.filter(pl.col("団体コード") == "112038")["reason"][0]
    assert t.failing == ["112038"] and "population.parquet residents 3" in reason and "(japanese, sex 2)" in reason


def test_storage_that_cannot_be_reached_is_missing_not_a_crash(two_cities):
    """A stats URI whose protocol is unknown: that city is missing, named with the reason; the others are read."""
    t = roll([two_cities[0], r.CityFiles("chiyoda", "131016", "nosuchprotocol://bucket/stats")])
    assert t.missing == ["131016"] and rows_of(t, "000000")["計"] == 5
    reason = t.status.filter(pl.col("団体コード") == "131016")["reason"][0]
    assert reason.startswith("cannot reach nosuchprotocol://bucket/stats (")


def test_an_unreadable_file_fails_the_city_naming_the_file(two_cities, tmp_path):
    (tmp_path / "kawaguchi" / D.isoformat() / "households.parquet").write_bytes(b"not parquet")
    t = roll(two_cities)
    assert t.failing == ["112038"]
    assert t.status.filter(pl.col("団体コード") == "112038")["reason"][0].startswith("cannot read households.parquet")


# --- periods -------------------------------------------------------------------------------------------------

def fri_balance(after_men: int = 3) -> pl.DataFrame:
    """Friday's file (Fri only): 3 men before a death and a move-in, 2 women."""
    return balance(FRI, FRI, [("japanese", "1", after_men, 0, 1, 1, 0), ("japanese", "2", 2, 0, 0, 0, 0)])


def test_a_period_sums_the_chained_files(two_cities, tmp_path):
    """--from Friday: Friday's and Monday's files chain; before from Friday's, movements summed."""
    write_city(tmp_path / "kawaguchi", FRI, None, None, fri_balance())
    t = roll(two_cities[:1], date_from=FRI)
    assert not t.failing, t.status
    row = rows_of(t, "112038")
    assert (row["出生者数"], row["死亡者数"], row["転入者数（国内）"], row["転出者数（国内）"], row["増減数"]) == (1, 1, 1, 1, 0)
    assert t.status["period_from"].to_list() == ["2026-04-03"]


def test_a_boundary_inside_a_files_period_widens_the_period(two_cities):
    """--from Sunday: Monday's file covers Saturday..Monday; the period is widened to Saturday, and said."""
    t = roll(two_cities[:1], date_from=dt.date(2026, 4, 5))
    assert not t.failing and t.status["period_from"].to_list() == ["2026-04-04"]


def test_a_chain_break_fails_the_city(two_cities, tmp_path):
    """Friday's residents_after ≠ Monday's residents_before (Friday rewritten after Monday): failing, named."""
    write_city(tmp_path / "kawaguchi", FRI, None, None, fri_balance(after_men=4))
    t = roll(two_cities[:1], date_from=FRI)
    reason = t.status["reason"][0]
    assert t.failing == ["112038"]
    assert reason.startswith("1 chain break(s) in the files of 2026-04-06 (an earlier date was rewritten")
    assert "the 2026-04-06 file's residents_before (japanese, sex 1) 3 ≠ the 2026-04-03 file's residents_after 4" \
        in reason and "Σ net_change" not in reason


def test_a_gap_and_a_late_start_fail_the_city(two_cities, tmp_path):
    """A date's balance file absent: the period it covered is in none, named."""
    write_city(tmp_path / "kawaguchi", dt.date(2026, 4, 2), None, None,
               balance(dt.date(2026, 4, 2), dt.date(2026, 4, 2), [("japanese", "1", 3, 0, 0, 0, 0),
                                                                 ("japanese", "2", 2, 0, 0, 0, 0)]))
    t = roll(two_cities[:1], date_from=dt.date(2026, 4, 1))
    reason = t.status["reason"][0]
    assert "the balance files start on 2026-04-02, after 2026-04-01" in reason
    assert "gap: 2026-04-03..2026-04-03 is in none of them" in reason


def test_sex_only_changes_are_netted_out_of_other(tmp_path):
    """A change of sex alone: その他（記載）/（消除） of the table summed over sex do not count it."""
    bal = balance(dt.date(2026, 4, 4), D, [("japanese", "1", 1, 0, 0, 0, 0), ("japanese", "2", 1, 0, 0, 0, 0, 1)])
    bal = bal.with_columns(  # one man became a woman: out of (japanese, 1), into (japanese, 2)
        other_removals=pl.when(pl.col("sex") == "1").then(1).otherwise(0),
        other_additions=pl.when(pl.col("sex") == "2").then(1).otherwise(0)).with_columns(
        additions=pl.col("other_additions"), removals=pl.col("other_removals"),
        net_change=pl.col("other_additions") - pl.col("other_removals"),
        social_change=pl.col("other_additions") - pl.col("other_removals")).with_columns(
        residents_after=pl.col("residents_before") + pl.col("net_change"))
    write_city(tmp_path / "c", D, population([("0001", "2", "30-34", "japanese", 2)]),
               households([("0001", "japanese", 1, 2)]), bal)
    t = roll([r.CityFiles("c", "112038", str(tmp_path / "c"))])
    row = rows_of(t, "112038")
    assert not t.failing, t.status
    assert (row["その他（記載）"], row["その他（消除）"], row["増減数"], row["計"]) == (0, 0, 0, 2)


# --- wards ---------------------------------------------------------------------------------------------------

def saitama(tmp_path, wards: str) -> r.CityFiles:
    pop = population([("0001", "1", "30-34", "japanese", 2), ("0002", "2", "30-34", "foreign", 1),
                      ("0003", "2", "60-64", "japanese", 1)])
    hh = households([("0001", "japanese", 1, 2), ("0002", "foreign", 1, 1), ("0003", "japanese", 1, 1)])
    bal = balance(dt.date(2026, 4, 4), D, [("japanese", "1", 2, 0, 0, 0, 0), ("japanese", "2", 1, 0, 0, 0, 0),
                                           ("foreign", "2", 1, 0, 0, 0, 0)])
    write_city(tmp_path / "saitama", D, pop, hh, bal)
    (tmp_path / "saitama" / "wards.csv").write_text(wards, encoding="utf-8")
    return r.CityFiles("saitama", "111007", str(tmp_path / "saitama"), str(tmp_path / "saitama" / "wards.csv"))


def test_wards_rows_and_the_city_is_their_sum(tmp_path):
    """Each 区 by its towns; the city's row is the sum of its wards; the wards' movements are left empty."""
    city = saitama(tmp_path, "town_code,ward_code\n0001,111015\n0002,111023\n0003,111023\n")
    t = roll([city])
    assert not t.failing, t.status
    codes = [x["団体コード"] for x in t.movements.iter_rows(named=True) if x["区分"] == "総計"]
    assert codes == ["000000", "110001", "111007", "111015", "111023"]
    west, north, whole = rows_of(t, "111015"), rows_of(t, "111023"), rows_of(t, "111007")
    assert (west["計"], north["計"], whole["計"]) == (2, 2, 4)
    assert (west["世帯数"], north["世帯数"], whole["世帯数"]) == (1, 2, 3)
    assert west["市区町村名"] == "さいたま市西区" and west["増減数"] is None and whole["増減数"] == 0
    assert rows_of(t, "111023", "外国人住民")["計"] == 1


def test_a_town_in_no_ward_fails_the_city(tmp_path):
    t = roll([saitama(tmp_path, "town_code,ward_code\n0001,111015\n0002,111023\n")])
    assert t.failing == ["111007"] and "town(s) 0003 in no ward" in t.status["reason"][0]


def test_a_ward_not_of_the_city_fails_it(tmp_path):
    t = roll([saitama(tmp_path, "town_code,ward_code\n0001,111015\n0002,111023\n0003,131016\n")])
    assert t.failing == ["111007"] and "131016, not a 区 of 111007" in t.status["reason"][0]


# --- the cities file and the files ---------------------------------------------------------------------------

def test_load_cities_resolves_paths_beside_the_file(tmp_path):
    (tmp_path / "cities.yaml").write_text(
        "cities:\n"
        "  - {name: kawaguchi, municipality_code: '112038', store: kawaguchi/registry.duckdb}\n"
        "  - {name: saitama, municipality_code: '111007', stats: memory://s/stats, wards: saitama/wards.csv}\n",
        encoding="utf-8")
    cities = r.load_cities(tmp_path / "cities.yaml")
    assert cities == [r.CityFiles("kawaguchi", "112038", str(tmp_path / "kawaguchi" / "stats")),
                      r.CityFiles("saitama", "111007", "memory://s/stats", str(tmp_path / "saitama" / "wards.csv"))]


@pytest.mark.parametrize("text, says", [
    ("cities: []\n", "expected `cities:`"),
    ("cities:\n  - {name: a, municipality_code: '11203', store: a}\n", "must be 6 digits"),
    ("cities:\n  - {name: a, municipality_code: '112038', store: a}\n"
     "  - {name: b, municipality_code: '112038', store: b}\n", "listed twice"),
    ("cities:\n  - {name: a, municipality_code: '112038'}\n", "neither `stats` nor `store`"),
    ("cities: [\n", "is not YAML"),
])
def test_a_bad_cities_file_is_named(tmp_path, text, says):
    (tmp_path / "cities.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(r.CitiesFileError, match="cities.yaml") as exc:
        r.load_cities(tmp_path / "cities.yaml")
    assert says in str(exc.value)


def test_a_city_not_in_the_reference_list_or_a_ward_is_refused():
    with pytest.raises(r.CitiesFileError, match="999999 is not in the reference list"):
        r.expected_codes(REFERENCE, [r.CityFiles("x", "999999", "memory://x")], "listed")
    with pytest.raises(r.CitiesFileError, match="111015 is a 区"):
        r.expected_codes(REFERENCE, [r.CityFiles("x", "111015", "memory://x")], "listed")


def test_files_through_fsspec_memory_and_outputs(tmp_path):
    """Statistics on object storage (memory://); the outputs with a BOM and the pyramid PNG."""
    import fsspec

    from tasks.stats_files import pyramid_png

    fs = fsspec.filesystem("memory")
    for name, frame in (("population", CHIYODA_POP), ("households", CHIYODA_HH), ("balance", CHIYODA_BAL)):
        with fs.open(f"/rollup-test/stats/{D}/{name}.parquet", "wb") as f:
            frame.write_parquet(f)
    t = roll([r.CityFiles("chiyoda", "131016", "memory://rollup-test/stats")])
    assert not t.failing and rows_of(t, "000000")["計"] == 1
    paths = r.write_outputs(t, pyramid_png(t.nation_population, D), tmp_path / "out", D)
    names = [Path(p).name for p in paths]
    assert names == [f"{D}_人口動態及び世帯数.csv", f"{D}_年齢階級別人口.csv", f"{D}_報告状況.csv", f"{D}_人口ピラミッド.png"]
    assert all(Path(p).read_bytes().startswith(b"\xef\xbb\xbf") for p in paths[:3])
    assert Path(paths[3]).read_bytes().startswith(b"\x89PNG")


def test_overlapping_files_are_named_as_an_overlap_not_a_gap(two_cities, tmp_path):
    """A file for Saturday written after Monday's (a Saturday file arriving late): its period Sat..Sat lies inside
    Monday's Sat..Mon, the same days counted twice; named as such, not as a gap of Sunday..Friday."""
    write_city(tmp_path / "kawaguchi", FRI, None, None, fri_balance())
    write_city(tmp_path / "kawaguchi", dt.date(2026, 4, 4), None, None,
               balance(dt.date(2026, 4, 4), dt.date(2026, 4, 4), [("japanese", "1", 3, 0, 0, 0, 0),
                                                                 ("japanese", "2", 2, 0, 0, 0, 0)]))
    t = roll(two_cities[:1], date_from=FRI)
    reason = t.status["reason"][0]
    assert t.failing == ["112038"] and "gap" not in reason, reason
    assert "the balance files overlap: the 2026-04-06 file's period starts on 2026-04-04, not after the " \
           "2026-04-04 file's, which ends on 2026-04-04" in reason


def test_a_date_without_a_balance_file_names_why_it_has_none(tmp_path):
    """Population and households but no balance file: a BASELINE date, or a closed day's file taken after the next
    date's statistics (its days are in that date's balance file)."""
    write_city(tmp_path / "kawaguchi", D, KAWAGUCHI_POP, KAWAGUCHI_HH, None)
    t = roll([r.CityFiles("kawaguchi", "112038", str(tmp_path / "kawaguchi"))])
    assert t.failing == ["112038"]
    assert t.status["reason"][0] == (f"no balance.parquet for {D}: a date up to the last BASELINE has none, nor does "
                                     f"a closed day's date first written after a later date (its days are in that "
                                     f"date's file)")
