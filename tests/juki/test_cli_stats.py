"""`juki stats population|households|movements|report` on a small store built without Prefect."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from juki.cli import main
from tests.builders import event, foreigner, person, resident_code, write_file
from tests.builders import run_juki as run
from tests.conftest import Register

R = resident_code
POPULATION_KEYS = ["town_code", "sex", "age_group", "nationality_group", "residents"]
HOUSEHOLD_KEYS = ["town_code", "household_type", "households", "members"]
MOVEMENT_KEYS = ["nationality_group", "sex", "moved_in_domestic", "moved_in_abroad", "births", "other_additions",
                 "additions", "moved_out_domestic", "moved_out_abroad", "deaths", "other_removals", "removals",
                 "net_change", "natural_change", "social_change", "moves_within"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """A closed store: a BASELINE of three on 2025-12-31, then a move-in, a birth and a death on 2026-01-05."""
    root = tmp_path_factory.mktemp("cli-stats")
    reg = Register(root)
    try:
        base = [event(f"base{n}", "BASELINE", "2020-01-01", "2025-12-31", **r)
                for n, r in ((1, person(1)), (2, person(2, sex="2", town_code="0002")), (3, foreigner(3)))]
        changes = [
            event("in11", "MOVE_IN", "2026-01-05", **person(11, sex="2", town_code="0045"), prev_address="東京都"),
            event("bir12", "BIRTH", "2026-01-05", **person(12, household_id="H1", relationship="子",
                                                           birth_date="2026-01-05")),
            event("dth2", "DEATH", "2026-01-05", resident_code=R(2)),
        ]
        outcomes = reg.ingest(write_file(reg.inbox, "2025-12-31", base), write_file(reg.inbox, "2026-01-05", changes))
        assert [(o.status, o.rows_quarantined) for o in outcomes] == [("applied", 0)] * 2, reg.quarantine()
    finally:
        reg.con.close()
    return str(root / "registry.duckdb")


def csv_rows(text: str) -> tuple[list[str], list[dict]]:
    """The header and the rows of CSV text."""
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


# --- tables ---------------------------------------------------------------------------------

def test_population_csv(store, capsys):
    """CSV with the spec's header; town codes keep their leading zeros."""
    status, out, _ = run(capsys, "--store", store, "stats", "population", "--as-of", "2026-01-05")
    assert status == 0
    header, rows = csv_rows(out)
    assert header == POPULATION_KEYS
    assert [tuple(r.values()) for r in rows] == [
        ("0001", "1", "0-4", "japanese", "1"),
        ("0001", "1", "45-49", "foreign", "1"),
        ("0001", "1", "45-49", "japanese", "1"),
        ("0045", "2", "45-49", "japanese", "1"),
    ]


def test_population_json_matches_csv(store, capsys):
    """--format json prints only a list of objects with the same keys and values as the CSV."""
    _, out_csv, _ = run(capsys, "--store", store, "stats", "population", "--as-of", "2026-01-04")
    status, out, _ = run(capsys, "--store", store, "stats", "population", "--as-of", "2026-01-04",
                         "--format", "json")
    assert status == 0
    rows = json.loads(out)
    assert all(list(r) == POPULATION_KEYS for r in rows)
    assert [{k: str(v) for k, v in r.items()} for r in rows] == csv_rows(out_csv)[1]
    assert rows == [
        {"town_code": "0001", "sex": "1", "age_group": "45-49", "nationality_group": "foreign", "residents": 1},
        {"town_code": "0001", "sex": "1", "age_group": "45-49", "nationality_group": "japanese", "residents": 1},
        {"town_code": "0002", "sex": "2", "age_group": "45-49", "nationality_group": "japanese", "residents": 1},
    ]


def test_households_csv_and_json(store, capsys):
    """households, members by town and household type, in CSV and JSON."""
    status, out, _ = run(capsys, "--store", store, "stats", "households", "--as-of", "2026-01-05")
    assert status == 0
    header, rows = csv_rows(out)
    assert header == HOUSEHOLD_KEYS
    assert [tuple(r.values()) for r in rows] == [("0001", "foreign", "1", "1"), ("0001", "japanese", "1", "2"),
                                                 ("0045", "japanese", "1", "1")]
    status, out, _ = run(capsys, "--store", store, "stats", "households", "--as-of", "2026-01-05",
                         "--format", "json")
    assert status == 0
    assert json.loads(out) == [
        {"town_code": "0001", "household_type": "foreign", "households": 1, "members": 1},
        {"town_code": "0001", "household_type": "japanese", "households": 1, "members": 2},
        {"town_code": "0045", "household_type": "japanese", "households": 1, "members": 1},
    ]


