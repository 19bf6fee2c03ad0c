"""Property: a valid event sequence gives the same register as one file or split over successive days."""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tasks.validate_rows
from tasks.read import read_change_file
from tasks.validate_rows import VIOLATION_SCHEMA, row_violations
from tests.builders import csv_text, event, foreigner, person, resident_code, write_file
from tests.conftest import Register

BASELINE_DAY = dt.date(2026, 4, 1)
BASELINE_PEOPLE = (1, 2, 3, 4)      # in the BASELINE file
PEOPLE = (1, 2, 3, 4, 5, 6)         # 5 and 6 are only ever added later
FOREIGN = (3, 6)
ADDING = ("BASELINE", "BIRTH", "MOVE_IN", "RETURN_FROM_ABROAD", "ENTRY_BY_AUTHORITY")
REMOVING = ("MOVE_OUT", "MOVE_ABROAD", "DEATH", "REMOVAL_BY_AUTHORITY")
CHANGES = ("MOVE_WITHIN", "HOUSEHOLD_CHANGE", "NAME_CHANGE", "SUPPORT_MEASURE", "CORRECTION_BY_AUTHORITY",
           "NATIONALITY_CHANGE")


def record(n: int, **overrides) -> dict:
    """Person n's full record (foreign for the persons in FOREIGN)."""
    return (foreigner if n in FOREIGN else person)(n, **overrides)


@dataclass
class Planned:
    """One generated change row and what the model needs of it."""

    seq: int
    day: int                  # the business day (days after the baseline) whose file holds it
    person: int
    kind: str
    effective: dt.date
    row: dict
    makes_foreign: bool | None = None   # adds and nationality changes: foreign afterwards
    target: int | None = None           # CANCEL: seq of the cancelled event
    cancelled: bool = False


@dataclass
class Model:
    """The register as the agreement describes it, reduced to status and foreignness per person."""

    events: list[Planned] = field(default_factory=list)

    def history(self, n: int, without: int | None = None, extra: Planned | None = None) -> list[Planned]:
        """Person n's effective, uncancelled events in register order."""
        chosen = [e for e in self.events if e.person == n and e.kind != "CANCEL" and not e.cancelled
                  and e.seq != without] + ([extra] if extra else [])
        return sorted(chosen, key=lambda e: (e.effective, e.seq))

    @staticmethod
    def replay(events: list[Planned]) -> tuple[bool, tuple[str, bool] | None]:
        """(every event holds, final (status, foreign) or None for unknown)."""
        state: tuple[str, bool] | None = None
        for e in events:
            current = state is not None and state[0] == "current"
            if e.kind in ("BASELINE", "BIRTH") and state is not None:
                return False, state
            if e.kind in ADDING and current:
                return False, state
            if e.kind not in ADDING and not current:
                return False, state
            if e.kind == "STATUS_CHANGE" and not state[1]:
                return False, state
            if e.kind in ADDING:
                state = ("current", bool(e.makes_foreign))
            elif e.kind in REMOVING:
                state = ("removed", state[1])
            elif e.kind == "NATIONALITY_CHANGE":
                state = ("current", bool(e.makes_foreign))
        return True, state

    def state_at(self, n: int, day: dt.date) -> tuple[str, bool] | None:
        """Person n's (status, foreign) at the end of a day."""
        return self.replay([e for e in self.history(n) if e.effective <= day])[1]

    def holds_with(self, candidate: Planned) -> bool:
        """Would the person's history still hold with this event added?"""
        return self.replay(self.history(candidate.person, extra=candidate))[0]

    def holds_without(self, target: Planned) -> bool:
        """Would the person's history still hold without this event?"""
        return self.replay(self.history(target.person, without=target.seq))[0]


def _household(rnd: random.Random, n: int, relationships: list[str]) -> dict:
    """A household and relationship; only n heads H<n>, so no household ever has two 世帯主 (HOUSEHOLD_HAS_HEAD)."""
    relationship = rnd.choice(relationships)
    household = f"H{n}" if relationship == "世帯主" else f"H{rnd.choice(PEOPLE)}"
    return {"household_id": household, "relationship": relationship}


