"""The accepted events reach DuckDB one slice of the file at a time: the same register whatever the slice size."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks import apply
from tests.builders import csv_text, event, foreigner, person, resident_code, write_file
from tests.conftest import Register

DAY = "2026-04-01"
EVENT = ("select * exclude (recorded_at, run_id) from event order by delivery_no, line")
VERSIONS = ("select * exclude (recorded_from, recorded_to) from resident_version order by resident_code, version_no")
QUARANTINE = "select line, rule_ids, raw_row from quarantine order by delivery_no, line"


def _files(inbox: Path) -> list[Path]:
    people = [person(n) for n in range(1, 8)] + [foreigner(8), person(9, sex="9"), person(10)]
    baseline = [event(f"base{n}", "BASELINE", "2020-01-01", DAY, **p) for n, p in enumerate(people, 1)]
    day = [event("move1", "MOVE_WITHIN", "2026-04-02", "2026-04-02", resident_code=resident_code(1),
                 town_code="0002", address_line="4-5-6"),
           event("code1", "RESIDENT_CODE_CHANGE", "2026-04-02", "2026-04-02", resident_code=resident_code(2),
                 new_resident_code=resident_code(20)),
           event("move2", "MOVE_WITHIN", "2026-04-02", "2026-04-02", resident_code=resident_code(20),
                 town_code="0003", address_line="7-8-9")]
    return [write_file(inbox, DAY, baseline), write_file(inbox, "2026-04-02", day)]


def _register(root: Path) -> list:
    root.mkdir()
    reg = Register(root)
    try:
        outcomes = reg.ingest(*_files(reg.inbox))
        return [[o.as_dict() | {"sha256": None} for o in outcomes], reg.rows(EVENT), reg.rows(VERSIONS),
                reg.rows(QUARANTINE)]
    finally:
        reg.con.close()


@pytest.mark.parametrize("size", [1, 2, 3])
def test_slices_give_the_same_register(size, tmp_path, monkeypatch):
    whole = _register(tmp_path / "whole")
    monkeypatch.setattr(apply, "ACCEPTED_SLICE_ROWS", size)
    sliced = _register(tmp_path / "sliced")
    assert sliced == whole
    outcomes, events, _versions, quarantine = whole
    assert [o["rows_applied"] for o in outcomes] == [9, 3] and len(events) == 12 and len(quarantine) == 1
