"""Writing the files: broken rows placed among the valid ones, encodings, CSV and truth JSON."""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import json
import random
from pathlib import Path
from typing import Callable, Iterable, Iterator

from schemas.change_file import COLUMNS, MUNICIPALITY_CODE
from synthetic.calibration import BOM_SHARE


def _place(rr: random.Random, n_valid: int, broken: list[tuple[dict, str]],
           id_before: Callable[[int], str] | None = None) -> tuple[list[tuple[int, dict]], list[dict]]:
    """Random places among the valid rows for the broken ones; returns (slot, row) pairs and truth.

    A broken row in slot k comes right before valid row k (0-based); the header is line 1.
    """
    placed = []
    for row, rule in broken:
        slot = rr.randint(0, n_valid)
        if rule == "DUPLICATE_EVENT_ID" and id_before is not None:
            if n_valid == 0:
                continue
            slot = max(slot, 1)  # the id must repeat one that comes before it
            row["event_id"] = id_before(rr.randrange(slot))
        placed.append((slot, row, rule))
    placed.sort(key=lambda x: x[0])
    truth = [{"line": slot + j + 2, "rule_id": rule} for j, (slot, _row, rule) in enumerate(placed)]
    return [(slot, row) for slot, row, _rule in placed], truth


def _merged(valid: Iterable[dict], placed: list[tuple[int, dict]]) -> Iterator[dict]:
    """The valid rows with the broken ones in their slots."""
    j = 0
    for i, row in enumerate(valid):
        while j < len(placed) and placed[j][0] == i:
            yield placed[j][1]
            j += 1
        yield row
    for _slot, row in placed[j:]:
        yield row



def _file_name(day: datetime.date, municipality_code: str = MUNICIPALITY_CODE) -> str:
    """`112038_changes_<YYYYMMDD>.csv`."""
    return f"{municipality_code}_changes_{day.strftime('%Y%m%d')}.csv"


def _encodings(rr: random.Random, n_files: int) -> list[str]:
    """One CP932 day in every run of seven files (seeded place); the rest UTF-8, a quarter with a BOM."""
    out = []
    for start in range(0, n_files, 7):
        cp932_at = rr.randrange(7)
        for i in range(start, min(start + 7, n_files)):
            out.append("cp932" if i - start == cp932_at else "utf-8-sig" if rr.random() < BOM_SHARE else "utf-8")
    return out


def _write_csv(path: Path, rows: Iterable[dict], encoding: str) -> int:
    """Header with every column in agreement order, then the rows, minimal quoting; returns the row count."""
    newline = "\r\n" if encoding == "cp932" else "\n"
    codec = "utf-8" if encoding == "utf-8-sig" else encoding  # the BOM once, not per chunk
    n = 0
    with open(path, "wb") as f:
        if encoding == "utf-8-sig":
            f.write(codecs.BOM_UTF8)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator=newline, quoting=csv.QUOTE_MINIMAL)
        w.writerow(COLUMNS)
        for row in rows:
            w.writerow([row.get(k, "") for k in COLUMNS])
            n += 1
            if n % 20_000 == 0:
                f.write(buf.getvalue().encode(codec))
                buf.seek(0)
                buf.truncate()
        f.write(buf.getvalue().encode(codec))
    return n


def _write_day(out: Path, day: datetime.date, rows: Iterable[dict], truth: list[dict], encoding: str,
               municipality_code: str = MUNICIPALITY_CODE) -> Path:
    """Write one change file and its truth JSON."""
    path = out / _file_name(day, municipality_code)
    n = _write_csv(path, rows, encoding)
    doc = {"file": path.name, "rows": n, "encoding": encoding, "broken": truth}
    (out / "truth" / f"{path.stem}.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n",
                                                      encoding="utf-8")
    return path