def _row(rnd: random.Random, seq: int, kind: str, n: int, effective: dt.date, notified: dt.date,
         foreign_now: bool) -> tuple[dict, bool | None]:
    """The change row of one event and, for adds and nationality changes, whether it leaves n foreign."""
    eid, eff, noti, code = f"e{seq}", effective.isoformat(), notified.isoformat(), resident_code(n)
    town = rnd.choice(["0001", "0002", "0003"])
    if kind == "BIRTH":
        return event(eid, kind, eff, noti, **record(n, birth_date=eff, town_code=town)), n in FOREIGN
    if kind in ("MOVE_IN", "RETURN_FROM_ABROAD", "ENTRY_BY_AUTHORITY"):
        prev = {"MOVE_IN": "東京都千代田区", "RETURN_FROM_ABROAD": "アメリカ合衆国"}.get(kind)
        return event(eid, kind, eff, noti, **record(n, town_code=town), prev_address=prev), n in FOREIGN
    columns: dict = {"resident_code": code}
    if kind == "MOVE_WITHIN":
        columns |= {"town_code": town, "address_line": f"{seq}-1"}
        if rnd.random() < 0.5:
            columns |= _household(rnd, n, ["世帯主", "子"])
    elif kind == "HOUSEHOLD_CHANGE":
        columns |= _household(rnd, n, ["世帯主", "妻", "子"])
    elif kind == "NAME_CHANGE":
        family, kana = rnd.choice([("山田", "ヤマダ"), ("佐藤", "サトウ")])
        columns |= {"family_name": family, "given_name": "花子", "family_name_kana": kana,
                    "given_name_kana": "ハナコ"}
    elif kind == "SUPPORT_MEASURE":
        columns |= {"support_measure": rnd.choice("01")}
    elif kind == "CORRECTION_BY_AUTHORITY":
        columns |= {"address_line": f"訂正{seq}"}
    elif kind == "STATUS_CHANGE":
        columns |= rnd.choice([{"foreign_resident_category": "SPECIAL_PERMANENT", "residence_card_no": "ZZ87654321YY"},
                               {"foreign_resident_category": "BIRTH_TRANSITION"}])
    elif kind == "NATIONALITY_CHANGE":
        if foreign_now:
            return event(eid, kind, eff, noti, **columns, nationality="JP", honseki="埼玉県川口市"), False
        return event(eid, kind, eff, noti, **columns, nationality="KR",
                     foreign_resident_category="NATIONALITY_LOSS_TRANSITION"), True
    elif kind == "MOVE_OUT":
        columns |= {"dest_address": "東京都千代田区"}
    elif kind == "MOVE_ABROAD":
        columns |= {"dest_address": "フランス"}
    return event(eid, kind, eff, noti, **columns), None


def generate(rnd: random.Random, steps: int) -> tuple[Model, list[Planned]]:
    """A valid sequence after the baseline: adds only for non-current persons, changes only for current
    ones, days moving forward, some events late or planned, and CANCELs that keep every history valid."""
    model = Model()
    for n in BASELINE_PEOPLE:
        model.events.append(Planned(len(model.events), 0, n, "BASELINE", dt.date(2020, 1, 1), {},
                                    makes_foreign=n in FOREIGN))
    day = 1
    for _ in range(steps):
        day += rnd.choice([0, 0, 1, 1, 2])
        today = BASELINE_DAY + dt.timedelta(days=day)
        seq = len(model.events)
        if rnd.random() < 0.15:
            targets = [e for e in model.events if e.kind != "CANCEL" and not e.cancelled]
            target = rnd.choice(targets) if targets else None
            if target is not None and model.holds_without(target):
                row = event(f"e{seq}", "CANCEL", today.isoformat(), resident_code=resident_code(target.person),
                            cancels_event_id=f"e{target.seq}")
                target.cancelled = True
                model.events.append(Planned(seq, day, target.person, "CANCEL", today, row, target=target.seq))
            continue
        n = rnd.choice(PEOPLE)
        effective = today - dt.timedelta(days=rnd.choice([0, 0, 0, 1, 3]))
        state = model.state_at(n, effective)
        if state is None:
            kinds = ["BIRTH", "MOVE_IN", "RETURN_FROM_ABROAD", "ENTRY_BY_AUTHORITY"]
        elif state[0] == "removed":
            kinds = ["MOVE_IN", "RETURN_FROM_ABROAD", "ENTRY_BY_AUTHORITY"]
        else:
            kinds = list(CHANGES) + list(REMOVING) + (["STATUS_CHANGE"] * 3 if state[1] else [])
        kind = rnd.choice(kinds)
        if kind in ("MOVE_OUT", "MOVE_ABROAD") and effective == today and rnd.random() < 0.5:
            effective = today + dt.timedelta(days=rnd.choice([2, 5]))  # a planned move (転出予定)
        row, makes_foreign = _row(rnd, seq, kind, n, effective, today, bool(state and state[1]))
        candidate = Planned(seq, day, n, kind, effective, row, makes_foreign=makes_foreign)
        if model.holds_with(candidate):
            model.events.append(candidate)
    return model, [e for e in model.events if e.kind != "BASELINE"]


