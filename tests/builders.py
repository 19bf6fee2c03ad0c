"""Small inline change files for tests: valid rows by default, overridden per test."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from schemas.change_file import COLUMNS, my_number_check_digit, resident_code_check_digit


def resident_code(n: int) -> str:
    """A valid 住民票コード made from a small number."""
    body = f"{n:010d}"
    return body + str(resident_code_check_digit(body))


def my_number(n: int) -> str:
    """A valid 個人番号 made from a small number."""
    body = f"{n:011d}"
    return body + str(my_number_check_digit(body))


def person(n: int, **overrides) -> dict:
    """The full record of a Japanese adult, person n."""
    row = {
        "resident_code": resident_code(n), "my_number": my_number(n), "household_id": f"H{n}",
        "relationship": "世帯主", "family_name": "川口", "given_name": "太郎",
        "family_name_kana": "カワグチ", "given_name_kana": "タロウ", "birth_date": "1980-05-05",
        "sex": "1", "nationality": "JP", "town_code": "0001", "address_line": "1-2-3",
        "honseki": "埼玉県川口市本町一丁目1番地", "hittousha": "川口　太郎",
    }
    row.update(overrides)
    return row


def foreigner(n: int, **overrides) -> dict:
    """The full record of a mid-to-long-term foreign resident, person n."""
    row = person(n, family_name="WANG", given_name="WEI", family_name_kana="ワン", given_name_kana="ウェイ",
                 nationality="CN", honseki=None, hittousha=None, foreign_resident_category="MID_LONG",
                 residence_status="留学", residence_card_no="AB12345678CD", stay_expiry_date="2028-03-31")
    row.update(overrides)
    return row


def event(event_id: str, event_type: str, effective: str, notified: str | None = None, **columns) -> dict:
    """One change row."""
    return {"event_id": event_id, "event_type": event_type, "effective_date": effective,
            "notified_date": notified or effective, **columns}


def csv_text(rows: list[dict], columns: tuple[str, ...] = COLUMNS, newline: str = "\n") -> str:
    """The change file's text: header and rows, empty for missing values."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    return out.getvalue()


def write_file(folder: Path, business_date: str, rows: list[dict], encoding: str = "utf-8", **kwargs) -> Path:
    """Write 112038_changes_<date>.csv into folder and return its path."""
    path = folder / f"112038_changes_{business_date.replace('-', '')}.csv"
    path.write_bytes(csv_text(rows, **kwargs).encode(encoding))
    return path


def run_juki(capsys, *argv: str) -> tuple[int, str, str]:
    """Run juki in-process: (exit status, stdout, stderr)."""
    from juki.cli import main

    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err
