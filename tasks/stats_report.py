"""The year's tables in the layout of 総務省「住民基本台帳に基づく人口、人口動態及び世帯数調査」.

Population and households 「1月1日現在」 (the start of 1 January, i.e. the end of 31 December of the
previous year), movements of that previous calendar year, ages in 5-year groups; one row per 区分
(総計, 日本人住民, 外国人住民), Japanese column labels.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl

from schemas.change_file import MUNICIPALITY_CODE
from tasks import stats
from tasks.stats_files import AGE_GROUPS

PREFECTURE, CITY = "埼玉県", "川口市"
WHERE = (MUNICIPALITY_CODE, PREFECTURE, CITY)
GROUPS = (("総計", ("japanese", "foreign")), ("日本人住民", ("japanese",)), ("外国人住民", ("foreign",)))


class ReportDoesNotBalance(Exception):
    """A row where the population a year before plus 増減数 is not 計: the report is not written."""


def reference_date(year: int) -> dt.date:
    """The day whose end is 「Y年1月1日現在」: 31 December Y−1, so that a 1 January event is next year's movement."""
    return dt.date(year - 1, 12, 31)


def _rate(change: int, base: int) -> float:
    # 増減率 etc. are per cent of the population at the start of the period, three decimals
    return round(change / base * 100, 3) if base else 0.0


def population_and_movements(con: duckdb.DuckDBPyConnection, year: int, where: tuple[str, str, str] = WHERE
                             ) -> pl.DataFrame:
    """人口・世帯数・人口動態: one row per 区分; where = (団体コード, 都道府県名, 市区町村名) of the register."""
    day = reference_date(year)
    start = dt.date(year - 1, 1, 1)
    before = stats.population(con, start - dt.timedelta(days=1))
    sex_only = dict(con.sql((stats.STATS_SQL / "sex_only_changes.sql").read_text(encoding="utf-8"),
                            params={"date_from": start, "date_to": dt.date(year - 1, 12, 31)}).fetchall())
    rows = movement_rows(
        where, stats.population(con, day), stats.households(con, day),
        stats.movements(con, start, dt.date(year - 1, 12, 31)),
        {g: int(before.filter(pl.col("nationality_group") == g)["residents"].sum()) for g in ("japanese", "foreign")},
        sex_only,
        f"{year} report", f"residents at the end of {start - dt.timedelta(days=1)} and of {day}")
    return pl.DataFrame(rows)


def movement_rows(where: tuple[str, str, str], population: pl.DataFrame, households: pl.DataFrame,
                  movements: pl.DataFrame | None, before: dict[str, int] | None, sex_only: dict[str, int],
                  what: str = "report", period: str = "") -> list[dict]:
    """The 人口・世帯数・人口動態 rows (one per 区分) of one area from its frames; movements None: those cells empty.

    where = (団体コード, 都道府県名, 市区町村名); before = residents at the start of the period by nationality
    group; sex_only = changes of sex alone by nationality group. Shared by `stats report` and the roll-up."""
    code, prefecture, name = where
    # each frame summed once by key, the rows then in Python: the roll-up builds rows for ~2,000 areas
    residents = _sums(population, ["nationality_group", "sex"], ["residents"])
    by_type = _sums(households, ["household_type"], ["households"])
    counts = [c for c in movements.columns if c not in ("nationality_group", "sex")] if movements is not None else []
    moved = _sums(movements, ["nationality_group"], counts) if movements is not None else {}
    hh = {t: by_type.get((t,), {}).get("households", 0) for t in ("japanese", "mixed", "foreign")}
    rows = []
    for label, groups in GROUPS:
        men = sum(residents.get((g, "1"), {}).get("residents", 0) for g in groups)
        women = sum(residents.get((g, "2"), {}).get("residents", 0) for g in groups)
        row = {"団体コード": code, "都道府県名": prefecture, "市区町村名": name, "区分": label,
               "男": men, "女": women, "計": men + women}
        if label == "総計":
            row |= {"日本人のみの世帯": hh["japanese"], "複数国籍世帯": hh["mixed"], "外国人のみの世帯": hh["foreign"],
                    "世帯数": sum(hh.values())}
        elif label == "日本人住民":
            row |= {"日本人のみの世帯": hh["japanese"], "複数国籍世帯": hh["mixed"], "外国人のみの世帯": None,
                    "世帯数": hh["japanese"] + hh["mixed"]}
        else:
            row |= {"日本人のみの世帯": None, "複数国籍世帯": hh["mixed"], "外国人のみの世帯": hh["foreign"],
                    "世帯数": hh["foreign"] + hh["mixed"]}
        if movements is None or before is None:
            rows.append(row | dict.fromkeys(MOVEMENT_LABELS))
            continue
        base = sum(before.get(g, 0) for g in groups)
        v = {c: sum(moved.get((g,), {}).get(c, 0) for g in groups) for c in counts}
        # a corrected sex moves a person between the sexes only: no 記載 or 消除 in a table summed over sex
        same = sum(sex_only.get(g, 0) for g in groups)
        for column in ("other_additions", "additions"):
            v[column] -= same
        for column in ("other_removals", "removals"):
            v[column] -= same
        row |= {
            "転入者数（国内）": v["moved_in_domestic"], "転入者数（国外）": v["moved_in_abroad"],
            "転入者数（計）": v["moved_in_domestic"] + v["moved_in_abroad"],
            "出生者数": v["births"], "その他（記載）": v["other_additions"], "記載計": v["additions"],
            "転出者数（国内）": v["moved_out_domestic"], "転出者数（国外）": v["moved_out_abroad"],
            "転出者数（計）": v["moved_out_domestic"] + v["moved_out_abroad"],
            "死亡者数": v["deaths"], "その他（消除）": v["other_removals"], "消除計": v["removals"],
            "増減数": v["net_change"], "増減率（％）": _rate(v["net_change"], base),
            "自然増減数": v["natural_change"], "自然増減率（％）": _rate(v["natural_change"], base),
            "社会増減数": v["social_change"], "社会増減率（％）": _rate(v["social_change"], base),
        }
        if base + row["増減数"] != row["計"]:
            raise ReportDoesNotBalance(
                f"{what}, {label}: 前年 {base} + 増減数 {row['増減数']} ≠ 計 {row['計']}"
                + (f" ({period})" if period else ""))
        rows.append(row)
    return rows


