"""Issue 10 for the 法務省 feed: its receiver keys a person by 在留カード番号 (the feed carries no 住民票コード), and
after a second file for a published date, a late event, a cancellation and a publish skipped, it holds exactly
the register's newest records of the foreign residents it was told about."""

from __future__ import annotations

import io
import json
from pathlib import Path
from unittest import mock

import polars as pl
import pyarrow.parquet as pq
import yaml

from juki_core.store import connect
from schemas.change_file import MUNICIPALITY_PREFIX, town_names
from tasks import handoff, publish
from tasks.ingest import ingest_file
from tasks.validate_rows import VIOLATION_SCHEMA
from tests.builders import event, foreigner, resident_code, write_file

R = resident_code
CARDS = {1: "AB12345678CD", 2: "EF23456789GH", 3: "IJ34567890KL"}
ENTRY = ("entry_no", "event_id", "event_type", "effective_date", "notified_date", "cancels_event_id")

# (business date, rows, publish after it?): the baseline; a move and a name change in two files of one date;
# a late name change under an earlier move; a cancelled move, unpublished, and a 国外転出, caught up at the end
FILES = [
    ("2026-04-01", [event(f"base{n}", "BASELINE", "2020-01-01", "2026-04-01",
                          **foreigner(n, residence_card_no=card)) for n, card in CARDS.items()], True),
    ("2026-04-02", [event("a1", "MOVE_WITHIN", "2026-04-02", resident_code=R(1), town_code="0002",
                          address_line="1-1", household_id="H1", relationship="世帯主")], True),
    ("2026-04-02", [event("b2", "NAME_CHANGE", "2026-04-02", resident_code=R(2), family_name="LI",
                          given_name="NA", family_name_kana="リ", given_name_kana="ナ")], True),
    ("2026-04-10", [event("m1", "MOVE_WITHIN", "2026-04-10", resident_code=R(1), town_code="0003",
                          address_line="9-9", household_id="H1", relationship="世帯主")], True),
    ("2026-04-20", [event("n1", "NAME_CHANGE", "2026-04-03", "2026-04-20", resident_code=R(1),
                          family_name="ZHANG", given_name="WEI", family_name_kana="チャン",
                          given_name_kana="ウェイ")], True),
    ("2026-04-21", [event("x1", "CANCEL", "2026-04-21", resident_code=R(1), cancels_event_id="m1"),
                    event("o3", "MOVE_ABROAD", "2026-04-21", resident_code=R(3), dest_address="中華人民共和国")],
     False),
]


def _take_in(root: Path) -> None:
    subscribers = root / "subscribers.yaml"
    real = yaml.safe_load(handoff.SUBSCRIBERS_YAML.read_text(encoding="utf-8"))["subscribers"]
    subscribers.write_text(yaml.safe_dump({"subscribers": {"immigration": real["immigration"]}},
                                          allow_unicode=True), encoding="utf-8")
    with connect(root / "registry.duckdb") as con:
        for k, (day, rows, publish_after) in enumerate(FILES):
            folder = root / "inbox" / f"{k:03d}"  # two files of one date have one name: a folder each
            folder.mkdir(parents=True)
            outcome = ingest_file(con, str(write_file(folder, day, rows)), str(root / "archive"), "112038", 1.0,
                                  f"run{k}")
            assert outcome.rows_applied == len(rows), outcome
            if publish_after:
                publish.publish_handoffs(con, f"run{k}", root, lambda sub: None, plaintext=True,
                                         subscribers=str(subscribers))
        publish.publish_handoffs(con, "catch-up", root, lambda sub: None, plaintext=True,
                                 subscribers=str(subscribers))


def _ministry(target: Path) -> dict[str, dict]:
    """The ministry's side: each file in sequence order, each row replacing the record under its card number."""
    held: dict[str, dict] = {}
    headers = sorted((json.loads(p.read_text(encoding="utf-8")) for p in target.glob("changes-*.json")),
                     key=lambda h: h["sequence_no"])
    assert [h["sequence_no"] for h in headers] == list(range(1, len(headers) + 1))
    for header in headers:
        for row in pl.from_arrow(pq.read_table(io.BytesIO((target / header["file"]).read_bytes()))).to_dicts():
            assert "resident_code" not in row
            held[row["residence_card_no"]] = {k: v for k, v in row.items() if k not in ENTRY}
    return held


def _register_now(root: Path, fields: list[str]) -> dict[str, dict]:
    """The register's newest record of every foreign resident, by card number, with the feed's fields."""
    with connect(root / "registry.duckdb", read_only=True) as con:
        cursor = con.execute("select * from resident_version where recorded_to is null and valid_to is null "
                             "and nationality <> 'JP'")
        names = [d[0] for d in cursor.description]
        records = [dict(zip(names, r)) for r in cursor.fetchall()]
    towns = town_names()
    out = {}
    for r in records:
        r["address"] = MUNICIPALITY_PREFIX + towns[r["town_code"]] + r["address_line"]
        out[r["residence_card_no"]] = {"record_status": r["status"], **{f: r[f] for f in fields}}
    return out


def test_the_ministry_holds_the_registers_newest_records_by_card_number(tmp_path):
    fast = pl.DataFrame(schema=VIOLATION_SCHEMA)  # every row is valid; the row rules are tested elsewhere
    with mock.patch("tasks.validate_rows.row_violations", lambda rows, business_date: fast):
        _take_in(tmp_path)
    fields = list(handoff.load_subscribers(tmp_path / "subscribers.yaml")["immigration"].fields)

    held, now = _ministry(tmp_path / "outbox" / "immigration"), _register_now(tmp_path, fields)

    assert held == now
    assert held[CARDS[1]]["family_name"] == "ZHANG" and held[CARDS[1]]["address"].endswith("1-1")  # case 3
    assert held[CARDS[2]]["family_name"] == "LI"  # case 2: the second file of 04-02
    assert held[CARDS[3]]["record_status"] == "removed"
