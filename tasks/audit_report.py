"""The audit report: one self-contained HTML file of what the register received, applied, refused,
published and disclosed over a period of business dates, the runs that did it, the replay verdict
and the ledger chain's verdict (tasks/chain.py).

No network is needed to open it (inline CSS, no scripts, fonts, images or links), every value is
escaped, and refused rows appear as counts by rule id only. As a last guard, any 12-digit number in
the page that is a My Number the register holds is masked before the file is written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import re
from pathlib import Path
from typing import Any, Callable, Iterable

import duckdb

from juki_core.store import has_table
from schemas.change_file import mask_my_number
from tasks import chain

AUDIT_SQL = Path(__file__).resolve().parent / "sql" / "audit"
TWELVE_DIGITS = re.compile(r"(?<![0-9A-Za-z])\d{12}(?![0-9A-Za-z])")

CSS = """
:root { --ok: #1b6e33; --ok-bg: #e3f4e8; --bad: #a3161b; --bad-bg: #fbe4e4; --none: #5b5b5b; --none-bg: #ececec;
        --line: #d5d9de; --head: #f4f6f8; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "Hiragino Sans", "Noto Sans CJK JP", "Yu Gothic",
       sans-serif; color: #1c1e21; margin: 0 auto; padding: 24px 32px 48px; max-width: 1400px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
p.sub, p.note { color: #555; margin: 4px 0 12px; }
.verdict { border-radius: 8px; padding: 14px 18px; margin: 16px 0; border: 2px solid; }
.verdict strong { font-size: 20px; display: block; }
.verdict.matching { color: var(--ok); background: var(--ok-bg); border-color: var(--ok); }
.verdict.mismatch { color: var(--bad); background: var(--bad-bg); border-color: var(--bad); }
.verdict.unverified { color: var(--none); background: var(--none-bg); border-color: var(--none); }
.verdict p { margin: 6px 0 0; color: #1c1e21; }
.chain { border-radius: 8px; padding: 10px 18px; margin: 0 0 16px; border: 1px solid; }
.chain strong { font-size: 16px; display: block; }
.chain.intact { color: var(--ok); background: var(--ok-bg); border-color: var(--ok); }
.chain.broken { color: var(--bad); background: var(--bad-bg); border-color: var(--bad); }
.chain.unsealed { color: var(--none); background: var(--none-bg); border-color: var(--none); }
.chain p, .chain ul { margin: 6px 0 0; color: #1c1e21; }
.figures { display: flex; flex-wrap: wrap; gap: 10px; margin: 8px 0 0; padding: 0; list-style: none; }
.figures li { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 150px; }
.figures b { display: block; font-size: 20px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 4px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: var(--head); font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.d, code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px;
             word-break: break-all; }
td.empty { color: #777; font-style: italic; text-align: center; }
.tag { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 12px; font-weight: 600; }
.tag.ok { color: var(--ok); background: var(--ok-bg); }
.tag.bad { color: var(--bad); background: var(--bad-bg); }
.tag.none { color: var(--none); background: var(--none-bg); }
details { margin: 4px 0; }
footer { margin-top: 40px; color: #666; font-size: 12px; }
@media print { body { padding: 0; max-width: none; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
"""


def _query(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> list[dict]:
    cur = con.execute((AUDIT_SQL / name).read_text(encoding="utf-8"), params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def report_data(con: duckdb.DuckDBPyConnection, date_from: dt.date | None, date_to: dt.date | None) -> dict:
    """The facts of the report for business dates date_from..date_to (either may be None: open)."""
    period = {"date_from": date_from, "date_to": date_to}
    files = _query(con, "report_files.sql", **period)
    handoffs = _query(con, "report_handoffs.sql", **period) if has_table(con, "handoff_ledger") else []
    run_ids = sorted({f["run_id"] for f in files} | {h["run_id"] for h in handoffs})
    disclosures = []
    if has_table(con, "disclosure_log") and has_table(con, "handoff_ledger"):
        disclosures = _query(con, "report_disclosures.sql", **period)
    return {
        "files": files,
        "events": _query(con, "report_events.sql", **period),
        "refused": _query(con, "report_refused.sql", **period),
        "handoffs": handoffs,
        "disclosures": disclosures,
        "runs": _query(con, "report_runs.sql", run_ids=run_ids, **period),
        "chain": chain.status(con) if has_table(con, "ledger_chain") else None,
    }


# --- the replay verdict -----------------------------------------------------------------------
# Two shapes are taken: {"ok", "runs": [{"run_id", "ok", "divergence"}], "first_divergence": str} and
# tasks/replay.py's ReplayReport (or its as_dict()): "verified", runs with "verdict" and "divergences",
# first_divergence a dict with "message".

def _plain(verdict: Any) -> dict | None:
    if verdict is None:
        return None
    if hasattr(verdict, "as_dict"):
        return verdict.as_dict()
    if dataclasses.is_dataclass(verdict) and not isinstance(verdict, type):
        return dataclasses.asdict(verdict)
    return dict(verdict)


def _message(divergence: Any) -> str | None:
    if isinstance(divergence, dict):
        return divergence.get("message") or divergence.get("output")
    return None if divergence is None else str(divergence)


def verdict_state(verdict: dict | None) -> str:
    """matching, mismatch or unverified (no verdict, or a replay that rebuilt without comparing digests)."""
    if verdict is None:
        return "unverified"
    if not verdict.get("ok"):
        return "mismatch"
    return "matching" if verdict.get("verified", True) else "unverified"


def run_verdicts(verdict: dict | None) -> dict[str, dict]:
    """run_id -> {"kind": ok | bad | none, "label": the word shown, "divergence": the first one or None}."""
    found = {}
    for run in (verdict or {}).get("runs") or []:
        if not isinstance(run, dict):
            continue
        divergence = run.get("divergence") or next(iter(run.get("divergences") or []), None)
        if "verdict" in run:
            word = str(run["verdict"])
            kind = {"match": "ok", "mismatch": "bad"}.get(word, "bad" if divergence else "none")
            label = {"match": "matches", "mismatch": "MISMATCH"}.get(word, word)
        else:
            kind, label = ("ok", "matches") if run.get("ok") else ("bad", "MISMATCH")
        found[str(run.get("run_id"))] = {"kind": kind, "label": label, "divergence": _message(divergence)}
    return found


def _first_divergence(verdict: dict) -> str | None:
    first = _message(verdict.get("first_divergence"))
    if first:
        return first
    for run_id, run in run_verdicts(verdict).items():
        if run["kind"] == "bad":
            return f"run {run_id}: {run['divergence'] or 'does not match'}"
    return None


# --- HTML -------------------------------------------------------------------------------------

def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _when(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat(sep=" ") + " UTC"
    return "" if value is None else str(value)


def _counts(value: Any) -> str:
    """A JSON object of counts (a snapshot's excluded residents by reason) as `reason n, …`."""
    try:
        counts = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return str(value)
    if not isinstance(counts, dict):
        return "" if counts is None else str(counts)
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def _int(value: Any) -> str:
    return "" if value is None else f"{int(value):,}"


class Markup(str):
    """Text that is already HTML, its values escaped by whoever made it."""


# a column: key, heading, css class of the cell (n: number, d: digest/code, "": text), formatter
Column = tuple[str, str, str, Callable[[Any], str]]


def _col(key: str, heading: str, kind: str = "", fmt: Callable[[Any], str] | None = None) -> Column:
    return key, heading, kind, fmt or (_int if kind == "n" else _when)


def _table(columns: list[Column], rows: Iterable[dict], empty: str) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for _, h, _, _ in columns)
    body = []
    for row in rows:
        cells = []
        for key, _, kind, fmt in columns:
            value = fmt(row.get(key))
            content = value if isinstance(value, Markup) else _e(value)
            cells.append(f'<td class="{kind}">{content}</td>' if kind else f"<td>{content}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        body.append(f'<tr><td class="empty" colspan="{len(columns)}">{_e(empty)}</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _tag(text: str, kind: str) -> Markup:
    return Markup(f'<span class="tag {kind}">{_e(text)}</span>')


def _status_tag(status: Any) -> Markup:
    kind = {"applied": "ok", "completed": "ok", "refused": "bad", "failed": "bad"}.get(str(status), "none")
    return _tag(str(status), kind)


def _period_text(date_from: dt.date | None, date_to: dt.date | None) -> str:
    if date_from and date_to:
        return f"{date_from.isoformat()} to {date_to.isoformat()}"
    if date_from:
        return f"from {date_from.isoformat()}"
    if date_to:
        return f"up to {date_to.isoformat()}"
    return "all business dates"


def _verdict_html(verdict: dict | None, period_runs: list[dict]) -> str:
    state = verdict_state(verdict)
    by_run = run_verdicts(verdict)
    summary = f"<p>{_e(verdict['summary'])}</p>" if verdict and verdict.get("summary") else ""
    if verdict is None:
        return ('<section class="verdict unverified"><strong>Replay: not verified</strong>'
                "<p>No replay verdict was given for this report: the digests below are as recorded, "
                "not re-computed. Run <code>juki replay --verify</code> to check them.</p></section>")
    if state == "unverified":
        return ('<section class="verdict unverified"><strong>Replay: not verified</strong>'
                "<p>The replay rebuilt the register but did not compare its digests with the ledgers "
                f"(run it with --verify).</p>{summary}</section>")
    if state == "matching":
        return ('<section class="verdict matching"><strong>Replay: matching</strong>'
                f"<p>A fresh register rebuilt from the archived inputs gave the recorded digests for all "
                f"{len(by_run):,} replayed run(s).</p>{summary}</section>")
    bad = {run_id: run for run_id, run in by_run.items() if run["kind"] == "bad"}
    items = "".join(f"<li><code>{_e(run_id)}</code>: {_e(run['divergence'] or 'does not match')}</li>"
                    for run_id, run in bad.items())
    in_period = sum(run_id in {str(p["run_id"]) for p in period_runs} for run_id in bad)
    note = (f"<p>{len(bad):,} of {len(by_run):,} replayed run(s) do not match, {in_period:,} of them in this "
            f"period:</p><ul>{items}</ul>") if bad else ""
    return ('<section class="verdict mismatch"><strong>Replay: MISMATCH</strong>'
            f"<p>First divergence: {_e(_first_divergence(verdict) or 'not named by the replay')}</p>{note}</section>")


def _chain_html(state: dict | None) -> str:
    """The ledger chain's verdict: intact (head, seals), broken (each problem) or not sealed yet."""
    if not state or (not state["seals"] and not state["problems"]):
        return ('<section class="chain unsealed"><strong>Ledger chain: not sealed yet</strong>'
                "<p>No seal covers the run, file, hand-off and disclosure ledgers yet: an edit of them by hand "
                "would not show here.</p></section>")
    waiting = sum(state["unsealed"].values())
    later = (f" {waiting:,} row(s) written since the last seal are not sealed yet "
             f"({', '.join(f'{k} {v:,}' for k, v in state['unsealed'].items())}).") if waiting else ""
    about = (f"<p>{state['seals']:,} seal(s) over run_ledger, file_ledger, handoff_ledger and disclosure_log; head "
             f"<code>{_e(state['head'])}</code>, {_e(state['last_seal'])}.{_e(later)}</p>")
    if state.get("interrupted"):  # not a problem: the next run or seal completes it
        about += f"<p>{_e(state['interrupted'])}</p>"
    if not state["problems"]:
        return ('<section class="chain intact"><strong>Ledger chain: intact</strong>'
                f"{about}<p>Every sealed row is as sealed, and every head is the one written to the anchor file "
                f"outside the store ({_e(state['anchors'])}).</p></section>")
    items = "".join(f"<li>{_e(problem)}</li>" for problem in state["problems"])
    return ('<section class="chain broken"><strong>Ledger chain: BROKEN</strong>'
            f"{about}<p>{len(state['problems']):,} problem(s):</p><ul>{items}</ul></section>")


def _replay_cell(verdict: dict | None, by_run: dict[str, dict]) -> Callable[[Any], Markup]:
    def cell(run_id: Any) -> Markup:
        if verdict is None:
            return _tag("not verified", "none")
        run = by_run.get(str(run_id))
        if run is None:
            return _tag("not replayed", "none")
        if verdict_state(verdict) == "unverified" and run["kind"] != "bad":
            return _tag("rebuilt, not verified", "none")
        return _tag(run["label"], run["kind"])
    return cell


def _outputs_html(runs: list[dict]) -> str:
    blocks = []
    for run in runs:
        try:
            outputs = json.loads(run["outputs"]) if isinstance(run.get("outputs"), str) else (run.get("outputs") or {})
        except ValueError:
            outputs = {}
        stats = outputs.get("stats") if isinstance(outputs, dict) else None
        if not isinstance(stats, dict) or not stats:
            continue
        rows = [{"file": name, "sha256": digest} for name, digest in sorted(stats.items())]
        blocks.append(f"<details><summary>run <code>{_e(run['run_id'])}</code>: {len(rows):,} statistics file(s)"
                      f"</summary>{_table([_col('file', 'file'), _col('sha256', 'SHA-256', 'd')], rows, '')}</details>")
    if not blocks:
        return "<p class=\"note\">No statistics files are recorded for these runs.</p>"
    return "".join(blocks)


def render(data: dict, date_from: dt.date | None, date_to: dt.date | None, verdict: dict | None,
           generated_at: dt.datetime | None = None) -> str:
    """The report's HTML text from report_data and a verdict (None: not verified)."""
    generated_at = generated_at or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    files, events, refused = data["files"], data["events"], data["refused"]
    handoffs, disclosures, runs = data["handoffs"], data["disclosures"], data["runs"]
    by_run = run_verdicts(verdict)
    period = _period_text(date_from, date_to)
    state = verdict_state(verdict)
    by_status = {s: sum(f["status"] == s for f in files) for s in ("applied", "duplicate", "refused")}
    figures = [
        ("files received", f"{len(files):,}", f"{by_status['applied']:,} applied, {by_status['duplicate']:,} duplicate, "
                                                f"{by_status['refused']:,} refused"),
        ("rows applied", f"{sum(f['rows_applied'] for f in files):,}",
         f"of {sum(f['rows_read'] for f in files):,} read; {sum(f['rows_skipped'] for f in files):,} skipped"),
        ("rows refused", f"{sum(f['rows_quarantined'] for f in files):,}", f"{len(refused):,} rule id(s)"),
        ("hand-off files", f"{len(handoffs):,}", f"to {len({h['subscriber'] for h in handoffs}):,} subscriber(s)"),
        ("My Number disclosures", f"{len(disclosures):,}", f"{sum(d['persons'] for d in disclosures):,} person(s)"),
        ("runs", f"{len(runs):,}", f"{sum(r['status'] == 'completed' for r in runs):,} completed"),
    ]
    last_digest = next((r["register_sha256"] for r in reversed(runs) if r.get("register_sha256")), None)
    headline = {"matching": "replay matches", "mismatch": "REPLAY MISMATCH", "unverified": "replay not verified"}[state]

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>juki audit report, {_e(period)}: {_e(headline)}</title>",
        f"<style>{CSS}</style></head><body>",
        "<header><h1>Audit report of the Basic Resident Register (住民基本台帳)</h1>",
        f'<p class="sub">Business dates {_e(period)} · generated {_e(_when(generated_at))} · '
        "from the register's ledgers (file_ledger, event, quarantine, handoff_ledger, disclosure_log, run_ledger, "
        "ledger_chain)</p>",
        "</header>",
        _verdict_html(verdict, runs),
        _chain_html(data.get("chain")),
        '<ul class="figures">' + "".join(f"<li>{_e(label)}<b>{_e(big)}</b>{_e(small)}</li>"
                                          for label, big, small in figures) + "</ul>",
        (f'<p class="note">Register digest after the last run of the period: <code>{_e(last_digest)}</code></p>'
         if last_digest else ""),

        "<h2>1. Received: change files by business date</h2>",
        '<p class="note">One row per delivery; a repeated delivery has its own row. Refusal reasons hold no '
        "personal data. A file refused before its business date was known is listed on the date it arrived.</p>",
        _table([_col("business_date", "business date"), _col("delivery_no", "delivery", "n"), _col("file_name", "file"),
                _col("file_sha256", "SHA-256", "d"), _col("status", "status", "", _status_tag),
                _col("rows_read", "read", "n"), _col("rows_applied", "applied", "n"),
                _col("rows_quarantined", "refused", "n"), _col("rows_skipped", "skipped", "n"),
                _col("reason", "reason for refusing the file"), _col("received_at", "received"),
                _col("run_id", "run", "d")], files, "No file was received for these business dates."),

        "<h2>2. Applied: events by type</h2>",
        '<p class="note">Accepted change rows of these business dates. “Cancelled later” counts events undone by a '
        "CANCEL (取消) recorded since; the CANCEL rows themselves are counted under CANCEL.</p>",
        _table([_col("event_type", "event type"), _col("recorded", "recorded", "n"),
                _col("cancelled_later", "cancelled later", "n"), _col("in_force", "in force", "n"),
                _col("first_effective", "first effective date"), _col("last_effective", "last effective date")],
               events, "No event was applied for these business dates."),

        "<h2>3. Refused: rows by rule id</h2>",
        '<p class="note">Counts only. A row refused for several reasons counts under each of its rule ids, so the '
        "counts may add up to more than the refused rows.</p>",
        _table([_col("rule_id", "rule id", "d"), _col("rows", "rows", "n"), _col("files", "files", "n")],
               refused, "No row was refused."),

        "<h2>4. Published: hand-offs to subscribers</h2>",
        '<p class="note">Every publish whose as-of date (snapshot) or business date (change feed) falls in the period. '
        "file SHA-256 is of the file as written (encrypted or not); data SHA-256 is of the Parquet bytes before "
        "encryption, the same on every rebuild.</p>",
        _table([_col("subscriber", "subscriber"), _col("mode", "mode"),
                _col("sequence_no", "snapshot / sequence", "n"), _col("previous_no", "previous", "n"),
                _col("as_of", "as of"), _col("business_date", "business date"), _col("rows", "rows", "n"),
                _col("file_name", "file"), _col("file_sha256", "file SHA-256", "d"),
                _col("data_sha256", "data SHA-256", "d"), _col("encryption", "encryption"),
                _col("excluded", "left out (by reason)", "", _counts), _col("published_at", "published"),
                _col("run_id", "run", "d")], handoffs, "Nothing was published for these dates."),

        "<h2>5. Disclosed: full My Numbers that left the register</h2>",
        '<p class="note">From the disclosure log: hand-off files that carry 個人番号, and explicit reveals with '
        "the reason given. The log holds no My Number.</p>",
        _table([_col("disclosure_no", "no.", "n"), _col("disclosed_at", "when"), _col("channel", "channel"),
                _col("who", "who"), _col("persons", "persons", "n"), _col("why", "why"),
                _col("file_name", "file"), _col("sequence_no", "sequence", "n"),
                _col("resident_code", "resident code", "d"), _col("run_id", "run", "d")],
               disclosures, "No full My Number left the register in the period."),

        "<h2>6. Runs</h2>",
        '<p class="note">The runs that received these files or published these hand-offs, and any run started in '
        "the period: which code ran (version and lock-file digest) and the register digest it left.</p>",
        _table([_col("run_id", "run", "d"), _col("flow_name", "flow"), _col("code_version", "code version", "d"),
                _col("lock_sha256", "lock SHA-256", "d"), _col("register_sha256", "register SHA-256", "d"),
                _col("inputs", "inputs", "n"), _col("status", "status", "", _status_tag),
                _col("started_at", "started"), _col("finished_at", "finished"),
                _col("run_id", "replay", "", _replay_cell(verdict, by_run))], runs, "No run in the period."),
        "<h3>Statistics files written by each run</h3>",
        _outputs_html(runs),
        "<footer>Written by juki. This file needs no network: nothing in it is fetched from elsewhere. "
        "Refused rows are shown as counts only; My Numbers never appear.</footer>",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def mask_known_my_numbers(con: duckdb.DuckDBPyConnection, text: str) -> str:
    """The text with every 12-digit number that is a My Number in the register masked to its last four digits."""
    candidates = sorted(set(TWELVE_DIGITS.findall(text)))
    if not candidates:
        return text
    known = {n for (n,) in con.execute(
        "select distinct my_number from resident_version where list_contains($c, my_number) "
        "union select distinct my_number from event where list_contains($c, my_number)", {"c": candidates}).fetchall()}
    if not known:
        return text
    return TWELVE_DIGITS.sub(lambda m: mask_my_number(m.group()) if m.group() in known else m.group(), text)


def write_audit_report(con: duckdb.DuckDBPyConnection, date_from: dt.date | None, date_to: dt.date | None,
                       out_path: str | Path, verdict: dict | None) -> Path:
    """Write the audit report of business dates date_from..date_to to out_path; the path written."""
    if date_from and date_to and date_from > date_to:
        raise ValueError(f"the period is empty: {date_from.isoformat()} is after {date_to.isoformat()}")
    plain = _plain(verdict)
    page = render(report_data(con, date_from, date_to), date_from, date_to, plain)
    # the verdict's divergence text and free-text fields come from elsewhere: never let a My Number through
    page = mask_known_my_numbers(con, page)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.tmp")
    temporary.write_text(page, encoding="utf-8")
    temporary.replace(out)
    return out
