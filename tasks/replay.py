"""Replay: rebuild the register in a scratch folder from the archived inputs and prove each run's digests.

Plain functions; the replay flow passes the same functions wrapped as Prefect tasks. The live store is
only read: its ledgers once at the start, and its records again only to name the residents that differ.
Everything is written under the scratch folder, hand-offs in plaintext (the run ledger keeps the digests
of the Parquet bytes before encryption). Sentences (logged, shown in artifacts) carry file names, run ids,
digests and counts; the codes of residents that differ are kept apart (Divergence.residents) for the
command line; never a My Number.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import fsspec
import polars as pl

from juki_core.settings import Settings
from juki_core.store import connect, has_table
from schemas.change_file import FILE_NAME_PATTERN
from tasks import chain, daily, handoff, ingest, publish, receipts, retention, stats, stats_files
from tasks.daily import FLOW_NAME, RunRecord
from tasks import audit
from tasks.audit import AUDIT_SQL, register_digest

FILE_FIELDS = ("file", "sha256", "status", "rows_read", "rows_applied", "rows_quarantined", "rows_skipped", "reason")
SHOWN_RESIDENTS = 20
SHOWN_DIVERGENCES = 50
SHORT = 16  # hex digits of a digest in a sentence; the report's fields keep them whole


class ReplayError(Exception):
    """A replay cannot start; the message is one sentence for a person."""


@dataclass(frozen=True)
class Divergence:
    """One difference between what the ledgers recorded and what the replay computes, as a sentence."""

    output: str  # ledger | input | inputs | files | file ledger | status | register | statistics | hand-off | ...
    message: str
    run_id: str | None = None
    recorded: str | None = None
    replayed: str | None = None
    residents: tuple[str, ...] = ()  # resident codes, at most SHOWN_RESIDENTS
    residents_differing: int = 0


@dataclass(frozen=True)
class RecordedRun:
    """One run as the live ledgers hold it: its run-ledger row (None when it has none) and its deliveries."""

    run_id: str
    position: int
    total: int
    ledger: dict | None
    files: tuple[dict, ...]
    handoffs: tuple[dict, ...]
    problems: tuple[Divergence, ...] = ()
    history_sha256: str | None = None  # the live register's digest as known when the run finished
    erased_later: tuple[str, ...] = ()  # residents erased after the run: left out of history_sha256
    watermarks: tuple[tuple[str, int], ...] = ()  # (output, delivery) the run moved each output to
    receipts: tuple[dict, ...] = ()  # the receivers' answers the run imported (its feed files re-send the errors)
    # files the run made visible to a subscriber and a later run settled (subscriber, header with its intent)
    left_visible: tuple[tuple[str, dict], ...] = ()

    @property
    def label(self) -> str:
        return f"run {self.position} of {self.total} ({self.run_id})"

    @property
    def finished(self) -> bool:
        """The run recorded its outcome (a crashed run recorded none to compare with)."""
        return (self.ledger is not None and self.ledger["finished_at"] is not None
                and self.ledger["status"] != "crashed")

    @property
    def dates(self) -> list[dt.date]:
        return sorted({d for d in map(_file_date, self.files) if d})


@dataclass(frozen=True)
class Plan:
    """The runs to replay in their original order, and the live ledgers' digests for the closing checks."""

    runs: tuple[RecordedRun, ...]
    archive: str
    later: int = 0  # runs after --until, not replayed
    other_flows: int = 0  # run-ledger rows of other flows (not replayed)
    live: dict | None = None  # only when the replay covers every run and verifies


@dataclass
class RunVerdict:
    """What the replay of one run found."""

    run_id: str
    position: int
    files: list[str]
    dates: list[str]
    verdict: str  # match | mismatch | replayed | unfinished | not replayed
    divergences: list[Divergence] = field(default_factory=list)
    register_sha256: str | None = None
    seconds: float = 0.0
    stopped: bool = False  # an input could not be replayed: nothing after it can be

    def line(self) -> str:
        first = f": {self.divergences[0].message}" if self.divergences else ""
        return f"run {self.position} ({self.run_id}): {self.verdict} in {self.seconds:.1f} s{first}"


@dataclass
class ReplayReport:
    """The verdict of a replay: each run, the closing checks, and the first divergence."""

    store: str
    scratch: str
    verified: bool
    until: dt.date | None
    code_version: str
    runs: list[RunVerdict]
    checks: list[Divergence] = field(default_factory=list)
    later: int = 0
    other_flows: int = 0
    seconds: float = 0.0

    @property
    def divergences(self) -> list[Divergence]:
        return [d for r in self.runs for d in r.divergences] + self.checks

    @property
    def ok(self) -> bool:
        return not self.divergences

    @property
    def first_divergence(self) -> Divergence | None:
        found = self.divergences
        return found[0] if found else None

    def summary(self) -> str:
        """One sentence: the verdict and, on a mismatch, the first divergence."""
        first = self.first_divergence
        if first is None:
            done = "matches every recorded digest" if self.verified else "rebuilt the register (not verified)"
            return f"The replay of {len(self.runs)} run(s) {done}."
        mismatched = sum(r.verdict == "mismatch" for r in self.runs)
        return (f"The replay does not match the ledgers ({mismatched} of {len(self.runs)} run(s) differ"
                f"{', and closing checks' if self.checks else ''}). First divergence: {first.message}")

    def as_dict(self) -> dict:
        """The report as JSON-ready data (what the flow returns)."""
        out = asdict(self)
        out["until"] = self.until.isoformat() if self.until else None
        out["ok"] = self.ok
        out["summary"] = self.summary()
        out["first_divergence"] = asdict(self.first_divergence) if self.first_divergence else None
        return out

    def text(self) -> str:
        return report_text(self.as_dict())

    def markdown(self) -> str:
        return report_markdown(self.as_dict())


