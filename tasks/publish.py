"""After the register is updated: the balance check, statistics files and hand-offs, driven by watermarks.

Every output keeps its own watermark in the store (publish_watermark): the newest applied delivery it
reflects. A run publishes everything past each watermark, whether or not it applied a file itself, so
outputs a crashed run never wrote are written by the next run, and nothing is sent twice. Plain functions
shared by the daily flow, `juki publish` and the replay, so a replay recomputes exactly what the day computed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb

from schemas.business_calendar import business_days, is_business_day
from tasks import handoff, stats, stats_files
from tasks.faults import fault
from tasks.summary import first_baseline_date, last_baseline_date

STATISTICS = "statistics"


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


def pending_dates(con: duckdb.DuckDBPyConnection, stats_uri: str) -> list[dt.date]:
    """The dates whose statistics are not written yet (see statistics_dates): the dates to check."""
    return statistics_dates(con, stats_uri, handoff.pending_deliveries(con, STATISTICS, stats_uri))


def statistics_dates(con: duckdb.DuckDBPyConnection, stats_uri: str,
                     pending: list[tuple[int, dt.date]]) -> list[dt.date]:
    """The business dates of the pending deliveries, and every business day (schemas/business_calendar.py) after
    the newest date already written up to the newest pending one that had no file: a day without a change
    file still gets its figures, so the daily series has every 開庁日."""
    days = {day for _, day in pending}
    if not days:
        return []
    (written,) = con.execute("select max(business_date) from file_ledger where status = 'applied' "
                             "and delivery_no <= $m", {"m": handoff.watermark(con, STATISTICS, stats_uri)}
                             ).fetchall()[0]
    since = max((d for d in (written, first_baseline_date(con)) if d is not None), default=None)
    if since is not None and since < max(days):
        days |= set(business_days(since + dt.timedelta(days=1), max(days)))
    return sorted(days)


def balance_period_from(con: duckdb.DuckDBPyConnection, day: dt.date,
                        inserted: frozenset[dt.date] = frozenset()) -> dt.date | None:
    """The first day of the date's balance file: the day after the previous statistics date (a business day or
    an applied file's date, not before the last BASELINE file's, not an `inserted` one), so the days the office is
    closed fold into the next date and the files sum to any period; None on dates up to the last BASELINE file."""
    last = last_baseline_date(con)
    if last is None or day <= last:
        return None
    filed = max((d for (d,) in con.execute("select distinct business_date from file_ledger where status = 'applied' "
                                           "and business_date < $day", {"day": day}).fetchall()
                 if d not in inserted), default=None)
    previous = day - dt.timedelta(days=1)
    while previous > last and previous != filed and not is_business_day(previous):
        previous -= dt.timedelta(days=1)
    return previous + dt.timedelta(days=1)


def inserted(first_written: dict[dt.date, dt.datetime], day: dt.date) -> bool:
    """Whether the date was (or, not written yet, would be) first written after a later date was."""
    later = [known for other, known in first_written.items() if other > day]
    own = first_written.get(day)
    return bool(later) and (own is None or min(later) < own)


@dataclass
class StatisticsOutput:
    """The files written for a run: name -> SHA-256, and the newest day's tables and pyramid."""

    digests: dict[str, str] = field(default_factory=dict)
    day: dt.date | None = None
    tables: dict = field(default_factory=dict)
    pyramid: bytes = b""
    pyramid_path: str = ""


