"""Statistics as files: the daily tables (Parquet, CSV), the pyramid PNG and the yearly 総務省 report."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tasks import stats
from tasks.stats_files import AGE_GROUPS, daily_tables, pyramid_png, pyramid_png_matplotlib, write_pyramid, write_tables
from tasks.stats_report import ReportDoesNotBalance, ages, population_and_movements, write_report
from tests.builders import event, foreigner, person, resident_code, write_file
from tests.conftest import Register

R = resident_code
BASELINE_DATE = "2025-12-31"
BUSINESS_DATE = dt.date(2026, 3, 2)
YEAR = 2027
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BOM = b"\xef\xbb\xbf"

CITY = [
    person(1, birth_date="1980-05-05"),
    person(2, household_id="H1", relationship="妻", sex="2", birth_date="1982-03-03"),
    foreigner(3, town_code="0002", birth_date="1990-01-01"),
    foreigner(4, household_id="H3", relationship="妻", sex="2", town_code="0002", birth_date="1991-01-01",
              residence_card_no="AB00000004CD"),
    person(5, sex="2", town_code="0003", birth_date="1975-01-01"),
    foreigner(6, household_id="H5", relationship="夫", town_code="0003", birth_date="1974-01-01",
              residence_card_no="AB00000006CD"),
    person(7, birth_date="1920-06-01"),
    foreigner(8, town_code="0004", birth_date="1960-01-01", residence_card_no="AB00000008CD"),
]
# effective in 2026, notified by the business date 2026-03-02
CHANGES = [
    event("in11", "MOVE_IN", "2026-02-02", **person(11, sex="2"), prev_address="東京都千代田区"),
    event("ret12", "RETURN_FROM_ABROAD", "2026-02-03",
          **foreigner(12, sex="2", residence_card_no="AB00000012CD"), prev_address="中国"),
    event("bir13", "BIRTH", "2026-02-04", **person(13, household_id="H1", relationship="子",
                                                       birth_date="2026-02-04")),
    event("ent14", "ENTRY_BY_AUTHORITY", "2026-02-05", **person(14)),
    event("out3", "MOVE_OUT", "2026-02-06", resident_code=R(3), dest_address="東京都千代田区"),
    event("abr4", "MOVE_ABROAD", "2026-02-09", resident_code=R(4), dest_address="中国"),
    event("dth7", "DEATH", "2026-02-10", resident_code=R(7)),
    event("rem2", "REMOVAL_BY_AUTHORITY", "2026-02-12", resident_code=R(2)),
    event("nat8", "NATIONALITY_CHANGE", "2026-02-13", resident_code=R(8), nationality="JP",
          honseki="埼玉県川口市本町一丁目1番地", hittousha="王　偉"),
    event("mov1", "MOVE_WITHIN", "2026-03-02", resident_code=R(1), town_code="0002", address_line="9-9"),
]


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """A register: a BASELINE of 8 on 2025-12-31 and one file of 2026-03-02 with every kind of movement."""
    reg = Register(tmp_path_factory.mktemp("files"))
    outcomes = reg.ingest(write_file(reg.inbox, BASELINE_DATE,
                                     [event(f"base{n}", "BASELINE", "2020-01-01", BASELINE_DATE, **r)
                                      for n, r in enumerate(CITY, 1)]),
                          write_file(reg.inbox, BUSINESS_DATE.isoformat(), CHANGES))
    assert [(o.status, o.rows_quarantined) for o in outcomes] == [("applied", 0)] * 2, reg.quarantine()
    yield reg
    reg.con.close()


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under a folder: relative path -> bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- daily tables ---------------------------------------------------------------------------

def test_daily_tables_are_the_business_dates_statistics(city):
    """population and households at the end of the business date, and that day's movements."""
    tables = daily_tables(city.con, BUSINESS_DATE)
    assert list(tables) == ["population", "households", "movements"]
    assert tables["population"].equals(stats.population(city.con, BUSINESS_DATE))
    assert tables["households"].equals(stats.households(city.con, BUSINESS_DATE))
    assert tables["movements"].rows() == [("japanese", "1") + (0,) * 13 + (1,)]


