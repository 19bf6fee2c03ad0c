"""Three tiny cities laid out by `juki nation layout`, run by `juki many-cities`, then `juki rollup`: the national
table is the sum of the cities' own tables, each municipality row is what its own register says, and a city without
files makes it 不完全."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from pathlib import Path

import polars as pl
import pytest

from juki.cli import main
from juki_core.store import connect
from schemas.municipalities import municipalities, municipality
from tasks import stats
from tasks.stats_report import age_rows, movement_rows

# a city, a 政令指定都市 with its wards, a 特別区 in another prefecture
CITIES = [("kawaguchi", "112038"), ("saitama", "111007"), ("chiyoda", "131016")]
IDENTITY = ("団体コード", "都道府県名", "市区町村名", "区分", "性別")


@pytest.fixture(scope="module")
def nation(tmp_path_factory, prefect_api):
    """`juki nation layout` of the three (40-61 residents, 4 days), run by `juki many-cities`."""
    import os

    root = tmp_path_factory.mktemp("nation")
    codes = ",".join(code for _, code in CITIES)
    assert main(["nation", "layout", "--out", str(root), "--codes", codes, "--scale", "0.0001", "--days", "4"]) == 0
    saved = dict(os.environ)
    try:  # many-cities reads the cities' keys from keys.env into the environment
        assert main(["many-cities", "--cities", str(root / "cities.yaml")]) == 0
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert (root / "111007" / "wards.csv").exists()
    dates = sorted(p.parent.name for p in (root / "112038" / "stats").glob("*/balance.parquet"))
    assert len(dates) >= 2, dates
    return root, dt.date.fromisoformat(dates[0]), dt.date.fromisoformat(dates[-1])


def read_csv(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data[3:].decode("utf-8"))))


def value(text: str):
    return None if text == "" else float(text)


def figures(row: dict) -> dict:
    return {k: (v if k in IDENTITY else value(v) if isinstance(v, str) else v) for k, v in row.items()
            if k != "集計状況"}


def own_tables(root: Path, code: str, date_from: dt.date, date_to: dt.date) -> tuple[list, list]:
    """The city's rows computed from its own register with the report's row builders (no statistics files)."""
    m = municipality(code)
    with connect(root / code / "registry.duckdb", read_only=True) as con:
        population = stats.population(con, date_to)
        before = stats.population(con, date_from - dt.timedelta(days=1))
        sex_only = dict(con.sql((stats.STATS_SQL / "sex_only_changes.sql").read_text(encoding="utf-8"),
                                params={"date_from": date_from, "date_to": date_to}).fetchall())
        rows = movement_rows((code, m.prefecture, m.name), population, stats.households(con, date_to),
                             stats.movements(con, date_from, date_to),
                             {g: int(before.filter(pl.col("nationality_group") == g)["residents"].sum())
                              for g in ("japanese", "foreign")}, sex_only)
    return rows, age_rows((code, m.prefecture, m.name), population)


@pytest.mark.slow
def test_the_national_table_is_the_sum_of_the_cities_own_tables(nation, capsys):
    root, first, last = nation
    out = root / "out"
    status = main(["rollup", "--date", last.isoformat(), "--from", first.isoformat(), "--cities",
                   str(root / "cities.yaml"), "--expect", "listed", "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    table = read_csv(out / f"{last}_人口動態及び世帯数.csv")
    ages = read_csv(out / f"{last}_年齢階級別人口.csv")
    assert {r["集計状況"] for r in table + ages} == {"完了"}
    reported = {r["団体コード"]: r for r in read_csv(out / f"{last}_報告状況.csv")}
    assert {c: r["status"] for c, r in reported.items()} == dict.fromkeys([c for _, c in CITIES], "reported")
    period_from = {dt.date.fromisoformat(r["period_from"]) for r in reported.values()}
    assert len(period_from) == 1 and min(period_from) <= first
    period_from = period_from.pop()

    by_area = {(r["団体コード"], r["区分"]): figures(r) for r in table}
    ages_by_area = {(r["団体コード"], r["区分"], r["性別"]): figures(r) for r in ages}
    for name, code in CITIES:
        rows, age_table = own_tables(root, code, period_from, last)
        for row in rows:
            assert by_area[(code, row["区分"])] == figures(row), (name, row["区分"])
        for row in age_table:
            assert ages_by_area[(code, row["区分"], row["性別"])] == figures(row), (name, row["区分"], row["性別"])

    numbers = [k for k, v in by_area[("000000", "総計")].items() if isinstance(v, float) and "率" not in k]
    for label in ("総計", "日本人住民", "外国人住民"):
        nation_row = by_area[("000000", label)]
        for column in numbers:
            parts = [by_area[(c, label)][column] for _, c in CITIES]
            expected = None if parts == [None] * len(parts) else sum(parts)  # e.g. 外国人のみの世帯 of 日本人住民
            assert nation_row[column] == expected, (label, column)
        saitama_pref = by_area[("110001", label)]
        assert saitama_pref["計"] == by_area[("112038", label)]["計"] + by_area[("111007", label)]["計"]
    for key, row in ages_by_area.items():
        if key[0] == "000000":
            assert row["総数"] == sum(ages_by_area[(c, key[1], key[2])]["総数"] for _, c in CITIES)
    # さいたま市 is the sum of its wards (population and households; a ward has no movements of its own)
    wards = [m.municipality_code for m in municipalities() if m.parent_code == "111007"]
    assert len(wards) == 10 and all((w, "総計") in by_area for w in wards)
    for column in ("男", "女", "計", "世帯数"):
        assert by_area[("111007", "総計")][column] == sum(by_area[(w, "総計")][column] for w in wards)
    assert all(by_area[(w, "総計")]["増減数"] is None for w in wards)
    assert (out / f"{last}_人口ピラミッド.png").read_bytes().startswith(b"\x89PNG")

    # one city's statistics of the date gone: written, but 不完全, the city named, exit 1
    shutil.rmtree(root / "131016" / "stats" / last.isoformat())
    status = main(["rollup", "--date", last.isoformat(), "--from", first.isoformat(), "--cities",
                   str(root / "cities.yaml"), "--expect", "listed", "--out", str(root / "short")])
    assert status == 1
    assert "missing: 131016" in capsys.readouterr().err
    table = {(r["団体コード"], r["区分"]): r for r in read_csv(root / "short" / f"{last}_人口動態及び世帯数.csv")}
    assert table[("000000", "総計")]["集計状況"] == "不完全（未報告1・不整合0）"
    assert table[("130001", "総計")]["集計状況"] == "不完全（未報告1・不整合0）"
    assert table[("110001", "総計")]["集計状況"] == "完了"
    assert table[("131016", "総計")]["計"] == ""
    assert float(table[("000000", "総計")]["計"]) == by_area[("112038", "総計")]["計"] + by_area[("111007", "総計")]["計"]
    reported = {r["団体コード"]: r for r in read_csv(root / "short" / f"{last}_報告状況.csv")}
    assert reported["131016"]["status"] == "missing" and last.isoformat() in reported["131016"]["reason"]


@pytest.mark.slow
def test_expect_nation_names_every_municipality_that_did_not_report(nation, capsys):
    """--expect nation (the default) over the three: the other 1,738 are missing, every prefecture has its row."""
    root, _, last = nation
    out = root / "nation-out"
    status = main(["rollup", "--date", last.isoformat(), "--cities", str(root / "cities.yaml"), "--out", str(out)])
    assert status == 1
    err = capsys.readouterr().err
    assert "of 1741 municipalities reported" in err and "more (all in " in err
    reported = {r["団体コード"]: r["status"] for r in read_csv(out / f"{last}_報告状況.csv")}
    ours = {code for _, code in CITIES}
    assert len(reported) == 1741 and {s for c, s in reported.items() if c not in ours} == {"missing"}
    assert reported["112038"] == reported["111007"] == "reported"  # (千代田区's folder may be gone: test above)
    table = read_csv(out / f"{last}_人口動態及び世帯数.csv")
    prefectures = [r for r in table if r["区分"] == "総計" and r["市区町村名"] == "" and r["団体コード"] != "000000"]
    assert len(prefectures) == 47 and prefectures[0]["都道府県名"] == "北海道"
    assert table[0]["集計状況"].startswith("不完全（未報告")
