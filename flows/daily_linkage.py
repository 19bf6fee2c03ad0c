"""The daily linkage (日次連携): change files in, validated, applied, recorded. Wiring only."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import os
from pathlib import Path

from prefect import flow, get_run_logger, tags, task
from prefect.artifacts import (create_markdown_artifact, create_progress_artifact, create_table_artifact,
                               update_progress_artifact)
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows.hooks import (FLOW_TIMEOUT_SECONDS, TASK_TIMEOUT_SECONDS, failed, ledger_run_id, quiet_prefect_logs,
                         report_failure)
from juki_core.settings import Settings
from juki_core.store import StoreBusy, StoreError, connect, writer_lock
from tasks import daily, handoff, ingest, publish, receipts, schedule, validate_rows
from tasks.check import broken_invariants
from tasks.heads import households_to_look_at
from tasks.keys import subscriber_key
from tasks.land import NotAFile
from tasks.progress import RunProgress
from tasks.read import FILE_NAME_PATTERN, FileRefused
from tasks.summary import (first_baseline_date, latest_business_date, pyramid_table, quarantine_by_rule,
                           residents_on, run_files, run_movements, summary_markdown)

# A refused file (or a path that is no file) fails its task, red in the graph, with its one sentence, no traceback.
quiet_prefect_logs(FileRefused, NotAFile)

# Stages carry personal data in memory only: no caching, no persisted results.
_PRIVATE = {"cache_policy": NO_CACHE, "persist_result": False}
# I/O is retried with backoff; reading, validating and applying never are: the same bytes give the same answer.
_IO_RETRIES = {"retries": 3, "retry_delay_seconds": [1, 5, 20],
               "retry_condition_fn": lambda task, run, state: not isinstance(state.data, NotAFile)}
_LIMIT = {"timeout_seconds": TASK_TIMEOUT_SECONDS}

pending_files = task(name="list the inbox", task_run_name="list the inbox", cache_policy=NO_CACHE, **_LIMIT,
                     **_IO_RETRIES)(daily.pending_files)


@task(name="check invariants", task_run_name="check invariants", cache_policy=NO_CACHE, **_LIMIT)
def check_invariants(con) -> dict[str, int]:
    """The register's invariants; one log line either way."""
    broken = broken_invariants(con)
    if broken:
        get_run_logger().error("invariants broken: %s", ", ".join(f"{k} ({n} rows)" for k, n in broken.items()))
    else:
        get_run_logger().info("invariants: all hold")
    return broken


@task(name="check balance", task_run_name="check balance {day}", cache_policy=NO_CACHE, **_LIMIT)
def check_balance(con, day: dt.date) -> str | None:
    """The balance identity for one business date; the keys and figures that break it."""
    problem = publish.balance_problem(con, day)
    if problem:
        get_run_logger().error("balance identity broken on %s: %s", day, problem)
    else:
        get_run_logger().info("balance identity on %s: holds", day)
    return problem


@task(name="publish statistics", task_run_name="publish statistics", cache_policy=NO_CACHE, **_LIMIT,
      **_IO_RETRIES)
def publish_statistics(con, run_id: str, stats_uri: str) -> dict[str, str]:
    """The applied business dates' tables under stats/, the pyramid, and their artifacts."""
    out = publish.write_statistics(con, run_id, stats_uri)
    if out.day is None:
        return {}
    create_table_artifact(key="population-by-age", table=pyramid_table(out.tables["population"]),
                          description=f"Residents at the end of {out.day} by 5-year age group")
    create_markdown_artifact(
        key="population-pyramid", description=f"Population pyramid at the end of {out.day}",
        markdown=f"# Population pyramid, end of {out.day}\n\n![pyramid](data:image/png;base64,"
                 f"{base64.b64encode(out.pyramid).decode()})\n\nFile: `{out.pyramid_path}`\n")
    create_table_artifact(key="households-without-head",
                          table=households_to_look_at(con, out.day) or [{"households": 0}],
                          description=f"Households without a 世帯主 for more than 14 days, or with two, on {out.day}")
    return out.digests


def _named(stage: str):
    """A task run name with the file it works on ("validate 112038_changes_20260401.csv"), for the UI."""
    def name() -> str:
        from prefect.runtime import task_run

        given = task_run.parameters
        uri = given.get("uri")
        of = given.get("landed") or given.get("change_file")
        return f"{stage} {Path(uri).name if uri else getattr(of, 'name', '')}".strip()
    return name