def test_write_tables_names_and_digests(city, tmp_path):
    """Each table as <name>.parquet and <name>.csv under <stats>/<date>/; the digests are of the bytes written."""
    digests = write_tables(daily_tables(city.con, BUSINESS_DATE), str(tmp_path / "stats"), BUSINESS_DATE)
    names = [f"{n}{s}" for n in ("population", "households", "movements") for s in (".parquet", ".csv")]
    assert sorted(digests) == sorted(f"2026-03-02/{n}" for n in names)
    files = tree(tmp_path / "stats")
    assert sorted(files) == sorted(digests)
    assert all(hashlib.sha256(files[k]).hexdigest() == v for k, v in digests.items())


def test_written_twice_gives_identical_bytes(city, tmp_path):
    """Tables computed and written twice are byte-identical, Parquet and CSV alike."""
    first = write_tables(daily_tables(city.con, BUSINESS_DATE), str(tmp_path / "a"), BUSINESS_DATE)
    second = write_tables(daily_tables(city.con, BUSINESS_DATE), str(tmp_path / "b"), BUSINESS_DATE)
    assert first == second
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


def test_parquet_keeps_codes_as_text(city, tmp_path):
    """Read back with polars, town_code and sex are strings with their leading zeros; counts are integers."""
    write_tables(daily_tables(city.con, BUSINESS_DATE), str(tmp_path), BUSINESS_DATE)
    population = pl.read_parquet(tmp_path / "2026-03-02" / "population.parquet")
    assert population.schema == {"town_code": pl.String, "sex": pl.String, "age_group": pl.String,
                                 "nationality_group": pl.String, "residents": pl.Int64}
    assert population.equals(stats.population(city.con, BUSINESS_DATE))
    assert "0001" in population["town_code"].to_list() and "0002" in population["town_code"].to_list()
    households = pl.read_parquet(tmp_path / "2026-03-02" / "households.parquet")
    assert households["town_code"].dtype == pl.String and households["town_code"].str.len_chars().min() == 4


