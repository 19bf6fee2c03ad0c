"""Files cut short or sent again (issue 10, case 6): a cut file changes nothing, the whole file then applies
the rest, and a row applied before with the same content is skipped, not refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from juki_core.settings import Settings
from juki_core.store import connect
from tasks import daily
from tasks.replay import replay
from tests.builders import COLUMNS, csv_text, event, person, resident_code, write_file
from tests.tasks.test_ingest import city, city_snapshot, move, support, table_counts  # noqa: F401 (fixtures)

R = resident_code
DAY = "2026-04-02"
NAME = "112038_changes_20260402.csv"


def nine_rows() -> list[dict]:
    """A day of nine rows: a move of each of persons 1-3 and 6-11."""
    return [move(n, f"m{n}", DAY, address_line=f"{n}-1-1") for n in (1, 2, 3, 6, 7, 8, 9, 10, 11)]


def cut_after(text: str, rows: int, extra: int = 0) -> bytes:
    """The text cut after the header and `rows` whole rows, plus `extra` characters of the next row."""
    lines = text.splitlines(keepends=True)
    return ("".join(lines[:rows + 1]) + lines[rows + 1][:extra]).encode("utf-8")


def send(register, data: bytes, folder: str):
    """Deliver bytes as the day's file (a new folder each time: the inbox keeps one file per name)."""
    path = register.root / folder / NAME
    path.parent.mkdir()
    path.write_bytes(data)
    (outcome,) = register.ingest(path)
    return outcome


def test_a_file_cut_mid_row_changes_nothing_and_the_whole_file_then_applies(city):
    """Issue 10, case 6: cut mid-row, 8 rows were applied and 1 quarantined, and the whole file sent afterwards
    was refused (FILE_TOO_MANY_REFUSED, eight DUPLICATE_EVENT_ID): the rest needed hand-editing."""
    text = csv_text(nine_rows())
    before = table_counts(city)

    cut = send(city, cut_after(text, 8, extra=25), "first")
    assert (cut.status, cut.rows_read, cut.rows_applied, cut.rows_quarantined) == ("refused", 0, 0, 0)
    assert "FILE_TRUNCATED" in cut.reason and "line 10 has no line end" in cut.reason
    assert table_counts(city) == before

    whole = send(city, text.encode("utf-8"), "again")
    assert (whole.status, whole.rows_read, whole.rows_applied, whole.rows_quarantined, whole.rows_skipped) == (
        "applied", 9, 9, 0, 0)


def test_a_file_cut_at_a_row_end_then_sent_whole_applies_only_the_rest(city):
    """A cut between two rows cannot be seen; the whole file sent after skips the 8 rows it already holds."""
    text = csv_text(nine_rows())
    first = send(city, cut_after(text, 8), "first")
    assert (first.status, first.rows_applied) == ("applied", 8)
    events = table_counts(city)["event"]

    whole = send(city, text.encode("utf-8"), "again")
    assert (whole.status, whole.rows_read, whole.rows_applied, whole.rows_quarantined, whole.rows_skipped) == (
        "applied", 9, 1, 0, 8)
    assert table_counts(city)["event"] == events + 1
    assert city.current(R(11), DAY)["address_line"] == "11-1-1"
    assert city.rows("select rows_skipped from file_ledger order by delivery_no desc limit 1") == [(8,)]


def test_the_same_content_is_compared_as_typed_values_not_bytes(city):
    """Re-sent in CP932 with CRLF, every field quoted and the columns reversed, with a value in a column the
    event type does not use: the same change, skipped. The same id with another address is refused."""
    rows = nine_rows()
    send(city, csv_text(rows).encode("utf-8"), "first")
    again = [dict(r, dest_address="(ignored)") if r["event_id"] == "m1" else r for r in rows]
    again[1] = dict(again[1], address_line="2-9-9")  # m2 moved somewhere else: not the same change
    text = csv_text(again, columns=tuple(reversed(COLUMNS)), newline="\r\n")
    quoted = "\r\n".join(",".join(f'"{v}"' if v else "" for v in line.split(",")) for line in text.split("\r\n"))

    outcome = send(city, quoted.encode("cp932"), "again")
    assert (outcome.rows_applied, outcome.rows_quarantined, outcome.rows_skipped) == (0, 1, 8)
    assert city.quarantine() == {3: ["DUPLICATE_EVENT_ID"]}
    assert city.current(R(2), DAY)["address_line"] == "2-1-1"


def test_a_second_row_with_the_id_in_the_same_file_is_still_a_duplicate(city):
    """Only the first row with an id applied before is skipped; a second one in the file is refused as before."""
    rows = [move(1, "m1", DAY), support(2, "s2", DAY)]
    send(city, csv_text(rows).encode("utf-8"), "first")
    outcome = send(city, csv_text(rows + [rows[0], support(3, "s3", DAY)]).encode("utf-8"), "again")
    assert (outcome.rows_applied, outcome.rows_quarantined, outcome.rows_skipped) == (1, 1, 2)
    assert city.quarantine() == {4: ["DUPLICATE_EVENT_ID"]}


