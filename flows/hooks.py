"""What every flow shares: the run's id in the ledgers, and what a failed run leaves behind."""

from __future__ import annotations

import os
import re

from prefect.logging import get_logger

# The name of a Prefect Webhook block (`prefect block create webhook`, or Webhook(url=…).save(name)).
WEBHOOK_BLOCK = "juki-failure-webhook"


def ledger_run_id() -> str:
    """The flow run's id, with the attempt number from the second attempt on (a retry is a run of its own)."""
    from prefect.runtime import flow_run

    run_id = str(flow_run.get_id() or "local")
    attempt = flow_run.get_run_count() if flow_run.get_id() else 1
    return run_id if attempt <= 1 else f"{run_id}-attempt-{attempt}"


def safe_message(message: str | None) -> str:
    """The first line of a state's message, long digit runs masked: a crash text can quote a value."""
    first = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    return re.sub(r"\d{6,}", "…", first)


def failure_markdown(flow_name: str, run_name: str, message: str) -> str:
    """The artifact's text: what failed and the sentence that says why (file names and rule ids, no personal data)."""
    return (f"# {flow_name} failed\n\n**Run:** {run_name}\n\n**Why:** {message or 'no message'}\n\n"
            "Nothing was lost: refused files stay in the archive and their reasons in the file ledger; "
            "`juki quarantine` lists refused rows.\n")


def report_failure(flow, flow_run, state) -> None:
    """On failure: a markdown artifact on the run, then the webhook block (if it exists) with the same facts."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactCreate

    log = get_logger("juki.failure")
    message = safe_message(state.message)
    text = failure_markdown(flow.name, flow_run.name, message)
    with get_client(sync_client=True) as client:
        client.create_artifact(ArtifactCreate(key="failure", type="markdown", data=text, flow_run_id=flow_run.id,
                                              description=f"Why {flow.name} failed"))
    name = os.environ.get("JUKI_FAILURE_WEBHOOK", WEBHOOK_BLOCK)
    webhook = _webhook(name)
    if webhook is None:
        return
    payload = {"flow": flow.name, "flow_run_id": str(flow_run.id), "flow_run_name": flow_run.name,
               "state": state.name, "message": message, "tags": list(flow_run.tags or [])}
    from prefect.utilities.asyncutils import run_coro_as_sync

    response = run_coro_as_sync(webhook.call(payload))
    log.info("failure webhook %s answered %s", name, response.status_code)


def _webhook(name: str):
    """The Webhook block of that name, or None when none is saved (a missing webhook is not an error)."""
    from prefect.blocks.webhook import Webhook

    try:
        return Webhook.load(name, _sync=True)
    except ValueError:
        return None
