"""Retention (保存期間): removed records erased 150 years after removal, refused rows' raw text purged. Wiring only."""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.hooks import FLOW_TIMEOUT_SECONDS, TASK_TIMEOUT_SECONDS, failed, ledger_run_id, quiet_prefect_logs, report_failure
from juki_core.settings import Settings
from juki_core.store import StoreBusy, StoreError, connect, writer_lock
from tasks import retention as retaining

# Prefect's per-task "Finished in state Completed()" at DEBUG, as in the daily flow.
quiet_prefect_logs()

# The tasks read and clear personal data: no caching, no persisted results (they return counts anyway).
_PRIVATE = {"cache_policy": NO_CACHE, "persist_result": False, "timeout_seconds": TASK_TIMEOUT_SECONDS}

plan_erasure = task(name="plan erasure", task_run_name="plan erasure", **_PRIVATE)(retaining.plan_erasure)
erase = task(name="erase", task_run_name="erase", **_PRIVATE)(retaining.erase)


@flow(name="retention", log_prints=False, persist_result=False, timeout_seconds=FLOW_TIMEOUT_SECONDS,
      on_failure=[report_failure], on_crashed=[report_failure])
def retention(store: str | None = None, as_of: dt.date | None = None, years: int = retaining.YEARS,
              quarantine_days: int = retaining.QUARANTINE_DAYS, dry_run: bool = False) -> dict:
    """Erase removed records (除票) removed more than `years` years before `as_of` (default: today in Tokyo) and
    purge refused rows' raw text older than `quarantine_days`; with dry_run only count what would go."""
    log = get_run_logger()
    settings = Settings.resolve(store)
    as_of = as_of or retaining.today()
    run_id = ledger_run_id()
    try:
        if not settings.store.exists():
            raise StoreError(f"no store at {settings.store}: nothing to erase")
        with writer_lock(settings.store, f"retention run {run_id}"):
            con = connect(settings.store)
            try:
                retaining.record_start(con, run_id, retaining.parameters(as_of, years, quarantine_days, dry_run,
                                                                         str(settings.store)))
                try:
                    erasure = (plan_erasure(con, as_of, years, quarantine_days) if dry_run
                               else erase(con, as_of, years, quarantine_days, run_id))
                except BaseException as exc:  # erase rolled back: nothing changed; the row says how it ended
                    retaining.record_finish(con, run_id, "failed" if isinstance(exc, retaining.RetentionError)
                                            else "crashed", None, dry_run)
                    raise
                retaining.record_finish(con, run_id, "completed", erasure, dry_run)
            finally:
                con.close()
    except (StoreError, retaining.RetentionError) as exc:
        log.error(str(exc))
        return failed(str(exc), {"ok": False, "summary": str(exc)}, busy=isinstance(exc, StoreBusy))
    summary = retaining.summary(erasure, as_of, years, quarantine_days, dry_run)
    log.info(summary)
    create_markdown_artifact(key="retention", description="What the retention run erased, or would: counts only",
                             markdown=retaining.summary_markdown(erasure, as_of, years, quarantine_days, dry_run))
    return {"ok": True, "summary": summary, "run_id": run_id, "as_of": as_of.isoformat(), "dry_run": dry_run,
            **erasure.as_dict()}
