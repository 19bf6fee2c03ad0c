"""Shared fixtures: a fresh store per test and ingesting files without Prefect."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from juki_core.settings import Settings
from juki_core.store import connect
from tasks.ingest import FileOutcome, ingest_file

os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


class Register:
    """A store in a temporary folder, and the stages run without Prefect."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.settings = Settings(store=root / "registry.duckdb")
        self.inbox = root / "inbox"
        self.inbox.mkdir()
        self.con = connect(self.settings.store)

    def ingest(self, *paths: Path | str, max_refused_share: float = 0.5) -> list[FileOutcome]:
        """Take in files in the order given, as the flow does, run id 'test'."""
        return [ingest_file(self.con, str(p), self.settings.archive, self.settings.municipality_code,
                            max_refused_share, "test") for p in paths]

    def rows(self, sql: str, **params) -> list[tuple]:
        """All rows of a query."""
        return self.con.execute(sql, params or None).fetchall()

    def quarantine(self) -> dict[int, list[str]]:
        """line -> rule ids of every refused row of the last delivery."""
        return dict(self.rows("select line, rule_ids from quarantine "
                              "where delivery_no = (select max(delivery_no) from file_ledger) order by line"))

    def current(self, resident_code: str, day: str) -> dict | None:
        """The version of a person at the end of a day, as known now."""
        cur = self.con.execute(
            "select * from resident_version where resident_code = $c and recorded_to is null "
            "and valid_from <= $d and (valid_to is null or valid_to > $d)", {"c": resident_code, "d": day})
        names = [d[0] for d in cur.description]
        row = cur.fetchall()
        return dict(zip(names, row[-1])) if row else None


def pytest_collection_modifyitems(config, items):
    """The files that hold slow tests first: `make test` hands whole files to its workers in this order, so the
    longest start first and no worker is left alone with one at the end."""
    heavy = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in heavy)  # stable: the order within each group stays


@pytest.fixture
def register(tmp_path: Path):
    """A fresh, empty register."""
    reg = Register(tmp_path)
    yield reg
    reg.con.close()


# A few municipalities as schemas/municipalities.py gives them (real codes, rounded populations), so the
# nation's tests need neither the reference file nor its size.
NATION_ROWS = [
    # municipality_code, prefecture_code, prefecture, name, kind, parent_code, population
    ("011002", "01", "北海道", "札幌市", "designated_city", "", 1_960_000),
    ("011011", "01", "北海道", "札幌市中央区", "ward", "011002", 250_000),
    ("011029", "01", "北海道", "札幌市北区", "ward", "011002", 285_000),
    ("012041", "01", "北海道", "旭川市", "city", "", 320_000),
    ("014729", "01", "北海道", "幌加内町", "town", "", 1_370),
    ("111007", "11", "埼玉県", "さいたま市", "designated_city", "", 1_340_000),
    ("111015", "11", "埼玉県", "さいたま市西区", "ward", "111007", 94_000),
    ("111023", "11", "埼玉県", "さいたま市北区", "ward", "111007", 148_000),
    ("111031", "11", "埼玉県", "さいたま市大宮区", "ward", "111007", 122_000),
    ("112038", "11", "埼玉県", "川口市", "city", "", 607_000),
    ("112241", "11", "埼玉県", "戸田市", "city", "", 140_000),
    ("131016", "13", "東京都", "千代田区", "special_ward", "", 68_000),
    ("132012", "13", "東京都", "八王子市", "city", "", 560_000),
]


@pytest.fixture
def nation_reference(monkeypatch):
    """schemas.municipalities replaced by NATION_ROWS."""
    import sys
    import types
    from dataclasses import dataclass

    import schemas

    @dataclass(frozen=True)
    class Municipality:
        municipality_code: str
        prefecture_code: str
        prefecture: str
        name: str
        kind: str
        parent_code: str
        population: int
        households: int | None = None
        towns: int | None = None

    rows = [Municipality(*r) for r in NATION_ROWS]
    fake = types.ModuleType("schemas.municipalities")
    fake.Municipality = Municipality
    fake.municipalities = lambda: rows
    fake.municipality = lambda code: {m.municipality_code: m for m in rows}[code]
    fake.prefectures = lambda: {"01": ("010006", "北海道"), "11": ("110001", "埼玉県"), "13": ("130001", "東京都")}
    monkeypatch.setitem(sys.modules, "schemas.municipalities", fake)
    monkeypatch.setattr(schemas, "municipalities", fake, raising=False)
    return rows
