"""`juki retention`: --dry-run counts without Prefect and changes nothing; unlawful or future erasures are refused."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from juki.cli import main
from juki_core.store import connect
from tasks.audit import register_digest
from tests.builders import event, my_number, person, resident_code, write_file
from tests.conftest import Register

R = resident_code


@pytest.fixture
def store(tmp_path) -> str:
    """Person 1 died in 2024 (a late death), person 2 is current; one refused row."""
    reg = Register(tmp_path)
    try:
        base = [event("b1", "BASELINE", "2020-01-01", "2026-04-01", **person(1)),
                event("b2", "BASELINE", "2020-01-01", "2026-04-01", **person(2)),
                event("bad", "BASELINE", "2020-01-01", "2026-04-01", **person(3, sex="9"))]
        changes = [event("d1", "DEATH", "2024-04-01", "2026-04-02", resident_code=R(1))]
        reg.ingest(write_file(reg.inbox, "2026-04-01", base), write_file(reg.inbox, "2026-04-02", changes))
    finally:
        reg.con.close()
    return str(tmp_path / "registry.duckdb")


def _state(store: str) -> tuple:
    with connect(Path(store), read_only=True) as con:
        return register_digest(con), con.execute("select count(*) from run_ledger").fetchall()


def test_dry_run_prints_the_counts_and_changes_nothing(store, capsys):
    """Counts of what would go as of the day asked; the register digest and the run ledger stay as they were."""
    before = _state(store)

    status = main(["--store", store, "retention", "--dry-run", "--as-of", "2175-04-02"])
    out, err = capsys.readouterr()

    assert status == 0 and err == ""
    assert out.strip() == (
        "As of 2175-04-02, retention would erase 1 removed record(s) (除票) removed before 2025-04-02 (3 version(s), "
        "2 event(s)) and would purge the raw text of 1 refused row(s) from 1 delivery(ies) dated before 2174-04-02.")
    assert _state(store) == before
    assert my_number(1) not in out and not re.search(r"\d{12}", out)


def test_dry_run_on_a_store_from_before_retention_adds_only_the_empty_tables(store, capsys):
    """A store no writer opened since retention came gets its (empty) retention tables; the register is as it was."""
    with connect(Path(store)) as con:
        con.execute("drop table erased_resident")
        con.execute("drop table quarantine_purge")
        con.execute("alter table quarantine drop column purged_by")
    before = _state(store)

    assert main(["--store", store, "retention", "--dry-run", "--as-of", "2026-06-01"]) == 0
    assert "would erase 0 removed record(s)" in capsys.readouterr().out
    assert _state(store) == before


@pytest.mark.parametrize(("argv", "says"), [
    (["--as-of", "2175-04-02"], "is after today"),
    (["--years", "149"], "shorter than the 150 years"),
    (["--quarantine-days", "-1"], "at least 0"),
    (["--quarantine-days", "0"], "add --force"),  # issue 10, case 9: this week's refused rows had no guard
    (["--quarantine-days", "29"], "add --force"),
])
def test_an_erasure_before_its_time_is_a_usage_error(store, capsys, argv, says):
    """Refused before Prefect starts, exit 2, nothing changed."""
    before = _state(store)
    assert main(["--store", store, "retention", *argv]) == 2
    assert says in capsys.readouterr().err
    assert _state(store) == before


def test_a_short_quarantine_period_needs_force(store, capsys, monkeypatch):
    """--quarantine-days below 30 runs with --force (the flow is stubbed: only the guard is under test)."""
    import juki.runner

    calls = []
    monkeypatch.setattr(juki.runner, "run_retention", lambda *args: calls.append(args) or 0)
    assert main(["--store", store, "retention", "--quarantine-days", "0", "--force"]) == 0
    assert [c[3] for c in calls] == [0]
    assert main(["--store", store, "retention", "--quarantine-days", "30"]) == 0
    assert main(["--store", store, "retention", "--quarantine-days", "0", "--dry-run"]) == 0


def test_help_says_what_is_erased_and_what_is_kept(capsys):
    """The help teaches: the rule, the columns cleared, what stays, and the dry run."""
    with pytest.raises(SystemExit):
        main(["retention", "--help"])
    out = capsys.readouterr().out
    for words in ("150", "My Number", "Kept:", "tombstone", "--dry-run", "--quarantine-days"):
        assert words in out


def test_show_of_an_erased_person_names_the_tombstone(store, capsys):
    """`juki show` of an erased person: the skeleton that is kept, and when and by which run it was erased."""
    import json

    from tasks import retention

    with connect(Path(store)) as con:
        retention.erase(con, dt.date(2175, 4, 2), run_id="ret-1")

    assert main(["--store", store, "show", R(1), "--as-of", "2026-04-02", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "removed" and shown["erased"]["run_id"] == "ret-1"
    assert shown["record"]["family_name"] is None and shown["record"]["my_number"] is None
    assert main(["--store", store, "show", R(2), "--as-of", "2026-04-02", "--format", "json"]) == 0
    assert "erased" not in json.loads(capsys.readouterr().out)
    assert main(["--store", store, "show", R(1), "--as-of", "2026-04-02"]) == 0
    assert re.search(r"^erased\s+\d{4}-\d\d-\d\d UTC by retention run ret-1 \(removed 2024-04-01",
                     capsys.readouterr().out, re.M)
