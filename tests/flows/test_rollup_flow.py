"""`juki rollup` and the `rollup` flow: written tables, exit status, the missing city named."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from juki.cli import main
from tasks import rollup as r
from tests.tasks.test_rollup import (CHIYODA_BAL, CHIYODA_HH, CHIYODA_POP, D, KAWAGUCHI_BAL, KAWAGUCHI_HH,
                                     KAWAGUCHI_POP, PREFECTURES, REFERENCE, write_city)


def read_csv(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data[3:].decode("utf-8"))))


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """Two cities with files for D and a third listed without any; the tiny reference list."""
    monkeypatch.setattr(r, "reference", lambda: (REFERENCE, PREFECTURES))
    write_city(tmp_path / "kawaguchi" / "stats", D, KAWAGUCHI_POP, KAWAGUCHI_HH, KAWAGUCHI_BAL)
    write_city(tmp_path / "chiyoda" / "stats", D, CHIYODA_POP, CHIYODA_HH, CHIYODA_BAL)
    (tmp_path / "cities.yaml").write_text(
        "cities:\n"
        "  - {name: kawaguchi, municipality_code: '112038', store: kawaguchi/registry.duckdb}\n"
        "  - {name: chiyoda, municipality_code: '131016', store: chiyoda/registry.duckdb}\n", encoding="utf-8")
    return tmp_path


def test_complete_then_incomplete(prefect_api, tiny, capsys):
    """Listed cities all reported: exit 0, 完了; --expect nation: さいたま市 missing, exit 1, named."""
    out = tiny / "out"
    args = ["rollup", "--date", D.isoformat(), "--cities", str(tiny / "cities.yaml"), "--out", str(out)]
    assert main([*args, "--expect", "listed"]) == 0
    printed = capsys.readouterr()
    assert printed.out.split() == [str(out / f"{D}_{n}") for n in ("人口動態及び世帯数.csv", "年齢階級別人口.csv",
                                                                 "報告状況.csv", "人口ピラミッド.png")]
    rows = read_csv(out / f"{D}_人口動態及び世帯数.csv")
    assert {x["集計状況"] for x in rows} == {"完了"} and rows[0]["団体コード"] == "000000" and rows[0]["計"] == "6"

    assert main(args) == 1
    err = capsys.readouterr().err
    assert "2 of 3 municipalities reported" in err and "missing: 111007" in err
    rows = read_csv(out / f"{D}_人口動態及び世帯数.csv")
    assert rows[0]["集計状況"] == "不完全（未報告1・不整合0）"
    status = {x["団体コード"]: x for x in read_csv(out / f"{D}_報告状況.csv")}
    assert status["111007"]["status"] == "missing" and status["112038"]["status"] == "reported"


@pytest.mark.parametrize("extra, says", [
    (["--from", "2026-04-07"], "--from is after --date"),
    (["--cities", "nowhere.yaml"], "cannot read the cities file"),
])
def test_usage_errors(tiny, capsys, extra, says):
    args = ["rollup", "--date", D.isoformat(), "--cities", str(tiny / "cities.yaml"), "--out", str(tiny / "o")]
    assert main([*args, *extra]) == 2
    assert says in capsys.readouterr().err and not (tiny / "o").exists()