STEPS = daily.Steps(
    stages=ingest.Stages(
        land=task(name="land", task_run_name=_named("land"), **_IO_RETRIES, **_PRIVATE, **_LIMIT)(ingest.land),
        read=task(name="read", task_run_name=_named("read"), **_PRIVATE, **_LIMIT)(ingest.read),
        validate=task(name="validate", task_run_name=_named("validate"), **_PRIVATE, **_LIMIT)(ingest.validate),
        apply=task(name="apply", task_run_name=_named("apply"), **_PRIVATE, **_LIMIT)(ingest.apply),
    ),
    check=check_invariants,
    balance=check_balance,
    statistics=publish_statistics,
    receipts=task(name="import receipts", task_run_name="import receipts", cache_policy=NO_CACHE, **_LIMIT,
                  **_IO_RETRIES)(receipts.import_all),
    # keys are fetched inside the task (key_for), never passed or stored as parameters
    handoffs=task(name="publish hand-offs", task_run_name="publish hand-offs", cache_policy=NO_CACHE,
                  persist_result=False, **_LIMIT, **_IO_RETRIES)(publish.publish_handoffs),
)


def prefect_key(sub):
    """A subscriber's key from its environment variable or its Prefect Secret block."""
    return subscriber_key(sub, use_prefect=True)


@flow(name="daily-linkage", log_prints=False, persist_result=False, timeout_seconds=FLOW_TIMEOUT_SECONDS,
      on_failure=[report_failure], on_crashed=[report_failure])
def daily_linkage(files: list[str] | None = None, inbox: str | None = None, until: dt.date | None = None,
                  store: str | None = None, subscribers: str | None = None,
                  max_refused_share: float | None = None, municipality_code: str | None = None,
                  max_days_ahead: int | None = None, scheduled: bool = False,
                  run_date: dt.date | None = None) -> list[dict]:
    """Take in the given change files, or the inbox's new ones up to `until`, in name order; record the run.

    A `scheduled` run (the deployment's) skips a day the office is closed and fails when the previous business
    day's file has not arrived; `run_date` is its day in Tokyo (default: the day it was scheduled for)."""
    log = get_run_logger()
    settings = Settings.resolve(store, max_refused_share=max_refused_share, inbox=inbox, subscribers=subscribers,
                                municipality_code=municipality_code, max_days_ahead=max_days_ahead)
    today = run_date or schedule.day_in_tokyo(flow_run.scheduled_start_time if flow_run.get_id() else None)
    if scheduled and (closed := schedule.closed_reason(today)):
        log.info("%s is not a business day (%s): nothing to take in", today, closed)
        return []
    run_id = ledger_run_id()
    try:
        with writer_lock(settings.store, f"daily-linkage run {run_id}"):
            con = connect(settings.store)
            try:
                chosen = sorted(files if files is not None else pending_files(con, settings.inbox, until),
                                key=lambda u: Path(u).name)
                missing = (schedule.missing_delivery(con, chosen, today, settings.inbox, settings.municipality_code)
                           if scheduled else None)
                record = _run(con, settings, run_id, chosen, log)
            finally:
                con.close()
    except (StoreError, NotAFile) as exc:
        log.error(str(exc))
        return failed(str(exc), [], busy=isinstance(exc, StoreBusy))
    if missing:
        log.error(missing)
    problems = ([missing] if missing else []) + record.problems()
    if problems:
        return failed(" ".join(problems), record.outcomes)
    return record.outcomes