def test_a_cancelled_event_sent_again_stays_cancelled(city):
    """A row applied and cancelled since is still applied before: skipped, the cancellation stands."""
    send(city, csv_text([move(1, "m1", DAY)]).encode("utf-8"), "first")
    cancel = event("c1", "CANCEL", DAY, resident_code=R(1), cancels_event_id="m1")
    path = write_file(city.root / "inbox", "2026-04-03", [cancel])
    city.ingest(path)
    outcome = send(city, csv_text([move(1, "m1", DAY), move(2, "m2", DAY)]).encode("utf-8"), "again")
    assert (outcome.rows_applied, outcome.rows_skipped) == (1, 1)
    assert city.current(R(1), "2026-04-03")["town_code"] == "0001"


def _run(con, settings: Settings, run_id: str, path: Path, parameters: dict | None = None) -> daily.RunRecord:
    params = daily.parameters(settings, [str(path)]) if parameters is None else parameters
    return daily.run(con, settings, run_id, [str(path)], params, key_for=lambda sub: bytes(range(32)))


def test_runs_recorded_before_the_rules_replay_as_they_ran_and_new_runs_verify(tmp_path):
    """A run whose ledger row lacks the rules read a cut file and refused a re-sent row as it did then; a replay
    of runs of both kinds matches every digest."""
    settings = Settings(store=tmp_path / "live" / "registry.duckdb")
    folders = [tmp_path / f"d{i}" for i in range(5)]
    for folder in folders:
        folder.mkdir()
    base = write_file(folders[0], "2026-04-01", [event(f"b{n}", "BASELINE", "2020-01-01", "2026-04-01",
                                                        **person(n)) for n in (1, 2, 3)])
    rows = [move(n, f"m{n}", DAY) for n in (1, 2, 3)]
    text = csv_text(rows)
    cut, whole = folders[1] / NAME, folders[2] / NAME
    cut.write_bytes(text[:-30].encode("utf-8"))
    whole.write_bytes(text.encode("utf-8"))
    old = {"files": [], "store": str(settings.store)}  # what a run recorded before the rules kept
    with connect(settings.store) as con:
        _run(con, settings, "run-1", base)
        first = _run(con, settings, "run-2", cut, old).outcomes[0]
        assert (first["status"], first["rows_applied"], first["rows_quarantined"]) == ("applied", 2, 1)
        second = _run(con, settings, "run-3", whole, old).outcomes[0]
        assert (second["status"], second["rows_applied"], second["rows_skipped"]) == ("refused", 0, 3)
        assert "FILE_TOO_MANY_REFUSED" in second["reason"]
        again = folders[3] / NAME
        again.write_bytes(csv_text(rows + [move(1, "m9", DAY, address_line="7-7")]).encode("utf-8"))
        third = _run(con, settings, "run-4", again).outcomes[0]
        assert (third["rows_applied"], third["rows_quarantined"], third["rows_skipped"]) == (2, 0, 2)  # m3, m9
        recorded = json.loads(con.execute("select parameters from run_ledger where run_id = 'run-4'").fetchall()[0][0])
        assert (recorded["cut_files"], recorded["applied_rows"]) == ("refused", "skipped")

    report = replay(settings, tmp_path / "scratch", verify=True)
    assert report.ok, report.summary()


def test_rows_applied_before_are_not_judged_by_the_row_rules_again(city, monkeypatch):
    """The GX row rules cost per row: a whole file re-sent after a cut runs them on the new rows only."""
    from tasks import validate_rows

    text = csv_text(nine_rows())
    send(city, cut_after(text, 8), "first")
    judged: list[int] = []
    real = validate_rows.row_violations

    def recording(rows, business_date):
        judged.append(rows.height)
        return real(rows, business_date)

    monkeypatch.setattr(validate_rows, "row_violations", recording)
    whole = send(city, text.encode("utf-8"), "again")
    assert (whole.rows_applied, whole.rows_skipped) == (1, 8)
    assert judged == [1]


def test_a_re_sent_row_with_stray_values_in_every_unused_column_is_skipped(city):
    """Values in columns the event type does not use are ignored (with a warning), so they are not content: a
    row re-sent with such values, well-formed or not, is the same change, skipped, not DUPLICATE_EVENT_ID."""
    from schemas.change_file import EVENT_TYPES
    from tests.builders import foreigner

    stray = {**foreigner(20), "prev_address": "川口市本町1-1", "dest_address": "東京都港区1-1",
             "cancels_event_id": "zz", "support_measure": "1", "alias_name": "X", "address_since": "2020-01-01",
             "former_surname": "山田", "stay_period": "5年"}
    rows = [move(1, "m1", DAY), support(2, "s2", DAY), event("d3", "DEATH", DAY, resident_code=R(3))]
    send(city, csv_text(rows).encode("utf-8"), "first")
    again = [{**r, **{c: v for c, v in stray.items() if c not in EVENT_TYPES[r["event_type"]].uses}} for r in rows]
    again[2] |= {"birth_date": "2026-13-45", "sex": "7", "my_number": "12"}  # unused and malformed: still ignored
    assert all(set(a) - set(r) for a, r in zip(again, rows))
    outcome = send(city, csv_text(again).encode("utf-8"), "again")
    assert (outcome.rows_applied, outcome.rows_quarantined, outcome.rows_skipped) == (0, 0, 3), city.quarantine()