def test_movements_csv_and_json(store, capsys):
    """The movement table with the spec's 16 keys; the BASELINE day counts nothing."""
    status, out, _ = run(capsys, "--store", store, "stats", "movements", "--from", "2025-12-31",
                         "--to", "2026-01-31")
    assert status == 0
    header, rows = csv_rows(out)
    assert header == MOVEMENT_KEYS
    assert [(r["nationality_group"], r["sex"]) for r in rows] == [("japanese", "1"), ("japanese", "2")]
    status, out, _ = run(capsys, "--store", store, "stats", "movements", "--from", "2025-12-31",
                         "--to", "2026-01-31", "--format", "json")
    assert status == 0
    (men, women) = json.loads(out)
    assert list(men) == MOVEMENT_KEYS
    assert {k: v for k, v in men.items() if v} == {"nationality_group": "japanese", "sex": "1", "births": 1,
                                                   "additions": 1, "net_change": 1, "natural_change": 1}
    assert {k: v for k, v in women.items() if v} == {
        "nationality_group": "japanese", "sex": "2", "moved_in_domestic": 1, "additions": 1, "deaths": 1,
        "removals": 1, "natural_change": -1, "social_change": 1}


def test_movements_of_a_quiet_period(store, capsys):
    """A period without movements: a header alone in CSV, an empty list in JSON."""
    status, out, _ = run(capsys, "--store", store, "stats", "movements", "--from", "2026-02-01", "--to", "2026-02-28")
    assert (status, out.splitlines()) == (0, [",".join(MOVEMENT_KEYS)])
    status, out, _ = run(capsys, "--store", store, "stats", "movements", "--from", "2026-02-01", "--to", "2026-02-28",
                         "--format", "json")
    assert (status, json.loads(out)) == (0, [])


def test_a_future_date_may_be_asked(store, capsys):
    """--as-of after the last file is allowed; ages move on."""
    status, out, _ = run(capsys, "--store", store, "stats", "population", "--as-of", "2031-01-05", "--format", "json")
    assert status == 0
    assert [r["age_group"] for r in json.loads(out)][0] == "5-9"


# --- usage errors ---------------------------------------------------------------------------

@pytest.mark.parametrize("table", ["population", "households"])
def test_as_of_before_the_first_baseline(store, capsys, table):
    """A day before the first BASELINE file is exit 2 with a message naming the first date; no output."""
    status, out, err = run(capsys, "--store", store, "stats", table, "--as-of", "2025-12-30")
    assert (status, out) == (2, "")
    assert "2025-12-31" in err and "2025-12-30" in err


def test_movements_from_before_the_first_baseline(store, capsys):
    """--from before the first BASELINE file is exit 2 naming the first date."""
    status, out, err = run(capsys, "--store", store, "stats", "movements", "--from", "2025-01-01",
                           "--to", "2026-01-31")
    assert (status, out) == (2, "")
    assert "2025-12-31" in err


def test_movements_to_before_from(store, capsys):
    """--to before --from is exit 2."""
    status, out, err = run(capsys, "--store", store, "stats", "movements", "--from", "2026-01-10",
                           "--to", "2026-01-09")
    assert (status, out) == (2, "")
    assert "--to is before --from" in err


def test_a_bad_date_is_a_usage_error(store, capsys):
    """A date that is not YYYY-MM-DD stops argparse with exit 2."""
    with pytest.raises(SystemExit) as exc:
        main(["--store", store, "stats", "population", "--as-of", "2026-02-30"])
    assert exc.value.code == 2
    assert "is not a date" in capsys.readouterr().err


def test_no_store_is_a_usage_error(tmp_path, capsys):
    """A store that does not exist is exit 2 and is not created."""
    missing = tmp_path / "nothing.duckdb"
    status, _, err = run(capsys, "--store", str(missing), "stats", "population", "--as-of", "2026-01-05")
    assert status == 2 and "no store" in err
    assert not missing.exists()


# --- report ---------------------------------------------------------------------------------

def test_report_for_a_year_before_the_register(store, capsys, tmp_path):
    """The 2026 report needs the population at the end of 2024: exit 2 naming the first date; nothing written."""
    status, out, err = run(capsys, "--store", store, "stats", "report", "--year", "2026", "--out", str(tmp_path / "r"))
    assert (status, out) == (2, "")
    assert "2025-12-31" in err and "2024" in err
    assert not (tmp_path / "r").exists()