def baseline_rows() -> list[dict]:
    """The BASELINE file's rows."""
    return [event(f"e{i}", "BASELINE", "2020-01-01", BASELINE_DAY.isoformat(), **record(n))
            for i, n in enumerate(BASELINE_PEOPLE)]


def snapshot(register: Register) -> tuple[list, list]:
    """What the register knows now: versions without the recorded-at axis, events with cancelled_by."""
    versions = register.rows("select * exclude (recorded_from, recorded_to) from resident_version "
                             "where recorded_to is null order by resident_code, version_no")
    events = register.rows("select event_id, event_type, effective_date, notified_date, resident_code, "
                           "cancels_event_id, cancelled_by from event order by event_id")
    return versions, events


def build(root: Path, batches: list[tuple[dt.date, list[dict]]]) -> Register:
    """A register fed the baseline and then each (business date, rows) file; every row must be applied."""
    root.mkdir()
    register = Register(root)
    for business_date, rows in [(BASELINE_DAY, baseline_rows())] + batches:
        (outcome,) = register.ingest(write_file(register.inbox, business_date.isoformat(), rows))
        assert (outcome.status, outcome.rows_applied, outcome.rows_quarantined) == \
            ("applied", len(rows), 0), (business_date, register.quarantine())
    return register


def no_row_violations(frame: pl.DataFrame, business_date: dt.date) -> pl.DataFrame:
    """Stand-in for the Great Expectations row suite (seconds per file); see test_generated_rows_are_row_valid."""
    return pl.DataFrame(schema=VIOLATION_SCHEMA)


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(rnd=st.randoms(use_true_random=False), steps=st.integers(min_value=3, max_value=24))
def test_one_file_or_many_files_give_the_same_register(rnd, steps):
    """Applied as one file or day by day, a valid sequence gives the same versions and events."""
    model, planned = generate(rnd, steps)
    last_day = max([e.day for e in planned], default=1)
    last = BASELINE_DAY + dt.timedelta(days=last_day)
    days = sorted({e.day for e in planned})
    split = [(BASELINE_DAY + dt.timedelta(days=d), [e.row for e in planned if e.day == d]) for d in days]
    with tempfile.TemporaryDirectory() as tmp, \
            mock.patch.object(tasks.validate_rows, "row_violations", no_row_violations):
        one = build(Path(tmp) / "one", [(last, [e.row for e in planned])] if planned else [])
        many = build(Path(tmp) / "many", split)
        try:
            assert snapshot(one) == snapshot(many)
            for n in PEOPLE:
                expected = model.state_at(n, last)
                found = one.current(resident_code(n), last.isoformat())
                assert (found["status"] if found else None) == (expected[0] if expected else None), n
                if found:
                    assert (found["nationality"] != "JP") == expected[1], n
        finally:
            one.con.close()
            many.con.close()


def test_generated_rows_are_row_valid():
    """The generator's rows pass the real row rules (the property stubs them out for speed)."""
    rows = []
    for seed in range(6):
        _, planned = generate(random.Random(seed), 24)
        rows += [dict(e.row, event_id=f"s{seed}-{e.row['event_id']}") for e in planned]
    kinds = {r["event_type"] for r in rows}
    assert {"CANCEL", "MOVE_OUT", "BIRTH", "NATIONALITY_CHANGE", "STATUS_CHANGE"} <= kinds
    last = max(dt.date.fromisoformat(r["notified_date"]) for r in rows)
    name = f"112038_changes_{last:%Y%m%d}.csv"
    change_file = read_change_file(name, csv_text(rows).encode("utf-8"), "112038")
    assert row_violations(change_file.rows, change_file.business_date).height == 0


def test_generator_makes_late_planned_and_cancelled_events():
    """The generator reaches the interesting cases: late, planned and cancelled events and re-additions."""
    late = planned_moves = cancels = readds = 0
    for seed in range(20):
        _, planned = generate(random.Random(seed), 24)
        for e in planned:
            notified = dt.date.fromisoformat(e.row["notified_date"])
            late += e.effective < notified and e.kind != "CANCEL"
            planned_moves += e.effective > notified
            cancels += e.kind == "CANCEL"
            readds += e.kind in ("MOVE_IN", "RETURN_FROM_ABROAD", "ENTRY_BY_AUTHORITY") and e.person in BASELINE_PEOPLE
    assert min(late, planned_moves, cancels, readds) > 0, (late, planned_moves, cancels, readds)
