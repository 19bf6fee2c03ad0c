"""A person's history (異動履歴) from their events: the state rules and the version chain in one pass.

The same replay judges a new row ("the person must be …" at its effective date, and every later
event must still hold) and rebuilds the versions, so what is accepted can always be built.
"""

from __future__ import annotations

from typing import Any, Iterable

from schemas.change_file import (
    ADDING, CATEGORY_CARRIES, EVENT_TYPES, FOREIGN_CARRIED, FOREIGN_ONLY, JAPANESE_ONLY, RECORD_COLUMNS, REMOVING,
    residence_status_starts,
)

Event = dict[str, Any]
Record = dict[str, Any]

# The derived columns of a resident record besides those a change row carries.
# new_resident_code: the 住民票コード in force when a RESIDENT_CODE_CHANGE replaced the person key (resident_code).
DERIVED = ("resident_since", "address_since", "address_notified_date", "dest_address", "new_resident_code")
RECORD_FIELDS = tuple(dict.fromkeys(RECORD_COLUMNS + DERIVED))


def order_key(event: Event) -> tuple:
    """Events of a person apply in order of (effective date, business date, delivery, line)."""
    return (event["effective_date"], event["business_date"], event["delivery_no"], event["line"])


def _record_problem(record: Record) -> str | None:
    """The first rule the record as it is after an event breaks, if any."""
    if record["nationality"] == "JP":
        if any(record[c] is not None for c in FOREIGN_ONLY):
            return "FOREIGN_FIELDS_ON_JAPANESE"
        return None
    if any(record[c] is not None for c in JAPANESE_ONLY):
        return "JAPANESE_FIELDS_ON_FOREIGNER"
    category = record["foreign_resident_category"]
    if category is None:
        return "FOREIGN_CATEGORY_MISSING"
    carries = CATEGORY_CARRIES.get(category, {})
    if any((record[c] is not None) != required for c, required in carries.items()):
        return "FOREIGN_CATEGORY_FIELDS"
    if record.get("stay_period") is not None and category != "MID_LONG":  # 在留期間: optional, 中長期在留者 only
        return "FOREIGN_CATEGORY_FIELDS"
    return None


def _set_category(record: Record, event: Event) -> None:
    record["foreign_resident_category"] = event["foreign_resident_category"]
    for column in FOREIGN_CARRIED + ("stay_period",):
        record[column] = event.get(column)


def _support(value: str | None, default: bool = False) -> bool:
    return default if value is None else value == "1"


def apply_event(state: Record | None, event: Event) -> tuple[Record | None, str | None]:
    """The record after one event, or the state rule the event breaks (the record is then unchanged)."""
    kind = event["event_type"]
    must_be = EVENT_TYPES[kind].person_must_be
    current = state is not None and state["status"] == "current"
    if must_be == "unknown" and state is not None:
        return state, "PERSON_ALREADY_KNOWN"
    if must_be == "not_current" and current:
        return state, "PERSON_ALREADY_CURRENT"
    if must_be in ("current", "current_foreign") and not current:
        return state, "PERSON_NOT_CURRENT"
    if must_be == "current_foreign" and state["nationality"] == "JP":
        return state, "PERSON_NOT_FOREIGN"
    start = residence_status_starts().get(event.get("residence_status"))
    if start is not None and event["effective_date"] < start:
        return state, "RESIDENCE_STATUS_NOT_IN_FORCE"

    if kind in ADDING:
        record: Record = {c: event.get(c) for c in RECORD_FIELDS}
        record["support_measure"] = _support(event["support_measure"])
        record["resident_since"] = event["effective_date"]
        # address_since is a BASELINE column (a migrated record's 住定日); others move in today
        since = event.get("address_since") if kind == "BASELINE" else None
        record["address_since"] = since or event["effective_date"]
        record["address_notified_date"] = event["notified_date"]
        record["dest_address"] = None
        record["new_resident_code"] = None
    else:
        record = dict(state)
        if kind == "MOVE_WITHIN":
            record["town_code"], record["address_line"] = event["town_code"], event["address_line"]
            for column in ("household_id", "relationship"):
                if event[column] is not None:
                    record[column] = event[column]
            record["address_since"] = event["effective_date"]
            record["address_notified_date"] = event["notified_date"]
        elif kind == "HOUSEHOLD_CHANGE":
            record["household_id"], record["relationship"] = event["household_id"], event["relationship"]
        elif kind == "NAME_CHANGE":
            for column in ("family_name", "given_name", "family_name_kana", "given_name_kana", "alias_name",
                           "former_surname"):
                if event[column] is not None:
                    record[column] = event[column]
        elif kind == "STATUS_CHANGE":
            _set_category(record, event)
        elif kind == "NATIONALITY_CHANGE":
            _change_nationality(record, event, event["nationality"])
            # what the row gives is judged against the record after the event, never dropped
            for column in JAPANESE_ONLY:
                if event[column] is not None:
                    record[column] = event[column]
            if event["foreign_resident_category"] is not None:
                _set_category(record, event)
            else:
                for column in FOREIGN_CARRIED:
                    if event[column] is not None:
                        record[column] = event[column]
        elif kind == "SUPPORT_MEASURE":
            record["support_measure"] = _support(event["support_measure"])
        elif kind == "CORRECTION_BY_AUTHORITY":
            if event["nationality"] is not None:
                _change_nationality(record, event, event["nationality"])
            for column in RECORD_COLUMNS:
                if event[column] is not None:
                    record[column] = (_support(event[column]) if column == "support_measure"
                                      else event[column])
        elif kind == "RESIDENT_CODE_CHANGE":
            record["new_resident_code"] = event["new_resident_code"]
        elif kind in ("MOVE_OUT", "MOVE_ABROAD", "MOVE_OUT_CONFIRMED"):
            record["dest_address"] = event["dest_address"]
    record["status"] = "removed" if kind in REMOVING else "current"
    problem = _record_problem(record)
    if problem is not None:
        return state, problem
    return record, None