def test_report_out(store, capsys, tmp_path):
    """report --out writes the two CSVs there and prints their paths."""
    folder = tmp_path / "report"
    status, out, _ = run(capsys, "--store", store, "stats", "report", "--year", "2027", "--out", str(folder))
    assert status == 0
    paths = [Path(p) for p in out.splitlines()]
    assert [p.name for p in paths] == ["2027_人口動態及び世帯数.csv", "2027_年齢階級別人口.csv"]
    assert all(p.parent == folder and p.read_bytes().startswith(b"\xef\xbb\xbf") for p in paths)
    rows = list(csv.DictReader(io.StringIO(paths[0].read_text(encoding="utf-8-sig"))))
    total = rows[0]
    assert (total["区分"], total["計"], total["出生者数"], total["死亡者数"], total["転入者数（国内）"],
            total["増減数"]) == ("総計", "4", "1", "1", "1", "1")


def test_report_names_the_registers_municipality(store, capsys, tmp_path, monkeypatch):
    """$JUKI_MUNICIPALITY_CODE (a city of the nation) labels the report's rows with its 団体コード and names."""
    monkeypatch.setenv("JUKI_MUNICIPALITY_CODE", "131016")
    status, out, _ = run(capsys, "--store", store, "stats", "report", "--year", "2027", "--out", str(tmp_path / "r"))
    assert status == 0
    for path in out.splitlines():
        rows = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8-sig"))))
        assert {(r["団体コード"], r["都道府県名"], r["市区町村名"]) for r in rows} == {("131016", "東京都", "千代田区")}
    monkeypatch.setenv("JUKI_MUNICIPALITY_CODE", "999999")
    status, _, err = run(capsys, "--store", store, "stats", "report", "--year", "2027", "--out", str(tmp_path / "s"))
    assert status == 2 and "999999 is not in data/reference/municipalities.csv" in err


def test_report_default_folder(store, capsys):
    """Without --out the report goes to stats/report-YEAR beside the store."""
    status, out, _ = run(capsys, "--store", store, "stats", "report", "--year", "2027")
    assert status == 0
    folder = Path(store).resolve().parent / "stats" / "report-2027"
    assert [Path(p).parent.resolve() for p in out.splitlines()] == [folder, folder]
    assert sorted(p.name for p in folder.iterdir()) == ["2027_人口動態及び世帯数.csv", "2027_年齢階級別人口.csv"]


def test_a_register_without_baseline_is_a_usage_error(tmp_path, capsys):
    """A store that holds no BASELINE yet answers no statistics: exit 2 saying so."""
    Register(tmp_path).con.close()
    status, out, err = run(capsys, "--store", str(tmp_path / "registry.duckdb"), "stats", "households",
                           "--as-of", "2026-01-05")
    assert (status, out) == (2, "")
    assert "no BASELINE" in err


@pytest.mark.parametrize("year", ["1", "10000"])
def test_report_year_out_of_range_is_a_usage_error(store, capsys, tmp_path, year):
    """A year whose 1 January or previous year is no date is a usage error (exit 2), not a traceback."""
    status, out, err = run(capsys, "--store", store, "stats", "report", "--year", year, "--out", str(tmp_path / "r"))
    assert (status, out) == (2, "")
    assert year in err
    assert not (tmp_path / "r").exists()


def test_report_that_does_not_balance_fails(tmp_path, capsys):
    """A row where 前年 + 増減数 ≠ 計 (a record migrated in mid-year): exit 1 naming the row; nothing written."""
    reg = Register(tmp_path)
    try:
        outcomes = reg.ingest(
            write_file(reg.inbox, "2025-12-31", [event("b1", "BASELINE", "2020-01-01", "2025-12-31", **person(1))]),
            write_file(reg.inbox, "2026-07-01", [event("b2", "BASELINE", "2026-06-01", "2026-07-01", **person(2))]))
        assert [o.rows_applied for o in outcomes] == [1, 1]
    finally:
        reg.con.close()
    status, out, err = run(capsys, "--store", str(tmp_path / "registry.duckdb"), "stats", "report", "--year", "2027",
                           "--out", str(tmp_path / "r"))
    assert (status, out) == (1, "")
    assert "総計" in err and "nothing written" in err
    assert not (tmp_path / "r").exists()
