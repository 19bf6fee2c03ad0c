"""After the register is updated: the balance check, statistics files and hand-offs of one run.

Plain functions shared by the daily flow and the replay, so a replay recomputes exactly what
the day computed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb

from tasks import disclosure, handoff, stats, stats_files
from tasks.summary import applied_dates, first_baseline_date, last_baseline_date, latest_business_date


def balance_problem(con: duckdb.DuckDBPyConnection, day: dt.date) -> str | None:
    """The balance identity for one business date after the last BASELINE file; a sentence when it breaks."""
    last_baseline = last_baseline_date(con)
    if last_baseline is None or day <= last_baseline:
        return None
    breaks = stats.balance_breaks(con, day, day)
    if breaks.height == 0:
        return None
    return "; ".join(f"{r['nationality_group']}/{r['sex']}: residents {r['residents_before']} -> "
                     f"{r['residents_after']} but net_change {r['net_change']}" for r in breaks.to_dicts())


@dataclass
class StatisticsOutput:
    """The files written for a run: name -> SHA-256, and the newest day's tables and pyramid."""

    digests: dict[str, str] = field(default_factory=dict)
    day: dt.date | None = None
    tables: dict = field(default_factory=dict)
    pyramid: bytes = b""
    pyramid_path: str = ""


def write_statistics(con: duckdb.DuckDBPyConnection, run_id: str, stats_uri: str) -> StatisticsOutput:
    """Each applied business date's tables under stats/<date>/, and the newest date's pyramid."""
    out = StatisticsOutput()
    days = applied_dates(con, run_id)
    if not days or first_baseline_date(con) is None:
        return out
    for day in days:
        out.day, out.tables = day, stats_files.daily_tables(con, day)
        out.digests |= stats_files.write_tables(out.tables, stats_uri, day)
    out.pyramid = stats_files.pyramid_png(out.tables["population"], out.day)
    out.pyramid_path, out.digests[f"{out.day.isoformat()}/pyramid.png"] = stats_files.write_pyramid(
        out.pyramid, stats_uri, out.day)
    return out


def publish_handoffs(con: duckdb.DuckDBPyConnection, run_id: str, store_root: Path,
                     key_for: Callable[[handoff.Subscriber], bytes | None], plaintext: bool = False,
                     log: Callable[[str], None] = lambda message: None, subscribers: str | None = None,
                     target_for: Callable[[handoff.Subscriber], str] | None = None,
                     ) -> tuple[dict[str, list], dict[str, str]]:
    """Each change feed's unpublished business dates, then the snapshot; refusals are collected, not raised.

    `subscribers` is the subscribers YAML (default schemas/subscribers.yaml); `target_for` overrides where
    each subscriber's files go (the replay sends every one into its scratch folder)."""
    as_of = latest_business_date(con)
    if not applied_dates(con, run_id) or as_of is None:
        return {}, {}
    published: dict[str, list] = {}
    problems: dict[str, str] = {}
    for sub in sorted(handoff.load_subscribers(subscribers).values(), key=lambda s: s.mode != "change_feed"):
        target = target_for(sub) if target_for else handoff.target_uri(sub, store_root)
        try:
            key = None if plaintext else key_for(sub)
            published[sub.name] = []
            if sub.mode == "change_feed":
                for day in handoff.unpublished_business_dates(con, sub, target):
                    header = handoff.publish_feed(con, sub, target, day, key, plaintext, run_id)
                    # logged right after each publish: one that went out stays logged if a later one fails
                    disclosure.record_publish(con, sub, header, run_id)
                    published[sub.name].append(header)
            else:
                manifest = handoff.publish_conbini(con, target, as_of, key, plaintext, run_id, subscriber=sub)
                disclosure.record_publish(con, sub, manifest, run_id)
                published[sub.name].append(manifest)
        except handoff.HandoffError as exc:  # a refusal (no key, a broken target manifest): say it, go on
            problems[sub.name] = str(exc)
            log(f"{sub.name}: {exc}")
            continue
        log(f"{sub.name}: published {len(published[sub.name])} file(s) to {target}")
    return published, problems
