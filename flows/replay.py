"""The replay (再現): rebuild the register in scratch from the archived inputs, prove the ledgers. Wiring only."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.hooks import FLOW_TIMEOUT_SECONDS, TASK_TIMEOUT_SECONDS, failed, quiet_prefect_logs, report_failure
from juki_core.settings import Settings
from juki_core.store import StoreError
from tasks import replay as replaying

# Prefect's per-task "Finished in state Completed()" at DEBUG, as in the daily flow.
quiet_prefect_logs()

# The replay carries personal data in memory only: no caching, no persisted results.
_PRIVATE = {"cache_policy": NO_CACHE, "persist_result": False, "timeout_seconds": TASK_TIMEOUT_SECONDS}

STEPS = replaying.Steps(
    plan=task(name="read the ledgers", task_run_name="read the ledgers", **_PRIVATE)(replaying.plan),
    run=task(name="replay run", task_run_name="replay run {run.position} of {run.total}", **_PRIVATE)(
        replaying.replay_run),
    close=task(name="closing checks", task_run_name="closing checks", **_PRIVATE)(replaying.closing_checks),
)


@flow(name="replay", log_prints=False, persist_result=False, timeout_seconds=FLOW_TIMEOUT_SECONDS,
      on_failure=[report_failure], on_crashed=[report_failure])
def replay(store: str | None = None, until: dt.date | None = None, verify: bool = False,
           scratch: str | None = None) -> dict:
    """Replay the recorded daily runs (up to `until`) into `scratch` (default: a temporary folder); verify digests."""
    log = get_run_logger()
    settings = Settings.resolve(store)
    # a folder of our own holds a copy of the register: it goes when the replay is done
    folder = Path(scratch) if scratch else Path(tempfile.mkdtemp(prefix="juki-replay-"))
    try:
        report = replaying.replay(settings, folder, until, verify, progress=log.info, steps=STEPS).as_dict()
    except (replaying.ReplayError, StoreError) as exc:
        return failed(str(exc), {"ok": False, "summary": str(exc)})
    finally:
        if not scratch:
            shutil.rmtree(folder, ignore_errors=True)
    report["scratch_removed"] = not scratch
    create_markdown_artifact(key="replay-verdict", markdown=replaying.report_markdown(report),
                             description="Each replayed run: matching or not, and the first divergence")
    if not report["ok"]:
        return failed(report["summary"], report)
    return report
