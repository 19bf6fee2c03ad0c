"""One daily run (日次連携) as plain steps: files in, checks, statistics, hand-offs, the run ledger row.

The daily flow and the replay both call `run`; the flow passes the same steps wrapped as Prefect
tasks, so the order of steps is written once and a replay recomputes exactly what the day did.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb


from juki_core.provenance import code_version, lock_sha256
from juki_core.settings import Settings
from tasks import chain, handoff, ingest, publish, receipts
from tasks.audit import register_digest
from tasks.check import broken_invariants
from tasks.faults import fault
from tasks.land import check_regular_files, list_inbox, sha256_of
from tasks.read import FILE_NAME_PATTERN
from tasks.summary import run_files

FLOW_NAME = "daily-linkage"
KeyFor = Callable[[handoff.Subscriber], bytes | None]


def pending_files(con: duckdb.DuckDBPyConnection, inbox: str, until: dt.date | None = None) -> list[str]:
    """Files in the inbox not yet applied, dated up to `until`, in name order; a name without a date is taken."""
    chosen = []
    for uri in list_inbox(inbox):
        m = FILE_NAME_PATTERN.fullmatch(Path(uri).name)
        if until and m and m["date"] > until.strftime("%Y%m%d"):
            continue
        if not ingest.applied_before(con, sha256_of(uri), Path(uri).name):
            chosen.append(uri)
    return sorted(chosen, key=lambda u: Path(u).name)


def statistics_digests(con: duckdb.DuckDBPyConnection, run_id: str, stats_uri: str) -> dict[str, str]:
    """The statistics files of the business dates past the statistics watermark, by name and SHA-256."""
    return publish.write_statistics(con, run_id, stats_uri).digests


@dataclass(frozen=True)
class Steps:
    """The steps of a daily run after the file stages; the flow passes them wrapped as tasks."""

    # looked up when a run starts, not at import, so a benchmark can time the module's functions
    stages: ingest.Stages = field(default_factory=lambda: ingest.Stages())
    check: Callable = field(default_factory=lambda: broken_invariants)
    balance: Callable = field(default_factory=lambda: publish.balance_problem)
    statistics: Callable = field(default_factory=lambda: statistics_digests)
    receipts: Callable = field(default_factory=lambda: receipts.import_all)
    handoffs: Callable = field(default_factory=lambda: publish.publish_handoffs)


@dataclass(frozen=True)
class RunRecord:
    """What one daily run computed, as it is written into the run ledger."""

    outcomes: list[dict]
    status: str
    broken: dict
    statistics: dict[str, str]
    handoffs: dict[str, list]
    register_sha256: str
    chain_head: str = ""  # the ledger chain's head after this run's seal (also in ledger-anchors.jsonl)

    def problems(self) -> list[str]:
        """One sentence per refused file and per broken check, for the run's failure message."""
        found = [o["reason"] for o in self.outcomes if o["status"] == "refused"]
        return found + [f"{name}: {problem}." for name, problem in self.broken.items()]


@functools.cache
def provenance() -> tuple[str, str | None]:
    """The code version and the lock file's digest, read once per process."""
    return code_version(), lock_sha256()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def record_start(con: duckdb.DuckDBPyConnection, run_id: str, parameters: dict, flow_name: str = FLOW_NAME) -> None:
    """The run ledger row of a run that has started (parameters without personal data)."""
    version, lock = provenance()
    con.execute("insert or replace into run_ledger (run_id, flow_name, parameters, code_version, lock_sha256, "
                "status, started_at) values ($r, $f, $p, $v, $l, 'running', $t)",
                {"r": run_id, "f": flow_name, "p": json.dumps(parameters), "v": version, "l": lock,
                 "t": utc_now()})


def parameters(settings: Settings, files: list[str], **extra) -> dict:
    """What the run ledger keeps of a run's parameters: file names and settings, no personal data."""
    subscribers = Path(settings.subscribers) if settings.subscribers else handoff.SUBSCRIBERS_YAML
    return {"files": [Path(f).name for f in files], "store": str(settings.store),
            "max_refused_share": settings.max_refused_share, "municipality_code": settings.municipality_code,
            "city_name": settings.city_name, "today": ingest.today().isoformat(), "max_days_ahead": settings.max_days_ahead,
            "subscribers": str(subscribers.resolve()), "subscribers_sha256": _sha256_of(subscribers),
            **ingest.RULE_PARAMETERS, **extra}


