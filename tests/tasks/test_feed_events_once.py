"""A publish of several feeds reads a delivery's events from DuckDB once, and every feed's bytes stay as read alone."""

from __future__ import annotations

import hashlib

from tasks import handoff
from tests.tasks.test_disclosure import city


def test_the_feeds_of_one_publish_read_the_events_once_with_the_same_bytes(register, tmp_path, monkeypatch):
    city(register)
    con = register.con
    names = ("juki_net", "immigration", "koseki_fuhyo")
    alone = {n: handoff.parquet_bytes(handoff.feed_frame(con, n, 2), handoff.feed_types(handoff._resolve(n)))
             for n in names}
    reads = []
    sql = handoff._sql
    monkeypatch.setattr(handoff, "_sql", lambda name: reads.append(name) or sql(name))
    seen: dict = {}
    headers = {n: handoff.publish_feed(con, n, str(tmp_path / n), 2, None, True, "run-1", events_seen=seen)
               for n in names}
    assert reads.count("feed_events.sql") == 1
    assert {n: h["sha256"] for n, h in headers.items()} == {n: hashlib.sha256(b).hexdigest() for n, b in alone.items()}
    assert all(h["rows"] > 0 for h in headers.values())


def test_the_events_kept_for_the_next_feeds_are_capped_over_every_delivery(register, monkeypatch):
    """A catch-up over many deliveries keeps no more events than the cap in all, not the cap per delivery."""
    city(register)
    con = register.con
    seen: dict = {}
    first = handoff.feed_events(con, 2, (), seen)
    assert first.height and list(seen) == [(2, ())]
    monkeypatch.setattr(handoff, "EVENTS_KEPT", first.height)  # room for this delivery's events only
    again = handoff.feed_events(con, 2, ("no-such-event",), seen)  # another key: it would exceed the cap
    assert again.height and list(seen) == [(2, ())]
