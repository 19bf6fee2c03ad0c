"""The read-only commands of `juki` (show, quarantine) and its usage errors, on a store built without Prefect."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from juki.cli import main
from tests.builders import event, foreigner, my_number, person, resident_code, write_file
from tests.builders import run_juki as run
from tests.conftest import Register

R = resident_code
FIRST_FILE = "112038_changes_20260401.csv"
SECOND_FILE = "112038_changes_20260402.csv"
FULL_NUMBERS = [my_number(n) for n in (1, 2, 3, 4)]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """A closed store: persons 1-3 from the BASELINE, a move, a death, a planned move-out and two refused rows."""
    root = tmp_path_factory.mktemp("cli")
    reg = Register(root)
    try:
        base = [event(f"base{n}", "BASELINE", "2020-01-01", "2026-04-01", **rec)
                for n, rec in ((1, person(1)), (2, person(2)), (3, foreigner(3)))]
        base.append(event("bad-sex", "BASELINE", "2020-01-01", "2026-04-01", **person(4, sex="9")))
        changes = [
            event("m1", "MOVE_WITHIN", "2026-04-02", resident_code=R(1), town_code="0002", address_line="9-9"),
            event("x2", "DEATH", "2026-04-02", resident_code=R(2)),
            event("o3", "MOVE_OUT", "2026-04-12", "2026-04-02", resident_code=R(3), dest_address="東京都"),
            event("bad-town", "MOVE_WITHIN", "2026-04-02", resident_code=R(1), town_code="9999",
                  address_line="1"),
        ]
        outcomes = reg.ingest(write_file(reg.inbox, "2026-04-01", base), write_file(reg.inbox, "2026-04-02", changes))
        assert [(o.rows_applied, o.rows_quarantined) for o in outcomes] == [(3, 1), (3, 1)], reg.quarantine()
    finally:
        reg.con.close()
    return str(root / "registry.duckdb")


def assert_no_full_my_number(text: str) -> None:
    """No full My Number of the store, nor any 12-digit run, appears in the text."""
    assert not any(number in text for number in FULL_NUMBERS)
    assert not re.search(r"(?<!\d)\d{12}(?!\d)", text)


# --- show -----------------------------------------------------------------------------------

def test_show_text_current(store, capsys):
    """Text output names the person, their status and history, with My Number masked."""
    status, out, _ = run(capsys, "--store", store, "show", R(1), "--as-of", "2026-04-05")
    assert status == 0
    assert re.search(rf"^resident_code\s+{R(1)}$", out, re.M)
    assert re.search(r"^status\s+current$", out, re.M)
    assert re.search(r"^\s+my_number\s+\*{8}" + my_number(1)[-4:] + "$", out, re.M)
    assert re.search(r"^\s+town_code\s+0002$", out, re.M)
    history = out.split("history:\n", 1)[1].splitlines()
    assert len(history) == 2 and "BASELINE" in history[0] and "MOVE_WITHIN" in history[1]
    assert_no_full_my_number(out)


def test_show_json_keys_and_masking(store, capsys):
    """JSON has resident_code/status/record/history/household_head; every my_number shows only its last 4 digits."""
    status, out, _ = run(capsys, "--store", store, "show", R(1), "--as-of", "2026-04-01", "--format", "json")
    assert status == 0
    shown = json.loads(out)
    assert set(shown) == {"resident_code", "status", "record", "history", "household_head"}
    assert (shown["resident_code"], shown["status"]) == (R(1), "current")
    assert shown["household_head"]["head_basis"] in ("declared", "by_authority")
    masked = "*" * 8 + my_number(1)[-4:]
    assert shown["record"]["my_number"] == masked
    assert shown["record"]["town_code"] == "0001"
    assert [v["event_id"] for v in shown["history"]] == ["base1", "m1"]
    assert [v["my_number"] for v in shown["history"]] == [masked, masked]
    assert [(v["valid_from"], v["valid_to"]) for v in shown["history"]] == [
        ("2020-01-01", "2026-04-02"), ("2026-04-02", None)]
    assert_no_full_my_number(out)


def test_show_removed_person(store, capsys):
    """After a death the status is removed; before it, current."""
    _, out, _ = run(capsys, "--store", store, "show", R(2), "--as-of", "2026-04-02", "--format", "json")
    after = json.loads(out)
    assert after["status"] == "removed" and after["record"]["event_type"] == "DEATH"
    _, out, _ = run(capsys, "--store", store, "show", R(2), "--as-of", "2026-04-01", "--format", "json")
    assert json.loads(out)["status"] == "current"


def test_show_future_date_after_a_planned_move_out(store, capsys):
    """A planned move-out leaves the person current before its date and removed from it."""
    _, out, _ = run(capsys, "--store", store, "show", R(3), "--as-of", "2026-04-11", "--format", "json")
    assert json.loads(out)["status"] == "current"
    _, out, _ = run(capsys, "--store", store, "show", R(3), "--as-of", "2026-04-12", "--format", "json")
    shown = json.loads(out)
    assert shown["status"] == "removed" and shown["record"]["dest_address"] == "東京都"


def test_show_unknown_person(store, capsys):
    """A resident code the register never saw: status unknown, no record, no history."""
    status, out, _ = run(capsys, "--store", store, "show", R(99), "--as-of", "2026-04-05", "--format", "json")
    assert status == 0
    assert json.loads(out) == {"resident_code": R(99), "status": "unknown", "record": None, "history": []}
    status, out, _ = run(capsys, "--store", store, "show", R(99), "--as-of", "2026-04-05")
    assert re.search(r"^status\s+unknown$", out, re.M)


def test_show_refused_person_is_unknown(store, capsys):
    """A person whose only row was quarantined is not in the register."""
    _, out, _ = run(capsys, "--store", store, "show", R(4), "--as-of", "2026-04-05", "--format", "json")
    assert json.loads(out)["status"] == "unknown"


def test_show_before_the_first_baseline_is_a_usage_error(store, capsys):
    """--as-of before the first BASELINE file's business date exits 2 and says from when the register knows."""
    status, out, err = run(capsys, "--store", store, "show", R(1), "--as-of", "2026-03-31")
    assert status == 2
    assert out == ""
    assert "2026-04-01" in err and "2026-03-31" in err