def _sha256_of(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def run(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str, uris: list[str], parameters: dict,
        key_for: KeyFor = lambda sub: None, plaintext: bool = False, max_refused_share: float | None = None,
        steps: Steps | None = None, target_for: Callable[[handoff.Subscriber], str] | None = None,
        log: Callable[[str], None] = lambda message: None,
        file_done: Callable[[int], None] = lambda index: None) -> RunRecord:
    """Files in the order given, the invariants and balance, then everything past each output's watermark
    (statistics, hand-offs), then the run ledger row and its seal; with no files, a publish run."""
    steps = steps or Steps()
    check_regular_files(uris)  # before anything is recorded: a folder given as a file changes nothing
    record_start(con, run_id, parameters)
    for stale in close_stale_runs(con, run_id):
        log(f"run {stale} was left running by a process that is gone: closed as crashed")
    fault("after-start")
    outcomes: list[dict] = []
    try:
        for index, uri in enumerate(uris):
            outcome = ingest.ingest_file(con, uri, settings.archive, settings.municipality_code,
                                         settings.max_refused_share if max_refused_share is None else max_refused_share,
                                         run_id, faulted(steps.stages), ingest.latest_business_date(parameters)
                                         ).as_dict()
            log(f"{outcome['file']}: {outcome['status']}, {outcome['rows_read']} read, {outcome['rows_applied']} "
                f"applied, {outcome['rows_quarantined']} quarantined, {outcome['rows_skipped']} skipped")
            outcomes.append(outcome)
            file_done(index)
        broken: dict = steps.check(con)
        fault("after-invariants")
        # every date whose statistics are still to be written: this run's, and those of a run that crashed
        for day in publish.pending_dates(con, settings.stats):
            problem = steps.balance(con, day)
            if problem:
                broken[f"balance on {day}"] = problem
            fault("after-balance")
        statistics = steps.statistics(con, run_id, settings.stats)
        # the receivers' answers before the feeds: a file published now re-sends the rows that erred
        steps.receipts(con, run_id, settings.root, subscribers=settings.subscribers or None, target_for=target_for,
                       log=log)
        published, refusals = steps.handoffs(con, run_id, settings.root, key_for, plaintext=plaintext, log=log,
                                             subscribers=settings.subscribers or None, target_for=target_for,
                                             city_name=settings.city_name)
    except BaseException as exc:
        record_crash(con, run_id, outcomes, exc)
        raise
    broken |= {f"hand-off {name}": problem for name, problem in refusals.items()}
    status = "failed" if broken or any(o["status"] == "refused" for o in outcomes) else "completed"
    digest = register_digest(con)
    con.execute("update run_ledger set status = $s, finished_at = $t, outputs = $o, input_sha256 = $i, "
                "register_sha256 = $g where run_id = $r",
                {"s": status, "t": utc_now(), "r": run_id, "i": [o["sha256"] for o in outcomes], "g": digest,
                 "o": json.dumps({"files": outcomes, "stats": statistics, "handoffs": published}, default=str)})
    fault("after-run-ledger")
    head = chain.seal(con, run_id)  # the run's last ledger write: everything it recorded is in this seal
    return RunRecord(outcomes, status, broken, statistics, published, digest, head)


def faulted(stages: ingest.Stages) -> ingest.Stages:
    """The stages with the fault-injection boundaries after land and after the apply commit."""
    def after(boundary: str, stage: Callable) -> Callable:
        @functools.wraps(stage)
        def wrapped(*args, **kwargs):
            result = stage(*args, **kwargs)
            fault(boundary)
            return result
        return wrapped

    return dataclasses.replace(stages, land=after("after-land", stages.land), apply=after("after-apply", stages.apply))


def close_stale_runs(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """Close the run ledger rows another run left `running` as crashed, with what it did; their run ids.

    Called by a run that holds the store's writer lock, so no other writer is alive to finish them."""
    stale = [r for (r,) in con.execute("select run_id from run_ledger where status = 'running' and run_id <> $r "
                                       "order by started_at", {"r": run_id}).fetchall()]
    for other in stale:
        files = run_files(con, other)
        handoff.ensure_publish_tables(con)
        handoffs = con.execute("select subscriber, sequence_no, file_name, rows, data_sha256 from handoff_ledger "
                               "where run_id = $r order by subscriber, sequence_no", {"r": other}).fetchall()
        marks = con.execute("select output, max(delivery_no) from publish_watermark where run_id = $r "
                            "group by output order by output", {"r": other}).fetchall()
        outputs = {"files": files, "crashed": "its process ended without closing the run",
                   "closed_by": run_id,
                   "handoffs": [dict(zip(("subscriber", "sequence_no", "file", "rows", "sha256"), h))
                                for h in handoffs],
                   "watermarks": dict(marks)}
        con.execute("update run_ledger set status = 'crashed', finished_at = $t, outputs = $o, input_sha256 = $i "
                    "where run_id = $r",
                    {"t": utc_now(), "r": other, "i": [f["sha256"] for f in files],
                     "o": json.dumps(outputs, default=str)})
    return stale


def record_crash(con: duckdb.DuckDBPyConnection, run_id: str, outcomes: list[dict], exc: BaseException) -> None:
    """Close the ledger row of a run that raised (status crashed, the files it took in) and seal it."""
    try:
        try:
            con.execute("rollback")  # a step may have raised inside its own transaction
        except duckdb.Error:
            pass
        con.execute("update run_ledger set status = 'crashed', finished_at = $t, outputs = $o, input_sha256 = $i "
                    "where run_id = $r",
                    {"t": utc_now(), "r": run_id, "i": [o["sha256"] for o in outcomes],
                     "o": json.dumps({"files": outcomes, "crashed": type(exc).__name__}, default=str)})
        chain.seal(con, run_id)
    except Exception:  # the run's own error is the one to report
        pass
