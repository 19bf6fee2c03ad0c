"""Run the daily-linkage flow for the command line and turn its outcome into output and an exit status."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

from juki_core.settings import Settings

# Measured here: a cold ephemeral API needs up to ~20 s, the default timeout; no network for telemetry.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


def _start_prefect() -> None:
    """Prefect's settings for the command line; say so when the ephemeral API has to start first."""
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if not os.environ.get("PREFECT_API_URL"):
        print("starting Prefect (an ephemeral API takes 10-20 s to start) …", file=sys.stderr)


def run_daily_linkage(settings: Settings, files: list[str] | None = None, inbox: str | None = None,
                      until: dt.date | None = None, as_json: bool = False) -> int:
    """Run the flow (Prefect's ephemeral API unless PREFECT_API_URL is set); 0 done, 1 refused or failed, 75 busy."""
    _start_prefect()
    from flows.daily_linkage import daily_linkage

    state = daily_linkage(files=files, inbox=inbox, until=until, store=str(settings.store),
                          max_refused_share=settings.max_refused_share, max_days_ahead=settings.max_days_ahead,
                          municipality_code=settings.municipality_code, return_state=True)
    if (busy := _busy(state)) is not None:
        return busy
    result = _outcome(state)
    if isinstance(result, BaseException):
        print(f"juki: {result}", file=sys.stderr)
        return 1
    outcomes, status = result, (1 if state.is_failed() else 0)
    if as_json:
        print(json.dumps({"files": outcomes}, ensure_ascii=False))
    else:
        print(outcome_table(outcomes))
    for o in outcomes:
        if o["status"] != "applied":
            print(o["reason"], file=sys.stderr)
    if state.is_failed() and not any(o["status"] == "refused" for o in outcomes):
        print(state.message, file=sys.stderr)
    return status


def _busy(state) -> int | None:
    """75 (said in one sentence) when the run found another run holding the store and did nothing."""
    from flows.hooks import RunFailed
    from juki.cli import EXIT_BUSY

    failure = state.result(raise_on_failure=False)
    if isinstance(failure, RunFailed) and getattr(failure, "busy", False):
        print(f"juki: {failure}", file=sys.stderr)
        return EXIT_BUSY
    return None


def _outcome(state):
    """A run's result: what a failed run did (its RunFailed's outcome), else the value or the exception."""
    from flows.hooks import RunFailed

    result = state.result(raise_on_failure=False)
    if isinstance(result, RunFailed) and result.outcome is not None:
        return result.outcome
    return result


def outcome_table(outcomes: list[dict]) -> str:
    """The files of a run as an aligned text table."""
    head = ("file", "status", "read", "applied", "quarantined", "skipped")
    rows = [head] + [(o["file"], o["status"], str(o["rows_read"]), str(o["rows_applied"]),
                      str(o["rows_quarantined"]), str(o["rows_skipped"])) for o in outcomes]
    if len(rows) == 1:
        return "no new files"
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     for r in rows)


def run_replay(settings: Settings, until: dt.date | None, verify: bool, as_json: bool = False,
               scratch: str | None = None) -> int:
    """Run the replay flow; 0 when it matches (or was not asked to verify), 1 on any mismatch."""
    _start_prefect()
    from flows.replay import replay
    from tasks.replay import report_text

    state = replay(store=str(settings.store), until=until, verify=verify, scratch=scratch, return_state=True)
    result = _outcome(state)
    if isinstance(result, BaseException):
        print(f"juki: {result}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(result, ensure_ascii=False, default=str))
    else:
        print(report_text(result) if "runs" in result else result["summary"])
    return 1 if state.is_failed() else 0


def run_retention(settings: Settings, as_of: dt.date | None, years: int, quarantine_days: int,
                  dry_run: bool = False) -> int:
    """Run the retention flow; 0 when it erased (or counted) what was due, 1 when it failed, 75 busy."""
    _start_prefect()
    from flows.retention import retention

    state = retention(store=str(settings.store), as_of=as_of, years=years, quarantine_days=quarantine_days,
                      dry_run=dry_run, return_state=True)
    if (busy := _busy(state)) is not None:
        return busy
    result = _outcome(state)
    if isinstance(result, BaseException):
        print(f"juki: {result}", file=sys.stderr)
        return 1
    print(result["summary"], file=sys.stderr if state.is_failed() else sys.stdout)
    return 1 if state.is_failed() else 0


def run_many_cities(cities: list[dict], until: dt.date | None = None, as_json: bool = False,
                    cities_file: str | None = None) -> int:
    """Run the many-cities flow (over the cities file when given: small parameters); 0 when every city's run
    completed, 1 otherwise."""
    _start_prefect()
    from flows.many_cities import many_cities

    chosen = {"cities_file": str(Path(cities_file).resolve())} if cities_file else {"cities": cities}
    state = many_cities(**chosen, until=until, return_state=True)
    result = _outcome(state)
    if isinstance(result, BaseException):
        print(f"juki: {result}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(cities_table(result))
    if state.is_failed():
        print(state.message, file=sys.stderr)
    return 1 if state.is_failed() else 0


def cities_table(results: list[dict]) -> str:
    """The cities of a many-cities run as an aligned text table."""
    head = ("city", "code", "status", "files", "applied", "quarantined")
    rows = [head] + [(r["city"], r["municipality_code"], r["status"], str(r["files"]), str(r["rows_applied"]),
                      str(r["rows_quarantined"])) for r in results]
    # East Asian characters take two columns in a terminal
    width = lambda text: sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)  # noqa: E731
    widths = [max(width(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c + " " * (w - width(c)) if i < 3 else " " * (w - width(c)) + c
                               for i, (c, w) in enumerate(zip(r, widths))) for r in rows)
