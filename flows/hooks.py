"""What every flow shares: the run's id in the ledgers, time limits, its logs, and what a failed run leaves behind."""

from __future__ import annotations

import logging
import os
import re

from prefect.logging import get_logger
from prefect.states import Failed, State

# The name of a Prefect Webhook block (`prefect block create webhook`, or Webhook(url=…).save(name)).
WEBHOOK_BLOCK = "juki-failure-webhook"
# A My Number (12 digits) or a 住民票コード (11), not a digit run inside a file name (112038_changes_20260413.csv).
PERSONAL_NUMBER = re.compile(r"(?<![0-9A-Za-z_])(\d{12}|\d{11})(?![0-9A-Za-z_]|\.[0-9A-Za-z])")


def _seconds(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else default


# A hung run must not hold the one-at-a-time deployment for days. The full-size city's initial load takes
# about a minute per stage and a year of catch-up about an hour, so the limits leave room many times over.
FLOW_TIMEOUT_SECONDS = _seconds("JUKI_FLOW_TIMEOUT_SECONDS", 6 * 3600)
TASK_TIMEOUT_SECONDS = _seconds("JUKI_TASK_TIMEOUT_SECONDS", 3600)


class RunFailed(Exception):
    """A run that ended failed with one sentence; `outcome` is what it did (no personal data), for the caller.

    `busy`: another process held the store, nothing was done, and the same run works later (exit 75)."""

    def __init__(self, sentence: str, outcome=None, busy: bool = False) -> None:
        super().__init__(sentence)
        self.outcome = outcome
        self.busy = busy


def failed(sentence: str, outcome=None, busy: bool = False) -> State:
    """A flow's Failed state that Prefect resolves to RunFailed (a Failed state holding a list or dict cannot be)."""
    return Failed(message=sentence, data=RunFailed(sentence, outcome, busy))


# Exceptions that carry a sentence written for people: logged as that sentence, without a traceback.
_TOLD: tuple[type[BaseException], ...] = (RunFailed,)


def quiet_prefect_logs(*told: type[BaseException]) -> None:
    """Prefect's per-task "Finished in state Completed()" at DEBUG; a told failure as its sentence, no traceback."""
    global _TOLD
    _TOLD = tuple(dict.fromkeys(_TOLD + told))
    for name in ("prefect.task_runs", "prefect.flow_runs", "prefect.engine"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _QuietFilter) for f in logger.filters):
            logger.addFilter(_QuietFilter(logger))


class _QuietFilter(logging.Filter):
    def __init__(self, logger: logging.Logger) -> None:
        super().__init__()
        self.logger = logger

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, _TOLD):
            record.exc_info, record.exc_text = None, None
            if isinstance(exc, RunFailed) or self.logger.name != "prefect.task_runs":
                return self._debug(record)  # the engine re-raising the flow's own failure: already said
            record.msg, record.args = str(exc), ()
            return True
        if self.logger.name == "prefect.task_runs" and str(record.msg).startswith("Finished in state Completed("):
            return self._debug(record)
        return True

    def _debug(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return self.logger.isEnabledFor(logging.DEBUG)


def ledger_run_id() -> str:
    """The flow run's id, with the attempt number from the second attempt on (a retry is a run of its own)."""
    from prefect.runtime import flow_run

    run_id = str(flow_run.get_id() or "local")
    attempt = flow_run.get_run_count() if flow_run.get_id() else 1
    return run_id if attempt <= 1 else f"{run_id}-attempt-{attempt}"


def mask_personal_numbers(text: str) -> str:
    """Every 12-digit My Number and 11-digit 住民票コード masked to its last four digits; nothing else."""
    return PERSONAL_NUMBER.sub(lambda m: "*" * (len(m[0]) - 4) + m[0][-4:], text)


def safe_message(message: str | None) -> str:
    """The first line of a state's message, personal numbers masked: a crash text can quote a value."""
    first = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    return mask_personal_numbers(first)


def failure_markdown(flow_name: str, run_name: str, message: str, how: str = "failed") -> str:
    """The artifact's text: what failed and the sentence that says why (file names and rule ids, no personal data)."""
    return (f"# {flow_name} {how}\n\n**Run:** {run_name}\n\n**Why:** {message or 'no message'}\n\n"
            "Nothing was lost: refused files stay in the archive and their reasons in the file ledger; "
            "`juki quarantine` lists refused rows.\n")


def report_failure(flow, flow_run, state) -> None:
    """On failure or crash: a markdown artifact on the run, then the webhook block (if it exists) with the same facts."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactCreate

    log = get_logger("juki.failure")
    message = safe_message(state.message)
    how = {"Crashed": "crashed", "TimedOut": "timed out"}.get(state.name, "failed")
    text = failure_markdown(flow.name, flow_run.name, message, how)
    with get_client(sync_client=True) as client:
        client.create_artifact(ArtifactCreate(key="failure", type="markdown", data=text, flow_run_id=flow_run.id,
                                              description=f"Why {flow.name} {how}"))
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
