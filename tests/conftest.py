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