def test_csv_keeps_codes_and_header(city, tmp_path):
    """The CSV has the header row and town codes with leading zeros."""
    write_tables(daily_tables(city.con, BUSINESS_DATE), str(tmp_path), BUSINESS_DATE)
    text = (tmp_path / "2026-03-02" / "population.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == "town_code,sex,age_group,nationality_group,residents"
    assert {r["town_code"] for r in rows} == {"0001", "0002", "0003", "0004"}


def test_a_day_without_movements_keeps_the_columns(city, tmp_path):
    """An empty movement table still has its header in CSV and its typed columns in Parquet."""
    day = dt.date(2026, 3, 3)
    write_tables(daily_tables(city.con, day), str(tmp_path), day)
    frame = pl.read_parquet(tmp_path / "2026-03-03" / "movements.parquet")
    assert frame.height == 0
    assert frame.schema == stats.movements(city.con, day, day).schema
    assert frame.schema["sex"] == pl.String and frame.schema["births"] == pl.Int64
    header = (tmp_path / "2026-03-03" / "movements.csv").read_text(encoding="utf-8").splitlines()
    assert header == [",".join(frame.columns)]


def _by_way_of_pandas(frame: pl.DataFrame) -> bytes:
    """The Parquet bytes as every run before this change wrote them (and the run ledger recorded)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame.to_pandas(), preserve_index=False).replace_schema_metadata(None),
                   out, compression="zstd", compression_level=3, write_statistics=False,
                   store_schema=False, use_dictionary=False)
    return out.getvalue()


def test_parquet_bytes_are_those_written_by_way_of_pandas(city):
    """The tables are written without the pandas import now, in the same bytes: the days' tables, an empty
    one, a frame in chunks, and frames pandas would retype (an integer null, a date) that still go through it."""
    from tasks.stats_files import _parquet_bytes

    tables = {**daily_tables(city.con, BUSINESS_DATE), "empty": daily_tables(city.con, dt.date(2026, 3, 3))["movements"]}
    population = tables["population"]
    frames = [*tables.values(), pl.concat([population.head(3), population.tail(3)], rechunk=False),
              pl.DataFrame({"town_code": ["0001", None], "residents": [1, None]}),
              pl.DataFrame({"day": [dt.date(2026, 3, 2)], "residents": [3]})]
    assert tables["empty"].height == 0
    for frame in frames:
        assert _parquet_bytes(frame) == _by_way_of_pandas(frame), frame.schema


def test_write_tables_through_fsspec_memory(city):
    """A memory:// target gets the same bytes as a local folder."""
    import fsspec

    digests = write_tables(daily_tables(city.con, BUSINESS_DATE), "memory://stats-test", BUSINESS_DATE)
    fs = fsspec.filesystem("memory")
    try:
        data = fs.cat_file("/stats-test/2026-03-02/households.csv")
        assert hashlib.sha256(data).hexdigest() == digests["2026-03-02/households.csv"]
    finally:
        fs.rm("/stats-test", recursive=True)


def test_pyramid_is_a_png_and_deterministic(city, tmp_path):
    """The pyramid is PNG bytes, identical when drawn twice, kept as <stats>/<date>/pyramid.png."""
    population = stats.population(city.con, BUSINESS_DATE)
    png = pyramid_png(population, BUSINESS_DATE)
    assert png.startswith(PNG_SIGNATURE) and len(png) > 1000
    assert pyramid_png(stats.population(city.con, BUSINESS_DATE), BUSINESS_DATE) == png
    path, digest = write_pyramid(png, str(tmp_path), BUSINESS_DATE)
    assert path == f"{tmp_path}/2026-03-02/pyramid.png"
    assert (tmp_path / "2026-03-02" / "pyramid.png").read_bytes() == png
    assert digest == hashlib.sha256(png).hexdigest()


def test_pyramid_differs_with_the_population(city):
    """Another population draws another picture (the PNG is not a constant)."""
    png = pyramid_png(stats.population(city.con, BUSINESS_DATE), BUSINESS_DATE)
    other = pyramid_png(stats.population(city.con, dt.date(2026, 1, 1)), BUSINESS_DATE)
    assert other.startswith(PNG_SIGNATURE) and other != png


def test_pyramid_is_drawn_without_matplotlib_and_the_earlier_drawing_is_kept(city):
    """The pyramid is drawn with Pillow in a process that never imports matplotlib (about 1 CPU s here);
    the matplotlib drawing, which earlier runs recorded, is still there and is another picture."""
    script = ("import datetime as dt, sys, polars as pl\n"
              "from tasks.stats_files import pyramid_png\n"
              "frame = pl.DataFrame({'sex': ['1', '2'], 'age_group': ['0-4', '100+'],\n"
              "                      'nationality_group': ['japanese', 'foreign'], 'residents': [3, 1]})\n"
              "assert pyramid_png(frame, dt.date(2026, 3, 2)).startswith(b'\\x89PNG')\n"
              "print('matplotlib' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.strip() == "False"
    population = stats.population(city.con, BUSINESS_DATE)
    earlier = pyramid_png_matplotlib(population, BUSINESS_DATE)
    assert earlier.startswith(PNG_SIGNATURE) and earlier != pyramid_png(population, BUSINESS_DATE)
    assert pyramid_png_matplotlib(population, BUSINESS_DATE) == earlier


# --- the yearly report (総務省 layout) --------------------------------------------------------

def read_report(path: Path) -> tuple[bytes, list[dict]]:
    """A report CSV: its first bytes and its rows (keyed by the Japanese labels)."""
    data = path.read_bytes()
    return data[:3], list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.fixture(scope="module")
def report(city, tmp_path_factory) -> dict:
    """The 2027 report written once: file names -> (first bytes, rows)."""
    folder = tmp_path_factory.mktemp("report")
    paths = write_report(city.con, YEAR, folder)
    assert [p.name for p in paths] == [f"{YEAR}_人口動態及び世帯数.csv", f"{YEAR}_年齢階級別人口.csv"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in paths)
    return {p.name: read_report(p) for p in paths}


def main_rows(report) -> dict[str, dict[str, str]]:
    """区分 -> row of the population-and-movements table."""
    return {r["区分"]: r for r in report[f"{YEAR}_人口動態及び世帯数.csv"][1]}


def n(value: str) -> int:
    """A count cell as an int (an empty cell is 0)."""
    return int(value) if value else 0


def test_report_files_have_a_bom_and_japanese_labels(report):
    """Both CSVs start with a UTF-8 BOM and use the 総務省 labels."""
    (bom1, rows1), (bom2, rows2) = report.values()
    assert bom1 == bom2 == BOM
    assert list(rows1[0]) == [
        "団体コード", "都道府県名", "市区町村名", "区分", "男", "女", "計",
        "日本人のみの世帯", "複数国籍世帯", "外国人のみの世帯", "世帯数",
        "転入者数（国内）", "転入者数（国外）", "転入者数（計）", "出生者数", "その他（記載）", "記載計",
        "転出者数（国内）", "転出者数（国外）", "転出者数（計）", "死亡者数", "その他（消除）", "消除計",
        "増減数", "増減率（％）", "自然増減数", "自然増減率（％）", "社会増減数", "社会増減率（％）"]
    assert [r["区分"] for r in rows1] == ["総計", "日本人住民", "外国人住民"]
    assert all((r["団体コード"], r["都道府県名"], r["市区町村名"]) == ("112038", "埼玉県", "川口市") for r in rows1)
    labels = [f"{g.split('-')[0]}～{g.split('-')[1]}歳" for g in AGE_GROUPS[:-1]] + ["100歳以上"]
    assert list(rows2[0]) == ["団体コード", "都道府県名", "市区町村名", "区分", "性別", "総数", *labels]


def test_report_population_and_movements(report):
    """The figures of the inline city: population on 1 January 2027, movements of 2026."""
    rows = main_rows(report)
    pick = ("男", "女", "計", "転入者数（国内）", "転入者数（国外）", "出生者数", "その他（記載）", "記載計",
            "転出者数（国内）", "転出者数（国外）", "死亡者数", "その他（消除）", "消除計", "増減数",
            "自然増減数", "社会増減数")
    assert {k: [n(r[c]) for c in pick] for k, r in rows.items()} == {
        "日本人住民": [4, 2, 6, 1, 0, 1, 2, 4, 0, 0, 1, 1, 2, 2, 0, 2],
        "外国人住民": [1, 1, 2, 0, 1, 0, 0, 1, 1, 1, 0, 1, 3, -2, 0, -2],
        "総計": [5, 3, 8, 1, 1, 1, 2, 5, 1, 1, 1, 2, 5, 0, 0, 0],
    }
    assert [float(rows[k]["増減率（％）"]) for k in ("総計", "日本人住民", "外国人住民")] == [0.0, 50.0, -50.0]


def test_report_identities(report):
    """男+女=計, 転入計, 記載計, 転出計, 消除計, 増減数, 自然 and 社会 in every row; 総計 = 日本人 + 外国人."""
    rows = main_rows(report)
    for r in rows.values():
        v = {k: n(x) for k, x in r.items() if k not in ("団体コード", "都道府県名", "市区町村名", "区分")
             and not k.endswith("率（％）")}
        assert v["男"] + v["女"] == v["計"]
        assert v["転入者数（国内）"] + v["転入者数（国外）"] == v["転入者数（計）"]
        assert v["記載計"] == v["転入者数（計）"] + v["出生者数"] + v["その他（記載）"]
        assert v["転出者数（国内）"] + v["転出者数（国外）"] == v["転出者数（計）"]
        assert v["消除計"] == v["転出者数（計）"] + v["死亡者数"] + v["その他（消除）"]
        assert v["増減数"] == v["記載計"] - v["消除計"]
        assert v["自然増減数"] == v["出生者数"] - v["死亡者数"]
        assert v["社会増減数"] == (v["転入者数（計）"] + v["その他（記載）"]) - (v["転出者数（計）"] + v["その他（消除）"])
    for column in ("男", "女", "計", "記載計", "消除計", "増減数", "その他（記載）", "その他（消除）"):
        assert n(rows["総計"][column]) == n(rows["日本人住民"][column]) + n(rows["外国人住民"][column])


def test_report_balances_with_the_population_a_year_before(city, report):
    """計 「1月1日現在」 minus the residents at the end of the year before last equals 増減数, per 区分."""
    before = stats.population(city.con, dt.date(YEAR - 2, 12, 31))
    base = {"日本人住民": before.filter(nationality_group="japanese")["residents"].sum(),
            "外国人住民": before.filter(nationality_group="foreign")["residents"].sum()}
    base["総計"] = base["日本人住民"] + base["外国人住民"]
    for label, r in main_rows(report).items():
        assert n(r["計"]) - base[label] == n(r["増減数"])


def test_report_households_split(city, report):
    """世帯数 by type on 1 January: 総計 all three, 日本人 japanese + mixed, 外国人 foreign + mixed."""
    rows = main_rows(report)
    hh = dict(stats.households(city.con, dt.date(YEAR - 1, 12, 31)).group_by("household_type")
              .agg(pl.col("households").sum()).rows())
    assert hh == {"japanese": 4, "mixed": 1, "foreign": 1}
    total = rows["総計"]
    assert [n(total[c]) for c in ("日本人のみの世帯", "複数国籍世帯", "外国人のみの世帯", "世帯数")] == [4, 1, 1, 6]
    japanese, foreign = rows["日本人住民"], rows["外国人住民"]
    assert (japanese["外国人のみの世帯"], foreign["日本人のみの世帯"]) == ("", "")
    assert n(japanese["世帯数"]) == n(japanese["日本人のみの世帯"]) + n(japanese["複数国籍世帯"]) == 5
    assert n(foreign["世帯数"]) == n(foreign["外国人のみの世帯"]) + n(foreign["複数国籍世帯"]) == 2


def test_report_age_table(report):
    """Age groups per 区分 and 性別: 総数 is their sum, 計 = 男 + 女, and 総数 matches the main table's 計."""
    rows = report[f"{YEAR}_年齢階級別人口.csv"][1]
    assert [(r["区分"], r["性別"]) for r in rows] == [
        (k, s) for k in ("総計", "日本人住民", "外国人住民") for s in ("計", "男", "女")]
    by_key = {(r["区分"], r["性別"]): r for r in rows}
    main = main_rows(report)
    for (label, sex), r in by_key.items():
        groups = [n(v) for k, v in r.items() if k.endswith("歳") or k == "100歳以上"]
        assert len(groups) == 21 and sum(groups) == n(r["総数"])
        assert n(r["総数"]) == n(main[label][sex])
    for label in ("総計", "日本人住民", "外国人住民"):
        assert all(n(by_key[(label, "男")][c]) + n(by_key[(label, "女")][c]) == n(by_key[(label, "計")][c])
                   for c in by_key[(label, "計")] if c.endswith("歳") or c in ("100歳以上", "総数"))
    # the baby born 2026-02-04 is 0 on 1 January 2027; nobody is 100 or older after the death of person 7
    assert n(by_key[("日本人住民", "男")]["0～4歳"]) == 1
    assert n(by_key[("総計", "計")]["100歳以上"]) == 0


def test_report_frames_are_the_csvs(city, report, tmp_path):
    """write_report writes exactly the frames of population_and_movements and ages, and the same bytes twice."""
    main = population_and_movements(city.con, YEAR)
    assert main.height == 3 and main["計"].to_list() == [8, 6, 2]
    assert ages(city.con, YEAR).height == 9
    first = [p.read_bytes() for p in write_report(city.con, YEAR, tmp_path / "a")]
    second = [p.read_bytes() for p in write_report(city.con, YEAR, tmp_path / "b")]
    assert first == second
    assert first[0] == BOM + main.write_csv().encode("utf-8")


def test_report_age_table_follows_the_official_layout(report):
    """The age table's columns and rows in the 総務省 order (区分 added because the three tables share a file)."""
    rows = report[f"{YEAR}_年齢階級別人口.csv"][1]
    labels = [f"{g.split('-')[0]}～{g.split('-')[1]}歳" for g in AGE_GROUPS[:-1]] + ["100歳以上"]
    assert list(rows[0]) == ["団体コード", "都道府県名", "市区町村名", "区分", "性別", "総数", *labels]
    assert [r["性別"] for r in rows[:3]] == ["計", "男", "女"]


def test_report_a_corrected_sex_is_no_record_or_removal(register):
    """A sex correction changes 男/女 in the report but no 記載 or 消除 column."""
    base = [event("b1", "BASELINE", "2020-01-01", BASELINE_DATE, **person(1)),
            event("b2", "BASELINE", "2020-01-01", BASELINE_DATE, **person(2, sex="2"))]
    outcomes = register.ingest(
        write_file(register.inbox, BASELINE_DATE, base),
        write_file(register.inbox, "2026-03-02", [event("c1", "CORRECTION_BY_AUTHORITY", "2026-03-02",
                                                        resident_code=R(1), sex="2")]))
    assert [o.rows_applied for o in outcomes] == [2, 1], register.quarantine()
    rows = {r["区分"]: r for r in population_and_movements(register.con, YEAR).to_dicts()}
    assert (rows["日本人住民"]["男"], rows["日本人住民"]["女"]) == (0, 2)
    assert [(rows[k]["その他（記載）"], rows[k]["その他（消除）"], rows[k]["記載計"], rows[k]["消除計"])
            for k in ("総計", "日本人住民")] == [(0, 0, 0, 0)] * 2


def test_report_1_january_is_the_start_of_the_day(register, tmp_path):
    """Events on 31 December count in that year's report, events on 1 January in the next one; both balance."""
    base = [event(f"b{n}", "BASELINE", "2020-01-01", BASELINE_DATE, **person(n, household_id="H1",
                                                                          relationship="世帯主" if n == 1 else "子"))
            for n in range(1, 5)]
    outcomes = register.ingest(
        write_file(register.inbox, BASELINE_DATE, base),
        write_file(register.inbox, "2026-12-31", [event("bir5", "BIRTH", "2026-12-31", **person(
            5, household_id="H1", relationship="子", birth_date="2026-12-31"))]),
        # a death on New Year's Day notified on the 4th, and a New Year's baby
        write_file(register.inbox, "2027-01-04", [
            event("dth2", "DEATH", "2027-01-01", "2027-01-04", resident_code=R(2)),
            event("bir6", "BIRTH", "2027-01-01", "2027-01-04", **person(
                6, household_id="H1", relationship="子", birth_date="2027-01-01")),
            event("dth3", "DEATH", "2027-01-01", "2027-01-04", resident_code=R(3))]))
    assert [o.rows_applied for o in outcomes] == [4, 1, 3], register.quarantine()
    pick = ("前年", "出生者数", "死亡者数", "増減数", "計")
    figures = {}
    for year in (2027, 2028):
        rows = {r["区分"]: r for r in population_and_movements(register.con, year).to_dicts()}
        before = 4 if year == 2027 else 5
        figures[year] = [before, *(rows["総計"][c] for c in pick[1:])]
        assert figures[year][0] + figures[year][3] == figures[year][4]
    assert figures == {2027: [4, 1, 0, 1, 5], 2028: [5, 1, 2, -1, 4]}
    ages_2027 = {(r["区分"], r["性別"]): r for r in ages(register.con, 2027).to_dicts()}
    assert ages_2027[("総計", "計")]["0～4歳"] == 1  # the baby of 31 December, not yet the one of 1 January


def test_report_that_does_not_balance_is_not_written(register, tmp_path):
    """A migrated record dated inside the year is in 計 but no movement: the report refuses, writing nothing."""
    outcomes = register.ingest(
        write_file(register.inbox, BASELINE_DATE, [event("b1", "BASELINE", "2020-01-01", BASELINE_DATE,
                                                         **person(1))]),
        write_file(register.inbox, "2026-07-01", [event("b2", "BASELINE", "2026-06-01", "2026-07-01",
                                                        **person(2))]))
    assert [o.rows_applied for o in outcomes] == [1, 1], register.quarantine()
    with pytest.raises(ReportDoesNotBalance, match=r"総計: 前年 1 \+ 増減数 0 ≠ 計 2"):
        write_report(register.con, YEAR, tmp_path / "report")
    assert not (tmp_path / "report").exists()


# --- the daily files on every business day (schemas/business_calendar.py) -------------------

def test_every_business_day_gets_its_statistics_even_without_a_file(register, monkeypatch):
    """BASELINE on Friday 24 April, the next file on Thursday the 30th: 27 and 28 April (business days with no
    file) get their figures too, the weekend and 昭和の日 (29 April) do not; a late file for the 28th later
    rewrites only that day."""
    from tasks import publish

    monkeypatch.setattr("tasks.validate_rows.row_violations", lambda rows, business_date: pl.DataFrame(
        schema={"line": pl.Int64, "rule_id": pl.String, "column": pl.String}))  # GX is not the subject here
    stats_uri = str(register.root / "stats")
    outcomes = register.ingest(
        write_file(register.inbox, "2026-04-24", [event("b1", "BASELINE", "2020-01-01", "2026-04-24", **person(1))]),
        write_file(register.inbox, "2026-04-30", [event("bir2", "BIRTH", "2026-04-27", "2026-04-30", **person(
            2, household_id="H1", relationship="子", birth_date="2026-04-27"))]))
    assert [o.rows_applied for o in outcomes] == [1, 1], register.quarantine()
    written = ["2026-04-24", "2026-04-27", "2026-04-28", "2026-04-30"]
    assert [d.isoformat() for d in publish.pending_dates(register.con, stats_uri)] == written  # balance-checked

    out = publish.write_statistics(register.con, "run-1", stats_uri)

    assert sorted(p.name for p in (register.root / "stats").iterdir()) == written
    residents = {day: pl.read_csv(register.root / "stats" / day / "population.csv")["residents"].sum()
                 for day in written}
    assert residents == {"2026-04-24": 1, "2026-04-27": 2, "2026-04-28": 2, "2026-04-30": 2}
    births = pl.read_csv(register.root / "stats" / "2026-04-27" / "movements.csv")["births"].sum()
    assert births == 1 and out.day == dt.date(2026, 4, 30) and "2026-04-28/population.csv" in out.digests
    assert register.rows("select delivery_no from publish_watermark where output = 'statistics' "
                         "order by delivery_no") == [(1,), (2,)]  # a day without a file moves no watermark

    before = tree(register.root / "stats")
    register.ingest(write_file(register.inbox, "2026-04-28", [
        event("mov1", "MOVE_WITHIN", "2026-04-28", resident_code=R(1), town_code="0002", address_line="9-9")]))
    assert [d.isoformat() for d in publish.pending_dates(register.con, stats_uri)] == ["2026-04-28"]
    publish.write_statistics(register.con, "run-2", stats_uri)
    changed = {name for name, data in tree(register.root / "stats").items() if before.get(name) != data}
    assert {name.partition("/")[0] for name in changed} == {"2026-04-28"} and "2026-04-28/movements.csv" in changed


def test_report_bytes_are_pinned(city, tmp_path):
    """The report's bytes as written before its rows were built by functions the roll-up shares."""
    digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in write_report(city.con, YEAR, tmp_path)}
    assert digests == {
        f"{YEAR}_人口動態及び世帯数.csv": "5de4d381c5ce68ac5a7914ba8966bf8d2d7ced436f2578af3a5009274722a5d0",
        f"{YEAR}_年齢階級別人口.csv": "f982a859dccbae1dde672e5f53877111bdaadbc44bbe0c761a0c9983c4e6bda5",
    }
