"""The daily linkage (日次連携): change files in, validated, applied, recorded. Wiring only."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Failed

from juki.provenance import code_version, lock_sha256
from juki.settings import Settings
from juki.store import connect
from juki.keys import subscriber_key
from tasks import ingest, publish
from tasks.audit import register_digest
from tasks.check import broken_invariants
from tasks.land import list_inbox, sha256_of
from tasks.read import FILE_NAME_PATTERN, FileRefused
from tasks.summary import (applied_dates, first_baseline_date, latest_business_date, pyramid_table,
                           quarantine_by_rule, residents_on, run_files, summary_markdown)

# Stages carry personal data in memory only: no caching, no persisted results.
_PRIVATE = {"cache_policy": NO_CACHE, "persist_result": False}


def _refusal_as_value(fn):
    """A refused file is an outcome, not a crash: the task completes and hands the refusal back."""
    @functools.wraps(fn)
    def stage(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except FileRefused as refusal:
            get_run_logger().error(str(refusal))
            return refusal
    return stage


check_register = task(name="check invariants", cache_policy=NO_CACHE)(broken_invariants)


@task(name="check balance", cache_policy=NO_CACHE)
def check_balance(con, day: dt.date) -> str | None:
    """The balance identity for one business date; the keys and figures that break it."""
    problem = publish.balance_problem(con, day)
    if problem:
        get_run_logger().error("balance identity broken on %s: %s", day, problem)
    return problem


@task(name="publish statistics", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 5])
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
    create_table_artifact(key="movements", table=out.tables["movements"].to_dicts() or [{"movements": 0}],
                          description=f"Movements (異動集計表) with effective date {out.day}")
    return out.digests


@task(name="publish hand-offs", cache_policy=NO_CACHE, persist_result=False, retries=2,
      retry_delay_seconds=[2, 10])
def publish_handoffs(con, run_id: str, settings: Settings) -> tuple[dict[str, list], dict[str, str]]:
    """Each change feed's unpublished business dates, then the convenience-store snapshot; keys never as parameters."""
    log = get_run_logger()
    return publish.publish_handoffs(con, run_id, settings.root, lambda sub: subscriber_key(sub, use_prefect=True),
                                    log=log.info)


STAGES = ingest.Stages(
    land=task(name="land", retries=3, retry_delay_seconds=[1, 5, 20], **_PRIVATE)(ingest.land),
    read=task(name="read", **_PRIVATE)(_refusal_as_value(ingest.read)),
    validate=task(name="validate", **_PRIVATE)(ingest.validate),
    apply=task(name="apply", **_PRIVATE)(_refusal_as_value(ingest.apply)),
)


def pending_files(con, inbox: str, until: dt.date | None) -> list[str]:
    """Files in the inbox not yet applied, dated up to `until`; a name without a date is taken, to be refused."""
    chosen = []
    for uri in list_inbox(inbox):
        m = FILE_NAME_PATTERN.fullmatch(Path(uri).name)
        if until and m and m["date"] > until.strftime("%Y%m%d"):
            continue
        if not ingest.applied_before(con, sha256_of(uri), Path(uri).name):
            chosen.append(uri)
    return chosen


@flow(name="daily-linkage", log_prints=False)
def daily_linkage(files: list[str] | None = None, inbox: str | None = None, until: dt.date | None = None,
                  store: str | None = None, max_refused_share: float | None = None) -> list[dict]:
    """Take in the given change files, or the inbox's new ones up to `until`, in name order; record the run."""
    log = get_run_logger()
    settings = Settings.resolve(store, max_refused_share=max_refused_share, inbox=inbox)
    run_id = str(flow_run.get_id() or "local")
    started = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    con = connect(settings.store)  # held for the whole run: a second writer gets a clear "busy"
    try:
        files = list(files) if files is not None else pending_files(con, settings.inbox, until)
        log.info("%d file(s) to take in", len(files))
        _record_run(con, run_id, settings, files, started)
        outcomes = []
        for uri in sorted(files, key=lambda u: Path(u).name):
            outcome = ingest.ingest_file(con, uri, settings.archive, settings.municipality_code,
                                         settings.max_refused_share, run_id, STAGES).as_dict()
            log.info("%s: %s, %d read, %d applied, %d quarantined, %d skipped", outcome["file"],
                     outcome["status"], outcome["rows_read"], outcome["rows_applied"],
                     outcome["rows_quarantined"], outcome["rows_skipped"])
            outcomes.append(outcome)
        for f in run_files(con, run_id):
            if f["unused_values"] or f["extra_columns"]:
                log.warning("%s: %d value(s) in columns their event type does not use were ignored; "
                            "columns outside the agreement: %s", f["file"], f["unused_values"],
                            ", ".join(c or "(blank)" for c in f["extra_columns"]) or "none")
        broken = check_register(con)
        for day in applied_dates(con, run_id):
            breaks = check_balance(con, day)
            if breaks:
                broken[f"balance on {day}"] = breaks
        outputs = publish_statistics(con, run_id, settings.stats)
        published, handoff_problems = publish_handoffs(con, run_id, settings)
        broken |= {f"hand-off {name}": problem for name, problem in handoff_problems.items()}
        _report(con, run_id, published)
        status = "failed" if broken or any(o["status"] == "refused" for o in outcomes) else "completed"
        con.execute("update run_ledger set status = $s, finished_at = $t, outputs = $o where run_id = $r",
                    {"s": status, "t": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
                     "o": json.dumps({"files": outcomes, "stats": outputs, "handoffs": published}, default=str),
                     "r": run_id})
        con.execute("update run_ledger set input_sha256 = $i, register_sha256 = $g where run_id = $r",
                    {"i": [o["sha256"] for o in outcomes], "g": register_digest(con), "r": run_id})
    finally:
        con.close()
    if status == "failed":
        problems = [o["reason"] for o in outcomes if o["status"] == "refused"]
        problems += [f"{name}: {n}." for name, n in broken.items()]
        return Failed(message=" ".join(problems), data=outcomes)
    return outcomes


def _record_run(con, run_id: str, settings: Settings, files: list[str], started: dt.datetime) -> None:
    con.execute(
        "insert or replace into run_ledger (run_id, flow_name, parameters, code_version, lock_sha256, "
        "status, started_at) values ($r, 'daily-linkage', $p, $v, $l, 'running', $t)",
        {"r": run_id, "p": json.dumps({"files": [Path(f).name for f in files], "store": str(settings.store),
                          "max_refused_share": settings.max_refused_share,
                          "municipality_code": settings.municipality_code}),
         "v": code_version(), "l": lock_sha256(), "t": started})


def _report(con, run_id: str, published: dict[str, list]) -> None:
    files = run_files(con, run_id)
    by_rule = quarantine_by_rule(con, run_id)
    as_of = latest_business_date(con)
    residents = residents_on(con, as_of) if as_of and first_baseline_date(con) else None
    create_markdown_artifact(key="daily-linkage-summary", markdown=summary_markdown(files, by_rule, residents, as_of),
                             description="Files, rows and quarantine of this run")
    links = [f"- **{name}**: " + ", ".join(f"`{p['file']}` ({p['rows']} rows, {p['encryption']})" for p in files)
             for name, files in published.items() if files]
    if links:
        create_markdown_artifact(key="hand-offs", markdown="# Hand-offs of this run\n\n" + "\n".join(links) + "\n",
                                 description="What was published to whom (file names and counts only)")
    create_table_artifact(key="quarantine-by-rule", table=by_rule or [{"rule_id": "(none)", "rows": 0}],
                          description="Refused rows by rule id (no personal data)")