def report_text(report: dict) -> str:
    """The verdict table, notes and first divergence for a terminal, with the codes of residents that differ."""
    rows = [("#", "run", "dates", "files", "verdict")]
    rows += [(str(r["position"]), r["run_id"], _span(r["dates"]), str(len(r["files"])), r["verdict"])
             for r in report["runs"]]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [f"replay of {report['store']} into {report['scratch']}" + (" (verified)" if report["verified"] else "")]
    if report["runs"]:
        lines += ["  ".join(c.rjust(w) if i in (0, 3) else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
                  for row in rows]
    lines += _notes(report)
    lines.append(report["summary"])
    first = report["first_divergence"]
    if first and first["residents"]:
        more = first["residents_differing"] - len(first["residents"])
        lines.append(f"residents that differ ({first['residents_differing']}): " + ", ".join(first["residents"])
                     + (f" and {more} more" if more > 0 else ""))
    found = [d["message"] for r in report["runs"] for d in r["divergences"]] + [d["message"] for d in report["checks"]]
    if len(found) > 1:
        lines.append(f"all {len(found)} divergences:")
        lines += [f"  - {message}" for message in found[:SHOWN_DIVERGENCES]]
        if len(found) > SHOWN_DIVERGENCES:
            lines.append(f"  … and {len(found) - SHOWN_DIVERGENCES} more (--json lists them all)")
    return "\n".join(lines)


def report_markdown(report: dict) -> str:
    """The verdict table for a Prefect artifact: counts of residents, no resident codes."""
    lines = ["# Replay", "", f"**{_md(report['summary'])}**", "",
             "| # | run | dates | files | verdict | divergences |", "|---:|---|---|---:|---|---|"]
    for r in report["runs"]:
        found = "; ".join(d["output"] for d in r["divergences"][:3]) + (" …" if len(r["divergences"]) > 3 else "")
        lines.append(f"| {r['position']} | `{r['run_id']}` | {_span(r['dates'])} | {len(r['files'])} | "
                     f"{r['verdict']} | {_md(found)} |")
    if report["checks"]:
        lines += ["", "## Closing checks", ""] + [f"- {_md(d['message'])}" for d in report["checks"]]
    lines += ["", "## Notes", ""] + [f"- {_md(n)}" for n in _notes(report)]
    return "\n".join(lines) + "\n"


def _notes(report: dict) -> list[str]:
    notes = []
    if report["later"]:
        notes.append(f"{report['later']} later run(s) hold files dated after {report['until']}: not replayed.")
    if report["other_flows"]:
        notes.append(f"{report['other_flows']} run(s) of other flows are in the run ledger: not replayed.")
    notes.append(f"replayed with code {report['code_version']} in {report['seconds']:.1f} s")
    if report.get("scratch_removed"):
        notes.append("the scratch folder was temporary and has been removed")
    else:
        notes.append("the scratch folder holds a full copy of the register and plaintext hand-off files: "
                     "keep it as safe as the store, and remove it when done")
    return notes


# --- the live ledgers -----------------------------------------------------------------------------

def plan(settings: Settings, until: dt.date | None = None, verify: bool = False) -> Plan:
    """The runs to replay in their original order, read from the live ledgers (opened read-only, then closed)."""
    with connect(Path(settings.store), read_only=True) as con:
        deliveries = _rows(con, "select * exclude (received_at) from file_ledger order by delivery_no")
        ledger = _rows(con, "select * from run_ledger order by started_at, run_id")
        handoffs = (_rows(con, "select * exclude (published_at) from handoff_ledger order by subscriber, sequence_no")
                    if has_table(con, "handoff_ledger") else [])
        moved: dict[str, tuple] = {}
        if has_table(con, "publish_watermark"):
            for run_id, output, delivery in con.execute("select run_id, output, max(delivery_no) from publish_watermark "
                                                        "group by run_id, output order by run_id, output").fetchall():
                moved[run_id] = moved.get(run_id, ()) + ((output, delivery),)
        answers: dict[str, list] = {}
        if has_table(con, "feed_receipt"):
            for row in _rows(con, "select * from feed_receipt order by subscriber, sequence_no, entry_no"):
                answers.setdefault(row["run_id"], []).append(row)
        for row in ledger:
            row["parameters"], row["outputs"] = _json(row["parameters"]), _json(row["outputs"])
        left = _left_visible(ledger)
        replayed = [r for r in ledger if r["flow_name"] == FLOW_NAME or retention.replayable(r)]
        order = _ordered(deliveries, replayed)
        kept = _until(order, until)
        live = _live_digests(con) if verify and len(kept) == len(order) else None
        history, erased = {}, {}
        finished = [(run_id, row) for run_id, row, _files in kept
                    if verify and row is not None and row["finished_at"] is not None]
        for run_id, row in finished:
            # a retention run since cleared some residents' rows as known then: prove the others
            erased[run_id] = retention.erased_after(con, row["finished_at"])
        # the usual case in one pass over the live versions; a legacy digest or an erasure since, one by one
        alike = [row["finished_at"] for run_id, row in finished
                 if not audit.is_legacy(row["register_sha256"]) and not erased[run_id]]
        at = audit.history_digests(con, alike)
        for run_id, row in finished:
            history[run_id] = at.get(row["finished_at"]) if row["finished_at"] in alike else audit.digest_like(
                con, row["register_sha256"], row["finished_at"], erased[run_id])
    runs, total = [], len(order)
    problems = _ledger_problems(deliveries, order, total)
    for position, (run_id, row, files) in enumerate(kept, 1):
        runs.append(RecordedRun(run_id, position, total, row, tuple(files),
                                tuple(h for h in handoffs if h["run_id"] == run_id), tuple(problems.get(run_id, ())),
                                history.get(run_id), erased.get(run_id, ()), watermarks=moved.get(run_id, ()),
                                receipts=tuple(answers.get(run_id, ())), left_visible=left.get(run_id, ())))
    return Plan(tuple(runs), settings.archive, later=len(order) - len(kept), other_flows=len(ledger) - len(replayed),
                live=live)


def _left_visible(ledger: list[dict]) -> dict[str, tuple[tuple[str, dict], ...]]:
    """By run: the hand-off files it wrote and named in the target before it died, which a later run settled."""
    left: dict[str, tuple] = {}
    for row in ledger:
        handoffs = (row["outputs"] or {}).get("handoffs")  # a crashed run's row lists ledger rows instead
        for subscriber, entries in (handoffs.items() if isinstance(handoffs, dict) else ()):
            for entry in entries:
                begun_by = (entry.get("intent") or {}).get("run_id")
                if entry.get("settled") and begun_by and begun_by != row["run_id"]:
                    left[begun_by] = left.get(begun_by, ()) + ((subscriber, entry),)
    return left


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> list[dict]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def _file_date(row: dict) -> dt.date | None:
    if row["business_date"]:
        return row["business_date"]
    match = FILE_NAME_PATTERN.fullmatch(row["file_name"])  # a refused file keeps the date of its name
    return dt.datetime.strptime(match["date"], "%Y%m%d").date() if match else None


def _ordered(deliveries: list[dict], runs: list[dict]) -> list[tuple[str, dict | None, list[dict]]]:
    """Runs grouped by run id in delivery order; runs without files where their start time puts them."""
    by_run: dict[str, list[dict]] = {}
    for row in deliveries:
        by_run.setdefault(row["run_id"], []).append(row)
    recorded = {r["run_id"]: r for r in runs}
    without_files = [r for r in runs if r["run_id"] not in by_run]  # already in start order
    order: list[tuple[str, dict | None, list[dict]]] = []
    for run_id, files in by_run.items():  # dicts keep insertion order: first delivery first
        row = recorded.get(run_id)
        while without_files and row is not None and without_files[0]["started_at"] < row["started_at"]:
            quiet = without_files.pop(0)
            order.append((quiet["run_id"], quiet, []))
        order.append((run_id, row, files))
    order += [(r["run_id"], r, []) for r in without_files]
    return order


def _until(order: list, until: dt.date | None) -> list:
    """The runs before the first one holding a file dated after `until`."""
    if until is None:
        return order
    for i, (_run_id, _row, files) in enumerate(order):
        if any((d := _file_date(f)) and d > until for f in files):
            return order[:i]
    return order


def _ledger_problems(deliveries: list[dict], order: list, total: int) -> dict[str, list[Divergence]]:
    """What the ledgers themselves show: deliveries missing, out of order, or under a run the run ledger lacks."""
    problems: dict[str, list[Divergence]] = {}
    expected = 1
    for row in deliveries:
        if row["delivery_no"] != expected:
            missing = f"{expected}" if row["delivery_no"] == expected + 1 else f"{expected}-{row['delivery_no'] - 1}"
            problems.setdefault(row["run_id"], []).append(Divergence(
                "ledger", f"{_label(order, row['run_id'], total)}: the file ledger has no row for delivery "
                f"{missing}, just before {row['file_name']} (delivery {row['delivery_no']}): a row was deleted.",
                row["run_id"]))
        expected = row["delivery_no"] + 1
    for run_id, row, files in order:
        label = _label(order, run_id, total)
        numbers = [f["delivery_no"] for f in files]
        if numbers and numbers != list(range(numbers[0], numbers[0] + len(numbers))):
            problems.setdefault(run_id, []).append(Divergence(
                "ledger", f"{label}: its deliveries {', '.join(map(str, numbers))} are interleaved with another "
                "run's, which one run holding the store cannot do: the file ledger was changed.", run_id))
        if row is None:
            names = ", ".join(f["file_name"] for f in files)
            problems.setdefault(run_id, []).append(Divergence(
                "ledger", f"{label}: deliveries {numbers[0]}-{numbers[-1]} ({names}) were taken in under a run the "
                "run ledger does not hold: its row is missing or was changed.", run_id))
    return problems


def _label(order: list, run_id: str, total: int) -> str:
    position = next(i for i, (r, _row, _files) in enumerate(order, 1) if r == run_id)
    return f"run {position} of {total} ({run_id})"


def _live_digests(con: duckdb.DuckDBPyConnection) -> dict:
    ledgers = _rows(con, (AUDIT_SQL / "ledger_digests.sql").read_text(encoding="utf-8"))[0]
    # the chain is verified on the live store itself: the scratch store's chain has other times
    return {"register_sha256": register_digest(con, full=True), **ledgers, "chain": chain.verify(con)}


# --- the scratch register -------------------------------------------------------------------------

def scratch_settings(settings: Settings, scratch: Path) -> Settings:
    """The replay's own store and folders in `scratch`, refused when it is not new or empty, or reaches live folders."""
    root = Path(scratch).resolve()
    if root == settings.root:
        raise ReplayError(f"the scratch folder {root} is the live store's own folder; give a folder of its own")
    for name in ("inbox", "archive", "stats", "outbox"):
        uri = getattr(settings, name)
        folder = None if "://" in uri else Path(uri).resolve()
        if folder is not None and (root == folder or folder in root.parents):
            raise ReplayError(f"the scratch folder {root} is inside the live {name} folder {folder}; "
                              "give a folder of its own")
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ReplayError(f"the scratch folder {root} is not empty; give a new or empty folder")
    return Settings(store=root / "registry.duckdb", municipality_code=settings.municipality_code,
                    max_refused_share=settings.max_refused_share, subscribers=settings.subscribers,
                    city_name=settings.city_name)


def run_settings(scratch: Settings, parameters: dict) -> Settings:
    """The scratch settings with the run's recorded municipality and subscribers file (many cities differ)."""
    return dataclasses.replace(scratch, municipality_code=parameters.get("municipality_code") or scratch.municipality_code,
                               subscribers=parameters.get("subscribers") or scratch.subscribers,
                               city_name=parameters.get("city_name") or scratch.city_name)


def _subscribers_changed(run: RecordedRun, parameters: dict) -> list[Divergence]:
    """A divergence when the subscribers file the run used is gone or has other bytes now."""
    recorded, path = parameters.get("subscribers_sha256"), parameters.get("subscribers")
    if not recorded or not path:
        return []
    now = hashlib.sha256(Path(path).read_bytes()).hexdigest() if Path(path).is_file() else None
    if now == recorded:
        return []
    what = "is missing" if now is None else f"has other bytes now (SHA-256 {_short(now)})"
    return [Divergence("input", f"{run.label}: the subscribers file {path} the run used (SHA-256 {_short(recorded)}) "
                       f"{what}; its hand-offs are recomputed with what is there.", run.run_id,
                       recorded=recorded, replayed=now)]


def scratch_target(scratch: Settings, subscriber: handoff.Subscriber) -> str:
    """Where the replay writes a subscriber's files: its own folder in scratch, never the subscriber's target."""
    return str(Path(scratch.outbox) / subscriber.name) + "/"


def _stage_inputs(archive: str, run: RecordedRun, scratch: Settings) -> tuple[list[str], Divergence | None]:
    """Each archived file of the run, checked against its recorded SHA-256, under its own name in the scratch inbox."""
    uris = []
    for f in run.files:
        name, number, recorded = f["file_name"], f["delivery_no"], f["file_sha256"]
        source = f"{archive.rstrip('/')}/{recorded}"
        fs, path = fsspec.core.url_to_fs(source)
        if not fs.exists(path):
            return uris, Divergence(
                "input", f"{run.label}: the archived file {name} (delivery {number}, SHA-256 {_short(recorded)}) "
                f"is missing from the archive ({source}); nothing after it can be replayed.",
                run.run_id, recorded=recorded)
        data = fs.cat_file(path)
        digest = hashlib.sha256(data).hexdigest()
        if digest != recorded:
            return uris, Divergence(
                "input", f"{run.label}: the archived bytes of {name} (delivery {number}) have changed: their SHA-256 "
                f"is now {_short(digest)}, the file ledger recorded {_short(recorded)}; nothing after it can be "
                "replayed.", run.run_id, recorded=recorded, replayed=digest)
        target = Path(scratch.inbox) / f"{number:08d}" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        uris.append(str(target))
    return uris, None


def replay_run(con: duckdb.DuckDBPyConnection, scratch: Settings, recorded: Plan, run: RecordedRun, verify: bool,
               name_residents: bool = True, live_store: str | None = None) -> RunVerdict:
    """Replay one recorded run into the scratch register and, with verify, compare it with what the run recorded."""
    started = time.perf_counter()
    verdict = RunVerdict(run.run_id, run.position, [f["file_name"] for f in run.files],
                         [d.isoformat() for d in run.dates], "replayed")
    try:
        uris, problem = _stage_inputs(recorded.archive, run, scratch)
        if problem:
            verdict.verdict, verdict.divergences, verdict.stopped = "mismatch", [problem], True
            return verdict
        record = None
        parameters = (run.ledger or {}).get("parameters") or {}
        share = parameters.get("max_refused_share")
        scratch = run_settings(scratch, parameters)
        receipts.restore(con, run.receipts)  # the scratch targets hold no receipts: the answers as the run took them
        if run.ledger is not None and run.ledger["flow_name"] == retention.FLOW_NAME:  # erase as recorded
            status, digest = retention.rerun(con, run.run_id, parameters)
            record = RunRecord([], status, {}, {}, {}, digest)
            verdict.dates, verdict.register_sha256 = [parameters["as_of"]], digest
        elif run.finished:
            record = daily.run(con, scratch, run.run_id, uris, parameters, plaintext=True, max_refused_share=share,
                               target_for=functools.partial(scratch_target, scratch))
            verdict.register_sha256 = record.register_sha256
        else:  # no outcome was recorded: take its files in and publish what it published, compare nothing
            # its recorded parameters in the scratch ledger, as the live run had them: the rules it followed
            # (ingest.run_follows) and the latest business date it took in (today + max_days_ahead)
            if run.ledger is not None:
                daily.record_start(con, run.run_id, parameters)
            for uri in uris:
                ingest.ingest_file(con, uri, scratch.archive, scratch.municipality_code,
                                   scratch.max_refused_share if share is None else share, run.run_id,
                                   latest=ingest.latest_business_date(parameters))
            _republish(con, scratch, run)
            con.execute("update run_ledger set status = 'crashed', finished_at = $t where run_id = $r",
                        {"t": daily.utc_now(), "r": run.run_id})
        if verify:
            verdict.divergences = list(run.problems) + _subscribers_changed(run, parameters)
            if record is not None:
                verdict.divergences += compare_run(con, run, record, name_residents, live_store)
        if verdict.divergences:
            verdict.verdict = "mismatch"
        elif record is None:
            verdict.verdict = "unfinished"
        elif verify:
            verdict.verdict = "match"
        return verdict
    finally:
        for staged in {Path(scratch.inbox) / f"{f['delivery_no']:08d}" for f in run.files}:
            shutil.rmtree(staged, ignore_errors=True)
        verdict.seconds = time.perf_counter() - started


def _republish(con: duckdb.DuckDBPyConnection, scratch: Settings, run: RecordedRun) -> None:
    """What a run that crashed had published before it died, up to the watermarks it moved, nothing more; and
    each file it had made visible without its ledger row, left so again for the run that settled it."""
    marks = dict(run.watermarks)
    if publish.STATISTICS in marks:
        publish.write_statistics(con, run.run_id, scratch.stats, until=marks[publish.STATISTICS])
    feeds = {k: v for k, v in marks.items() if k != publish.STATISTICS}
    if feeds:
        publish.publish_handoffs(con, run.run_id, scratch.root, lambda sub: None, plaintext=True,
                                 subscribers=scratch.subscribers or None,
                                 target_for=functools.partial(scratch_target, scratch), until=feeds,
                                 city_name=scratch.city_name)
    if not run.left_visible:
        return
    subscribers = handoff.load_subscribers(scratch.subscribers or None)
    for name, entry in run.left_visible:
        sub = subscribers[name]
        target, delivery_no = scratch_target(scratch, sub), entry["intent"]["delivery_no"]
        if sub.mode == "change_feed":
            handoff.publish_feed(con, sub, target, delivery_no, None, True, run.run_id, city_name=scratch.city_name,
                                 settle=False)
        else:
            handoff.publish_conbini(con, target, dt.date.fromisoformat(entry["as_of"]), None, True, run.run_id,
                                    subscriber=sub, delivery_no=delivery_no, settle=False, city_name=scratch.city_name)


# --- comparing -----------------------------------------------------------------------------------

def compare_run(con: duckdb.DuckDBPyConnection, run: RecordedRun, record: RunRecord, name_residents: bool = True,
                live_store: str | None = None) -> list[Divergence]:
    """Every difference between a run's ledger rows and its replay: inputs, files, status, register, files written."""
    ledger, label = run.ledger, run.label
    outputs = ledger["outputs"] or {}
    found: list[Divergence] = []

    def say(output: str, message: str, recorded=None, replayed=None) -> None:
        found.append(Divergence(output, f"{label}: {message}", run.run_id, None if recorded is None else str(recorded),
                                None if replayed is None else str(replayed)))

    delivered = [f["file_sha256"] for f in run.files]
    if list(ledger["input_sha256"] or []) != delivered:
        say("inputs", f"the run ledger lists {len(ledger['input_sha256'] or [])} input digest(s) that are not those "
            f"of the {len(delivered)} file(s) the file ledger holds for the run.",
            ",".join(ledger["input_sha256"] or []), ",".join(delivered))
    _compare_files(say, outputs.get("files") or [], record.outcomes)
    _compare_file_ledger(say, run.files, _rows(con, "select * exclude (received_at) from file_ledger "
                                                    "where run_id = $r order by delivery_no", {"r": run.run_id}))
    if ledger["status"] != record.status:
        say("status", f"the run ledger says the run {ledger['status']}, the replay {record.status}.",
            ledger["status"], record.status)
    replayed = record.register_sha256
    if audit.is_legacy(ledger["register_sha256"]):  # recorded before the per-batch sums: its definition
        replayed = audit.digest_like(con, ledger["register_sha256"])
    if ledger["register_sha256"] != replayed:
        found.append(_register_divergence(con, run, replayed, name_residents, live_store))
    elif run.history_sha256 is not None and run.history_sha256 != (
            audit.digest_like(con, replayed, without=run.erased_later) if run.erased_later else replayed):
        found.append(_history_divergence(con, run, name_residents, live_store))
    _compare_statistics(say, outputs.get("stats") or {}, record.statistics, con)
    _compare_handoffs(say, outputs.get("handoffs") or {}, record.handoffs, run.handoffs)
    return found


def _compare_files(say, recorded: list[dict], replayed: list[dict]) -> None:
    if [f.get("file") for f in recorded] != [o["file"] for o in replayed]:
        say("files", f"the run ledger lists the files {', '.join(str(f.get('file')) for f in recorded) or 'none'}, "
            f"the replay took in {', '.join(o['file'] for o in replayed) or 'none'}.")
        return
    for before, after in zip(recorded, replayed):
        for name in FILE_FIELDS:
            if before.get(name) != after[name]:
                say("files", f"{after['file']}: {name} is {before.get(name)!r} in the run ledger, "
                    f"{after[name]!r} in the replay.", before.get(name), after[name])
                break


def _compare_file_ledger(say, live: tuple[dict, ...], replayed: list[dict]) -> None:
    if len(live) != len(replayed):
        say("file ledger", f"the file ledger holds {len(live)} delivery row(s) for the run, "
            f"the replay {len(replayed)}.")
        return
    for before, after in zip(live, replayed):
        for name, value in before.items():
            if after.get(name) != value:
                say("file ledger", f"the file ledger's row for delivery {before['delivery_no']} "
                    f"({before['file_name']}) has {name} {value!r}, the replay {after.get(name)!r}.",
                    value, after.get(name))
                break


def _drawn_before(con: duckdb.DuckDBPyConnection, name: str, recorded: str) -> bool:
    # a pyramid recorded before the Pillow drawing: the same population drawn the earlier way (matplotlib)
    if not name.endswith("/pyramid.png"):
        return False
    day = dt.date.fromisoformat(name.split("/", 1)[0])
    png = stats_files.pyramid_png_matplotlib(stats.population(con, day), day)
    return hashlib.sha256(png).hexdigest() == recorded


def _balance_file(name: str) -> bool:
    return name.rpartition("/")[2] in ("balance.parquet", "balance.csv")


def _compare_statistics(say, recorded: dict[str, str], replayed: dict[str, str],
                        con: duckdb.DuckDBPyConnection | None = None) -> None:
    # a run recorded before the balance files had none: the replay's are not the run's difference
    before_balance = not any(_balance_file(name) for name in recorded)
    for name in sorted(set(recorded) | set(replayed)):
        before, after = recorded.get(name), replayed.get(name)
        if before is None and before_balance and _balance_file(name):
            continue
        if before is not None and after is not None and before != after and con is not None \
                and _drawn_before(con, name, before):
            continue
        if before is None:
            say("statistics", f"the replay writes the statistics file {name}, which the run did not record.",
                None, after)
        elif after is None:
            say("statistics", f"the run recorded the statistics file {name}, which the replay does not write.",
                before, None)
        elif before != after:
            say("statistics", f"the statistics file {name} has SHA-256 {_short(before)} in the run ledger, "
                f"{_short(after)} in the replay.", before, after)


def _handoff_key(subscriber: str, entry: dict) -> tuple[str, str]:
    day = entry.get("business_date") or entry.get("as_of")
    return subscriber, str(day)


def _keyed(pairs: list[tuple[tuple[str, str], dict]]) -> dict[tuple, dict]:
    # a business date may have several files (one per delivery): the n-th of a day is (subscriber, day, n)
    seen: dict[tuple, int] = {}
    out = {}
    for key, entry in pairs:
        seen[key] = seen.get(key, 0) + 1
        out[key + ((str(seen[key]),) if seen[key] > 1 else ())] = entry
    return out


def _published(handoffs: dict[str, list]) -> dict[tuple[str, str], dict]:
    # a feed's header that was published by an earlier run comes back as already_published: not this run's
    return _keyed([(_handoff_key(sub, e), e) for sub, entries in handoffs.items() for e in entries
                   if e.get("status", "published") == "published"])


def _compare_handoffs(say, recorded: dict[str, list], replayed: dict[str, list], ledger_rows: tuple[dict, ...]) -> None:
    before, after = _published(recorded), _published(replayed)
    for key in sorted(set(before) | set(after)):
        sub, day = key[0], key[1]
        what = f"the hand-off to {sub} for {day}"
        if key not in after:
            say("hand-off", f"the run recorded {what}, which the replay does not publish.", before[key].get("sha256"))
        elif key not in before:
            say("hand-off", f"the replay publishes {what}, which the run did not record (was it refused, "
                "for want of a key?).", None, after[key].get("sha256"))
        elif (before[key].get("sha256"), before[key].get("rows")) != (after[key]["sha256"], after[key]["rows"]):
            say("hand-off", f"{what} has data SHA-256 {_short(before[key].get('sha256'))} ({before[key].get('rows')} "
                f"rows) in the run ledger, {_short(after[key]['sha256'])} ({after[key]['rows']} rows) in the replay.",
                before[key].get("sha256"), after[key]["sha256"])
    everything = _keyed([(_handoff_key(sub, e), e) for sub, entries in recorded.items() for e in entries])
    keyed_rows = _keyed([(_handoff_key(r["subscriber"], r), r) for r in ledger_rows])
    for key, row in keyed_rows.items():
        entry = everything.get(key)
        if entry is None or entry.get("sha256") != row["data_sha256"]:
            say("hand-off ledger", f"the hand-off ledger's row for {row['subscriber']} {key[1]} (sequence "
                f"{row['sequence_no']}) has data SHA-256 {_short(row['data_sha256'])}, the run ledger "
                f"{_short(entry.get('sha256')) if entry else 'no such hand-off'}.",
                row["data_sha256"], entry.get("sha256") if entry else None)
    ledgered = set(keyed_rows)
    for key in sorted(set(before) - ledgered):
        say("hand-off ledger", f"the run recorded the hand-off to {key[0]} for {key[1]}, which the hand-off ledger "
            "does not hold for the run.", before[key].get("sha256"))


def _register_divergence(con: duckdb.DuckDBPyConnection, run: RecordedRun, replayed: str, name_residents: bool,
                         live_store: str | None) -> Divergence:
    recorded, at = run.ledger["register_sha256"], run.ledger["finished_at"]
    head = (f"{run.label}: the register digest is {_short(recorded)} in the run ledger, {_short(replayed)} in "
            "the replay")
    if not name_residents or live_store is None:
        return Divergence("register", head + ".", run.run_id, recorded, replayed)
    count, codes = differing_residents(con, Path(live_store), at)
    if count == 0:
        message = (f"{head}, and the live register as it stood when the run finished ({at:%Y-%m-%d %H:%M:%S} UTC) "
                   "holds exactly the replay's records: the run ledger's register_sha256 was changed after the run.")
    else:
        message = (f"{head}; {count} resident(s) have other records than the live register had when the run "
                   f"finished ({at:%Y-%m-%d %H:%M:%S} UTC).")
    return Divergence("register", message, run.run_id, recorded, replayed, tuple(codes), count)


def _history_divergence(con: duckdb.DuckDBPyConnection, run: RecordedRun, name_residents: bool,
                        live_store: str | None) -> Divergence:
    recorded, at = run.ledger["register_sha256"], run.ledger["finished_at"]
    message = (f"{run.label}: the run ledger and the replay agree on the register digest {_short(recorded)}, but the "
               f"live register as known when the run finished ({at:%Y-%m-%d %H:%M:%S} UTC) gives "
               f"{_short(run.history_sha256)}: records, or their recorded_from/recorded_to times, were changed "
               "after the run")
    if not name_residents or live_store is None:
        return Divergence("history", message + ".", run.run_id, recorded, run.history_sha256)
    count, codes = differing_residents(con, Path(live_store), at)
    return Divergence("history", f"{message}; {count} resident(s) differ.", run.run_id, recorded, run.history_sha256,
                      tuple(codes), count)


def digest_at(con: duckdb.DuckDBPyConnection, known_at: dt.datetime | None = None) -> str:
    """The register digest as the register knew it at `known_at` (UTC; now when None)."""
    return register_digest(con, known_at, full=True)


def register_rows(con: duckdb.DuckDBPyConnection, known_at: dt.datetime | None = None) -> pl.DataFrame:
    """One hash per resident version, as the register knows it now or knew it at `known_at` (UTC)."""
    return con.sql(audit.register_rows_sql(), params={"known_at": known_at}).pl()


def rows_digest(rows: pl.DataFrame) -> str:
    """The register digest of register_rows: the same as register_digest for the same state."""
    return audit.rows_digest(rows["row_hash"].to_list())


def differing_residents(con: duckdb.DuckDBPyConnection, live_store: Path,
                        known_at: dt.datetime | None) -> tuple[int, list[str]]:
    """How many residents differ between the scratch register now and the live one at `known_at`; the first codes."""
    mine = register_rows(con)
    with connect(live_store, read_only=True) as live:
        theirs = register_rows(live, known_at)

    def per_resident(rows: pl.DataFrame) -> pl.DataFrame:
        return rows.group_by("resident_code").agg(pl.col("row_hash").sort().str.join(""))

    joined = per_resident(mine).join(per_resident(theirs), on="resident_code", how="full", coalesce=True,
                                     suffix="_live")
    codes = joined.filter(pl.col("row_hash").ne_missing(pl.col("row_hash_live")))["resident_code"].sort()
    return codes.len(), codes.head(SHOWN_RESIDENTS).to_list()


def kept_digest_check(con: duckdb.DuckDBPyConnection, now: str | None = None) -> list[Divergence]:
    """At the end of every replay: the register digest kept per batch equals the one recomputed from the register
    (`now`, when the caller has just recomputed it)."""
    now, kept = now or register_digest(con, full=True), register_digest(con)
    if kept == now:
        return []
    return [Divergence("register digest", f"the register digest kept per batch ({_short(kept)}) is not the one "
                       f"recomputed from the replayed register ({_short(now)}).", None, now, kept)]


def closing_checks(con: duckdb.DuckDBPyConnection, settings: Settings, recorded: Plan) -> list[Divergence]:
    """After replaying every run: the live register now, its events and its quarantine are the replay's, and
    the live ledger chain is intact and agrees with its anchor file."""
    now = register_digest(con, full=True)  # one full recomputation serves both checks (seconds at full size)
    found = kept_digest_check(con, now)
    if recorded.live is None:
        return found
    live = recorded.live
    if now != live["register_sha256"]:
        count, codes = differing_residents(con, Path(settings.store), None)
        found.append(Divergence(
            "live register", f"the live register now (digest {_short(live['register_sha256'])}) is not the replay of "
            f"all its runs ({_short(now)}): {count} resident(s) have other records, changed outside any run.",
            None, live["register_sha256"], now, tuple(codes), count))
    mine = _rows(con, (AUDIT_SQL / "ledger_digests.sql").read_text(encoding="utf-8"))[0]
    for digest, count, what in (("event_sha256", "events", "accepted events (event)"),
                                ("quarantine_sha256", "refused_rows", "refused rows (quarantine)")):
        if mine[digest] != live[digest]:
            found.append(Divergence(
                "ledger", f"the live ledger of {what} holds {live[count]} row(s) with digest {_short(live[digest])}, "
                f"the replay {mine[count]} with {_short(mine[digest])}: rows were added, removed or edited by hand.",
                None, live[digest], mine[digest]))
    found += [Divergence("ledger chain", message) for message in live.get("chain", ())]
    return found


def _short(digest: str | None) -> str:
    return f"{digest[:SHORT]}…" if digest else "none"


def _span(dates: list[str]) -> str:
    if not dates:
        return "-"
    return dates[0] if len(dates) == 1 else f"{dates[0]}..{dates[-1]}"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


# --- the whole replay ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Steps:
    """The replay's steps; the flow passes the same functions wrapped as Prefect tasks."""

    plan: Callable = plan
    run: Callable = replay_run
    close: Callable = closing_checks


def replay(settings: Settings, scratch: Path, until: dt.date | None = None, verify: bool = False,
           progress: Callable[[str], None] | None = None, steps: Steps = Steps()) -> ReplayReport:
    """Rebuild the register in `scratch` from the archived inputs, run by run; with verify, compare every digest."""
    say = progress or (lambda message: None)
    started = time.perf_counter()
    own = scratch_settings(settings, Path(scratch))
    recorded = steps.plan(settings, until, verify)
    say(f"{len(recorded.runs)} run(s) to replay from {settings.store} into {own.root}")
    verdicts: list[RunVerdict] = []
    checks: list[Divergence] = []
    con = connect(own.store)
    try:
        named = stopped = False
        for run in recorded.runs:
            if stopped:
                verdicts.append(RunVerdict(run.run_id, run.position, [f["file_name"] for f in run.files],
                                           [d.isoformat() for d in run.dates], "not replayed"))
                continue
            verdict = steps.run(con, own, recorded, run, verify, not named, str(settings.store))
            named = named or any(d.output in ("register", "history") for d in verdict.divergences)
            stopped = verdict.stopped
            verdicts.append(verdict)
            say(verdict.line())
        if verify and not stopped:
            checks = steps.close(con, settings, recorded)
        elif not stopped:
            checks = kept_digest_check(con)
    finally:
        con.close()
    report = ReplayReport(str(settings.store), str(own.root), verify, until, daily.provenance()[0], verdicts, checks,
                          recorded.later, recorded.other_flows, time.perf_counter() - started)
    say(report.summary())
    return report