def test_show_baseline_business_date_is_allowed(store, capsys):
    """The business date of the first BASELINE file itself may be asked."""
    status, _, _ = run(capsys, "--store", store, "show", R(1), "--as-of", "2026-04-01")
    assert status == 0


def test_show_malformed_resident_code_is_a_usage_error(store, capsys):
    """A resident code that is not 11 digits exits 2."""
    status, out, err = run(capsys, "--store", store, "show", "12345", "--as-of", "2026-04-05")
    assert status == 2 and out == "" and "12345" in err


def test_show_bad_date_is_a_usage_error(store, capsys):
    """An impossible --as-of date exits 2 (argparse)."""
    with pytest.raises(SystemExit) as info:
        main(["--store", store, "show", R(1), "--as-of", "2026-02-30"])
    assert info.value.code == 2
    assert "2026-02-30" in capsys.readouterr().err


# --- quarantine -----------------------------------------------------------------------------

def test_quarantine_csv(store, capsys):
    """CSV with the columns file, line, event_id, resident_code, rules, in delivery and line order."""
    status, out, _ = run(capsys, "--store", store, "quarantine")
    assert status == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows == [["file", "line", "event_id", "resident_code", "rules"],
                    [FIRST_FILE, "5", "bad-sex", R(4), "SEX_CODE_INVALID"],
                    [SECOND_FILE, "5", "bad-town", R(1), "TOWN_CODE_UNKNOWN"]]
    assert_no_full_my_number(out)


def test_quarantine_json(store, capsys):
    """JSON is a list of objects with the same keys; rules is a list of rule ids."""
    status, out, _ = run(capsys, "--store", store, "quarantine", "--format", "json")
    assert status == 0
    rows = json.loads(out)
    assert rows == [
        {"file": FIRST_FILE, "line": 5, "event_id": "bad-sex", "resident_code": R(4), "rules": ["SEX_CODE_INVALID"]},
        {"file": SECOND_FILE, "line": 5, "event_id": "bad-town", "resident_code": R(1),
         "rules": ["TOWN_CODE_UNKNOWN"]},
    ]
    assert_no_full_my_number(out)


def test_quarantine_file_filter(store, capsys):
    """--file keeps the rows of that file only; an unknown name gives none."""
    _, out, _ = run(capsys, "--store", store, "quarantine", "--file", SECOND_FILE, "--format", "json")
    assert [r["event_id"] for r in json.loads(out)] == ["bad-town"]
    _, out, _ = run(capsys, "--store", store, "quarantine", "--file", "112038_changes_20990101.csv")
    assert out.splitlines() == ["file,line,event_id,resident_code,rules"]


def test_store_option_after_the_command_and_from_the_environment(store, capsys, monkeypatch):
    """--store may follow the command, and $JUKI_STORE is used when --store is absent."""
    status, out, _ = run(capsys, "quarantine", "--store", store, "--format", "json")
    assert status == 0 and len(json.loads(out)) == 2
    monkeypatch.setenv("JUKI_STORE", store)
    status, out, _ = run(capsys, "quarantine", "--format", "json")
    assert status == 0 and len(json.loads(out)) == 2


# --- usage errors ---------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["show", "00000000019", "--as-of", "2026-04-05"], ["quarantine"]])
def test_missing_store_is_a_usage_error(tmp_path: Path, capsys, argv):
    """A store that does not exist exits 2 with a message naming it, and is not created."""
    missing = tmp_path / "nowhere" / "registry.duckdb"
    status, out, err = run(capsys, "--store", str(missing), *argv)
    assert status == 2 and out == ""
    assert str(missing) in err
    assert not missing.exists()


def test_unknown_command_is_a_usage_error(capsys):
    """An unknown command exits 2."""
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "frobnicate" in capsys.readouterr().err


def test_no_command_is_a_usage_error(capsys):
    """No command at all exits 2."""
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


def test_ingest_of_a_folder_is_one_sentence_before_prefect_starts(tmp_path, capsys, monkeypatch):
    """Issue 10, case 10: `juki ingest` of a folder named like a change file: exit 2, one sentence, no flow."""
    import juki.runner

    folder = tmp_path / "inbox" / "112038_changes_20260402.csv"
    folder.mkdir(parents=True)
    monkeypatch.setattr(juki.runner, "run_daily_linkage", lambda *a, **k: pytest.fail("the flow was started"))
    status, out, err = run(capsys, "--store", str(tmp_path / "registry.duckdb"), "ingest", str(folder))
    assert (status, out) == (2, "")
    assert err.startswith("juki ingest: 112038_changes_20260402.csv is a folder, not a change file")
    assert err.count("\n") == 1 and not (tmp_path / "registry.duckdb").exists()
