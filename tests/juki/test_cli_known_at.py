"""Both time axes: `--known-at` shows a day as the register knew it before a cancellation arrived."""

from __future__ import annotations

import json

from juki.cli import main
from tests.builders import event, person, resident_code, write_file


def test_known_at_returns_the_record_before_the_cancellation(register, capsys):
    """A move-out cancelled later: known-at the move-out's file, the person was removed; now, current."""
    code = resident_code(1)
    register.ingest(
        write_file(register.inbox, "2026-04-01", [event("B1", "BASELINE", "2000-01-01", "2026-04-01", **person(1)),
                                                  event("B2", "BASELINE", "2000-01-01", "2026-04-01", **person(2))]),
        write_file(register.inbox, "2026-04-02", [event("O1", "MOVE_OUT", "2026-04-02", resident_code=code,
                                                        dest_address="東京都千代田区")]),
        write_file(register.inbox, "2026-04-03", [event("C1", "CANCEL", "2026-04-03", resident_code=code,
                                                        cancels_event_id="O1")]),
    )
    (moment,) = register.rows("select received_at from file_ledger where delivery_no = 2")[0]
    register.con.close()
    store = ["--store", str(register.settings.store)]

    assert main([*store, "show", code, "--as-of", "2026-04-02", "--format", "json",
                 "--known-at", moment.isoformat()]) == 0
    then = json.loads(capsys.readouterr().out)
    assert then["status"] == "removed" and then["record"]["event_type"] == "MOVE_OUT"

    assert main([*store, "show", code, "--as-of", "2026-04-02", "--format", "json"]) == 0
    now = json.loads(capsys.readouterr().out)
    assert now["status"] == "current" and [v["event_type"] for v in now["history"]] == ["BASELINE"]

    assert main([*store, "stats", "movements", "--from", "2026-04-02", "--to", "2026-04-02",
                 "--known-at", moment.isoformat(), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["moved_out_domestic"] == 1
    assert main([*store, "stats", "movements", "--from", "2026-04-02", "--to", "2026-04-02", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