def _run(con, settings: Settings, run_id: str, chosen: list[str], log) -> daily.RunRecord:
    log.info("%d file(s) to take in", len(chosen))
    if chosen and not os.environ.get(validate_rows.GX_ADDRESS_VARIABLE):
        # Imported here, once, so that no validate task's time is the import's (docs/decisions.md)
        log.info("Great Expectations imported in %.1f s", validate_rows.warm())
    run_tags = _tag_run(settings, chosen)
    progress = _progress(len(chosen))
    with tags(*run_tags):
        record = daily.run(con, settings, run_id, chosen, daily.parameters(settings, chosen), key_for=prefect_key,
                           steps=dataclasses.replace(STEPS, stages=progress.wrap(STEPS.stages)),
                           log=log.info, file_done=progress.file_done)
    progress.finished()
    for f in run_files(con, run_id):
        if f["unused_values"] or f["extra_columns"]:
            log.warning("%s: %d value(s) in columns their event type does not use were ignored; "
                        "columns outside the agreement: %s", f["file"], f["unused_values"],
                        ", ".join(c or "(blank)" for c in f["extra_columns"]) or "none")
    _report(con, run_id, record.handoffs, settings)
    create_markdown_artifact(key="ledger-chain-head", description="The ledger chain's head after this run (anchor)",
                             markdown=f"# Ledger chain head\n\n`{record.chain_head}`\n\nAlso appended to "
                                      "`ledger-anchors.jsonl` beside the store; `juki audit chain` verifies it.\n")
    return record


def _tag_run(settings: Settings, files: list[str]) -> list[str]:
    """Tag the flow run (and its task runs) with the municipality and the business date, or the first and last
    of a catch-up (one tag per day would pass Prefect's limit of 100 related resources per event)."""
    dates = sorted({f"{m['date'][:4]}-{m['date'][4:6]}-{m['date'][6:]}" for f in files
                    if (m := FILE_NAME_PATTERN.fullmatch(Path(f).name))})
    run_tags = [f"municipality:{settings.municipality_code}"]
    if dates:
        run_tags.append(f"business-date:{dates[0]}" + (f"..{dates[-1]}" if len(dates) > 1 else ""))
    run_id = flow_run.get_id()
    if run_id:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            current = client.read_flow_run(run_id).tags
            client.update_flow_run(run_id, tags=sorted(set(current) | set(run_tags)))
    return run_tags


def _progress(files: int) -> RunProgress:
    """A progress artifact the UI shows while a long load (an initial 600,000 rows) runs."""
    if not files or not flow_run.get_id():
        return RunProgress(files, report=lambda percent: None)
    artifact = create_progress_artifact(0.0, key="daily-linkage-progress",
                                        description=f"Taking in {files} file(s): land, read, validate, apply")
    return RunProgress(files, report=lambda percent: update_progress_artifact(artifact, percent))


RECEIPT_ROWS_SHOWN = 200


def _report(con, run_id: str, published: dict[str, list], settings: Settings) -> None:
    files = run_files(con, run_id)
    by_rule = quarantine_by_rule(con, run_id)
    as_of = latest_business_date(con)
    residents = residents_on(con, as_of) if as_of and first_baseline_date(con) else None
    create_markdown_artifact(key="daily-linkage-summary", markdown=summary_markdown(files, by_rule, residents, as_of),
                             description="Files, rows and quarantine of this run")
    subscribers = handoff.load_subscribers(settings.subscribers or None)
    links = [f"- **{name}** → [{target}]({target}): " + ", ".join(
                 f"`{p['file']}` ({p['rows']} rows, {p['encryption']})" for p in files)
             for name, files in published.items() if files
             for target in [_link(handoff.target_uri(subscribers[name], settings.root))]]
    if links:
        create_markdown_artifact(key="hand-offs", markdown="# Hand-offs of this run\n\n" + "\n".join(links) + "\n",
                                 description="What was published to whom (file names and counts only)")
    create_table_artifact(key="quarantine-by-rule", table=by_rule or [{"rule_id": "(none)", "rows": 0}],
                          description="Refused rows by rule id (no personal data)")
    outstanding = receipts.outstanding(con)
    create_table_artifact(key="feed-receipts", table=outstanding[:RECEIPT_ROWS_SHOWN] or [{"rows": 0}],
                          description=f"Feed rows a receiver answered with an error (resent_in: the file that "
                                      f"re-sent it) or has not answered yet: {len(outstanding)}, the first "
                                      f"{RECEIPT_ROWS_SHOWN} shown (all: juki audit receipts)")
    reach, moved = run_movements(con, run_id)
    if reach:
        create_table_artifact(
            key="movements", table=moved or [{"nationality_group": "(none)", "sex": "", "net_change": 0}],
            description=f"Movements (異動集計表) this run's rows added, effective {reach[0]} to {reach[1]}")


def _link(target: str) -> str:
    """A target as a link: URIs as they are, local folders as file:// URLs."""
    return target if "://" in target else Path(target).resolve().as_uri()