def write_statistics(con: duckdb.DuckDBPyConnection, run_id: str, stats_uri: str,
                     until: int | None = None) -> StatisticsOutput:
    """The tables under stats/<date>/ of each date of statistics_dates, the newest date's pyramid; the watermark
    moves past each date's deliveries once its files are written.

    A date is written again when a later delivery of that date arrives (its figures restated); a late event
    that changes an earlier date does not rewrite that date's files (`juki stats --as-of` gives the restated
    figures): the next date's balance file counts it. Each date's writing records the knowledge it was written
    with (statistics_written), with the watermark's move. `until` bounds the deliveries taken (the replay of a
    run that crashed)."""
    out = StatisticsOutput()
    pending = handoff.pending_deliveries(con, STATISTICS, stats_uri, until)
    first = first_baseline_date(con)
    if not pending or first is None:
        return out
    days = statistics_dates(con, stats_uri, pending)
    delivered = {day for _, day in pending}
    for day in days:
        written = day >= first  # the register knows nothing before its first BASELINE
        if written:
            first_written = handoff.statistics_first_written(con, stats_uri)
            # a date first written after a later one (a file for a closed day arriving late) lies in that date's
            # period: no balance file of its own (it would count its days twice) and no period ends on it
            period_from = None if inserted(first_written, day) else balance_period_from(
                con, day, frozenset(d for d in first_written if inserted(first_written, d)))
            known_before = (None if period_from is None else
                            handoff.statistics_known_at(con, stats_uri, period_from - dt.timedelta(days=1)))
            out.day, out.tables = day, stats_files.daily_tables(con, day, period_from, known_before)
            out.digests |= stats_files.write_tables(out.tables, stats_uri, day, written=fault)
            if day == days[-1]:
                out.pyramid = stats_files.pyramid_png(out.tables["population"], out.day)
                out.pyramid_path, out.digests[f"{out.day.isoformat()}/pyramid.png"] = stats_files.write_pyramid(
                    out.pyramid, stats_uri, out.day)
                fault("after-stats-file")
        # the watermark passes the deliveries before the first one still waiting for its date (none on a business
        # day without a file); a crash before this commit rewrites the date and records it again
        waiting = [d for d, other in pending if other > day]
        done = [d for d, _ in pending if not waiting or d < min(waiting)] if day in delivered else []
        if written or done:
            con.execute("begin transaction")
            try:
                if written:
                    handoff.record_statistics_written(con, stats_uri, day, run_id)
                if done:
                    handoff.move_watermark(con, STATISTICS, stats_uri, max(done), run_id)
                con.execute("commit")
            except BaseException:
                con.execute("rollback")
                raise
        if day in delivered:
            fault("after-stats-watermark")
    return out


def publish_handoffs(con: duckdb.DuckDBPyConnection, run_id: str, store_root: Path,
                     key_for: Callable[[handoff.Subscriber], bytes | None], plaintext: bool = False,
                     log: Callable[[str], None] = lambda message: None, subscribers: str | None = None,
                     target_for: Callable[[handoff.Subscriber], str] | None = None,
                     until: dict[str, int] | None = None,
                     city_name: str | None = None) -> tuple[dict[str, list], dict[str, str]]:
    """Each change feed's applied deliveries past its watermark, one file each, then the snapshot when the
    register moved past its watermark; publishes a crash left unsettled first. Refusals are collected, not raised.

    `subscribers` is the subscribers YAML (default schemas/subscribers.yaml); `target_for` overrides where
    each subscriber's files go (the replay sends every one into its scratch folder); `until` bounds each
    output's deliveries by its name (the replay of a run that crashed publishes only what that run did);
    `city_name` begins the addresses and decides which 附票 feed a person's 本籍 routes them to (default: the
    synthetic city's)."""
    published: dict[str, list] = {}
    problems: dict[str, str] = {}
    events_seen: dict = {}  # each delivery's events, read once for all the feeds
    newest = handoff.newest_delivery(con)
    for sub in sorted(handoff.load_subscribers(subscribers).values(), key=lambda s: s.mode != "change_feed"):
        target = target_for(sub) if target_for else handoff.target_uri(sub, store_root)
        output = handoff.output_name(sub)
        bound = newest if until is None else until.get(output)
        try:
            published[sub.name] = handoff.settle_intents(con, sub, target, run_id)
            if bound is None:
                continue
            pending = handoff.pending_deliveries(con, output, target, bound)
            if not pending:
                continue
            key = None if plaintext else key_for(sub)
            if sub.mode == "change_feed":
                for delivery_no, _day in pending:
                    published[sub.name].append(
                        handoff.publish_feed(con, sub, target, delivery_no, key, plaintext, run_id, city_name,
                                             events_seen=events_seen))
            else:
                reflects = pending[-1][0]
                (as_of,) = con.execute("select max(business_date) from file_ledger where status = 'applied' "
                                       "and delivery_no <= ?", [reflects]).fetchall()[0]
                published[sub.name].append(handoff.publish_conbini(con, target, as_of, key, plaintext, run_id,
                                                                   subscriber=sub, delivery_no=reflects,
                                                                   city_name=city_name))
        except handoff.HandoffError as exc:  # a refusal (no key, a broken target manifest): say it, go on
            problems[sub.name] = str(exc)
            log(f"{sub.name}: {exc}")
            continue
        if published[sub.name]:
            log(f"{sub.name}: published {len(published[sub.name])} file(s) to {target}")
    return published, problems