def _change_nationality(record: Record, event: Event, nationality: str) -> None:
    # Crossing the JP boundary clears the other group's columns (帰化 / 国籍喪失).
    was_japanese = record["nationality"] == "JP"
    record["nationality"] = nationality
    if nationality == "JP" and not was_japanese:
        for column in FOREIGN_ONLY:
            record[column] = None
    elif nationality != "JP" and was_japanese:
        record["honseki"] = record["hittousha"] = None


def replay(events: list[Event]) -> tuple[Record | None, int | None, str | None]:
    """Apply a person's events in order: the final state, or the index of the first failing event and its rule."""
    state: Record | None = None
    for i, event in enumerate(events):
        state, problem = apply_event(state, event)
        if problem is not None:
            return state, i, problem
    return state, None, None


def versions(resident_code: str, events: Iterable[Event]) -> list[Record]:
    """The version chain (one full record per event, like 履歴番号 rows) of a person's valid events."""
    chain: list[Record] = []
    state: Record | None = None
    for event in events:
        state, problem = apply_event(state, event)
        if problem is not None:  # never for events the register accepted; guard against silent loss
            raise ValueError(f"event on line {event['line']} of a stored history no longer applies ({problem})")
        chain.append({"resident_code": resident_code, "version_no": len(chain) + 1,
                      "valid_from": event["effective_date"], "valid_to": None,
                      "event_id": event["event_id"], "event_type": event["event_type"], **state})
    for earlier, later in zip(chain, chain[1:]):
        earlier["valid_to"] = later["valid_from"]
    return chain


def insertion_point(events: list[Event], event: Event) -> int:
    """Where an event goes in a person's ordered events."""
    key = order_key(event)
    i = len(events)
    while i > 0 and order_key(events[i - 1]) > key:
        i -= 1
    return i


def judge(events: list[Event], state: Record | None, event: Event) -> tuple[str | None, list[Event], Record | None]:
    """Judge a new event against a person's accepted events: (rule broken or None, new events, new final state)."""
    i = insertion_point(events, event)
    if i == len(events):
        new_state, problem = apply_event(state, event)
        return problem, (events if problem else events + [event]), (state if problem else new_state)
    candidate = events[:i] + [event] + events[i:]
    final, failed_at, problem = replay(candidate)
    if failed_at is None:
        return None, candidate, final
    if failed_at == i:
        return problem, events, state
    if failed_at < i:  # only if the stored history itself no longer holds
        raise ValueError("a stored history no longer applies")
    return "LATE_EVENT_CONFLICT", events, state


def judge_confirmation(events: list[Event], state: Record | None,
                       event: Event) -> tuple[str | None, str | None, list[Event], Record | None]:
    """Judge a 転出確定: (rule broken or None, the planned MOVE_OUT it replaces, new events, new final state)."""
    removals = [e for e in events if e["event_type"] in REMOVING]
    if not removals or removals[-1]["event_type"] != "MOVE_OUT":
        return "MOVE_OUT_NOT_PLANNED", None, events, state
    plan = removals[-1]
    without = [e for e in events if e is not plan]
    before, failed_at, _ = replay(without)
    if failed_at is not None:  # a later event needed the person gone (they came back): no plan to replace
        return "LATE_EVENT_CONFLICT", None, events, state
    problem, new_events, new_state = judge(without, before, event)
    if problem is not None:
        return problem, None, events, state
    return None, plan["event_id"], new_events, new_state


def codes(person: str, events: list[Event]) -> list[tuple[Any, str]]:
    """The person's 住民票コード in order, each with the day it took effect (None for the first, the person key)."""
    return [(None, person)] + [(e["effective_date"], e["new_resident_code"]) for e in events
                               if e["event_type"] == "RESIDENT_CODE_CHANGE"]


def replaced_on(person: str, events: list[Event], code: str) -> Any:
    """The day a later 住民票コード of the person replaced `code`, or None (still in force, or not theirs)."""
    held = codes(person, events)
    at = next((i for i, (_, c) in enumerate(held) if c == code), None)
    return held[at + 1][0] if at is not None and at + 1 < len(held) else None


def judge_cancel(events: list[Event], state: Record | None, target_id: str) -> tuple[str | None, list[Event], Record | None]:
    """Judge a cancellation: the person's events without the target must all still hold."""
    remaining = [e for e in events if e["event_id"] != target_id]
    final, failed_at, _ = replay(remaining)
    if failed_at is not None:
        return "CANCEL_BREAKS_HISTORY", events, state
    return None, remaining, final