MOVEMENT_LABELS = ("転入者数（国内）", "転入者数（国外）", "転入者数（計）", "出生者数", "その他（記載）", "記載計",
                   "転出者数（国内）", "転出者数（国外）", "転出者数（計）", "死亡者数", "その他（消除）", "消除計",
                   "増減数", "増減率（％）", "自然増減数", "自然増減率（％）", "社会増減数", "社会増減率（％）")
AGE_LABELS = {g: (f"{g.split('-')[0]}～{g.split('-')[1]}歳" if "-" in g else "100歳以上") for g in AGE_GROUPS}


def ages(con: duckdb.DuckDBPyConnection, year: int, where: tuple[str, str, str] = WHERE) -> pl.DataFrame:
    """年齢階級別人口 「1月1日現在」: one row per (区分, 性別), a column per 5-year group."""
    return pl.DataFrame(age_rows(where, stats.population(con, reference_date(year))))


def age_rows(where: tuple[str, str, str], population: pl.DataFrame) -> list[dict]:
    """The 年齢階級別人口 rows (one per 区分 and 性別) of one area from its population frame."""
    code, prefecture, name = where
    cells = _sums(population, ["nationality_group", "sex", "age_group"], ["residents"])
    rows = []
    for label, groups in GROUPS:
        for sex, sex_label in ((None, "計"), ("1", "男"), ("2", "女")):
            sexes = (sex,) if sex else ("1", "2")
            by_group = {a: sum(cells.get((g, s, a), {}).get("residents", 0) for g in groups for s in sexes)
                        for a in AGE_GROUPS}
            rows.append({"団体コード": code, "都道府県名": prefecture, "市区町村名": name,
                         "区分": label, "性別": sex_label, "総数": sum(v["residents"] for (g, s, _), v in cells.items()
                                                     if g in groups and s in sexes),
                         **{AGE_LABELS[g]: by_group[g] for g in AGE_GROUPS}})
    return rows


def _sums(frame: pl.DataFrame, keys: list[str], columns: list[str]) -> dict[tuple, dict[str, int]]:
    """key tuple -> {column: int sum} of a frame grouped by keys."""
    summed = frame.group_by(keys).agg(pl.col(c).sum() for c in columns)
    return {tuple(r[k] for k in keys): {c: int(r[c] or 0) for c in columns} for r in summed.iter_rows(named=True)}


def write_report(con: duckdb.DuckDBPyConnection, year: int, folder: Path,
                 where: tuple[str, str, str] = WHERE) -> list[Path]:
    """Write the year's two tables as CSV (UTF-8 with BOM, as spreadsheet tools expect) into folder.

    Raises ReportDoesNotBalance, before writing anything, when a row does not balance.
    """
    frames = ((f"{year}_人口動態及び世帯数.csv", population_and_movements(con, year, where)),
              (f"{year}_年齢階級別人口.csv", ages(con, year, where)))
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in frames:
        path = folder / name
        path.write_bytes(b"\xef\xbb\xbf" + frame.write_csv().encode("utf-8"))
        paths.append(path)
    return paths
