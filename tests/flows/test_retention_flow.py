"""One run of the retention flow on Prefect: erased, recorded in the run ledger, counted in an artifact; busy fails."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from juki_core.store import connect, writer_lock
from tasks.audit import register_digest
from tests.builders import event, my_number, person, resident_code, write_file
from tests.conftest import Register

R = resident_code
AS_OF = dt.date(2175, 4, 2)


def _store(root: Path) -> Path:
    """Person 1 died in 2024 (removed 151 years before AS_OF), person 2 is current; one refused row."""
    reg = Register(root)
    try:
        base = [event("b1", "BASELINE", "2020-01-01", "2026-04-01", **person(1)),
                event("b2", "BASELINE", "2020-01-01", "2026-04-01", **person(2)),
                event("bad", "BASELINE", "2020-01-01", "2026-04-01", **person(3, sex="9"))]
        reg.ingest(write_file(reg.inbox, "2026-04-01", base),
                   write_file(reg.inbox, "2026-04-02", [event("d1", "DEATH", "2024-04-01", "2026-04-02",
                                                              resident_code=R(1))]))
    finally:
        reg.con.close()
    return root / "registry.duckdb"


def _artifact(state, key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    return {a.key: a.data for a in found}[key]


def test_a_retention_run_erases_records_its_run_and_shows_counts_only(prefect_api, tmp_path, capsys):
    """The flow erases person 1, writes the run ledger row with its digest and a counts-only artifact; `juki
    retention` (today) then has nothing due and exits 0; a busy store fails the run with one sentence."""
    from flows.retention import retention
    from juki.cli import main

    store = _store(tmp_path)

    state = retention(store=str(store), as_of=AS_OF, return_state=True)

    assert state.is_completed(), state.message
    result = state.result()
    assert (result["residents"], result["versions"], result["events"], result["quarantine_rows"]) == (1, 3, 2, 1)
    with connect(store, read_only=True) as con:
        (row,) = con.execute("select flow_name, parameters, status, started_at <= finished_at, register_sha256, "
                             "outputs from run_ledger where run_id = $r", {"r": result["run_id"]}).fetchall()
        assert row[:4] == ("retention", row[1], "completed", True)
        assert json.loads(row[1]) | {"store": None} == {"as_of": "2175-04-02", "years": 150, "quarantine_days": 365,
                                                        "dry_run": False, "store": None}
        assert row[4] == register_digest(con)
        assert json.loads(row[5])["erased"]["residents"] == 1
        assert con.execute("select resident_code from erased_resident").fetchall() == [(R(1),)]
    shown = _artifact(state, "retention")
    assert "| residents (除票) erased, one tombstone each | 1 |" in shown
    assert my_number(1) not in shown and R(1) not in shown and not re.search(r"\d{11,}", shown)

    assert main(["--store", str(store), "retention"]) == 0
    assert "retention erased 0 removed record(s)" in capsys.readouterr().out

    with writer_lock(store, "daily-linkage run X"):
        busy = retention(store=str(store), as_of=AS_OF, return_state=True)
    assert busy.is_failed() and "is busy: daily-linkage run X" in busy.message
