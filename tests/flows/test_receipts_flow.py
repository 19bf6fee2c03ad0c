"""Mini end-to-end: a receipt dropped in the immigration target is imported by the next daily run, which re-sends
the erred row and shows it in the `feed-receipts` artifact and `juki audit receipts`."""

from __future__ import annotations

import json

from juki_core.settings import Settings
from tests.builders import event, foreigner, resident_code, run_juki, write_file

R = resident_code


def _artifacts(state) -> dict[str, object]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    return {a.key: a for a in found}


def test_an_erred_row_is_re_sent_and_shown(prefect_api, tmp_path, monkeypatch, capsys):
    from flows.daily_linkage import daily_linkage
    from tasks.handoff import load_subscribers

    for i, sub in enumerate(load_subscribers().values()):
        monkeypatch.setenv(sub.key_env, f"{i + 1:02d}" * 32)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    settings = Settings(store=tmp_path / "registry.duckdb", inbox=str(inbox))
    write_file(inbox, "2026-04-01", [event("B1", "BASELINE", "2020-01-01", "2026-04-01", **foreigner(1)),
                                     event("B2", "BASELINE", "2020-01-01", "2026-04-01", **foreigner(2))])
    write_file(inbox, "2026-04-02", [
        event("M1", "MOVE_WITHIN", "2026-04-02", resident_code=R(1), town_code="0002", address_line="1-1"),
        event("M2", "MOVE_WITHIN", "2026-04-02", resident_code=R(2), town_code="0002", address_line="2-2")])
    assert daily_linkage(store=str(settings.store), inbox=str(inbox), return_state=True).is_completed()

    receipts = tmp_path / "outbox" / "immigration" / "receipts"
    receipts.mkdir()
    (receipts / "changes-00000002-20260402.csv").write_text(
        "entry_no,event_id,result,error_code\n1,M1,accepted,\n2,M2,error,E017\n", encoding="utf-8")
    write_file(inbox, "2026-04-03", [])
    state = daily_linkage(store=str(settings.store), inbox=str(inbox), return_state=True)

    assert state.is_completed(), state.message
    header = json.loads((tmp_path / "outbox" / "immigration" / "changes-00000003-20260403.json").read_text())
    assert (header["rows"], header["resent"]) == (1, [{"sequence_no": 2, "entry_no": 2, "event_id": "M2"}])
    table = json.loads(_artifacts(state)["feed-receipts"].data)
    assert [(r["sequence_no"], r["entry_no"], r["event_id"], r["state"], r["resent_in"]) for r in table] == [
        (2, 2, "M2", "error", 3), (3, 1, "M2", "unanswered", None)]

    status, out, _ = run_juki(capsys, "--store", str(settings.store), "audit", "receipts")
    assert status == 0
    assert out.splitlines() == [
        "subscriber,sequence_no,business_date,entry_no,event_id,state,error_code,resent_in",
        "immigration,2,2026-04-02,2,M2,error,E017,3",
        "immigration,3,2026-04-03,1,M2,unanswered,,"]
