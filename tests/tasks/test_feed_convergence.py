"""Property (issue 10): a receiver applying each subscriber's feed files in sequence order ends with exactly the
register's newest records for the persons it was told about: after late events, cancellations of changes and
of additions, several files for one business date, and publishes skipped (a crash) and caught up later.
The 附票 feeds hold exactly the persons whose 附票 they keep (本籍 here, or elsewhere) and nobody else, through
本籍 changes (転籍 by 職権修正), 支援措置 and its end, 国外転出 and deaths (issue 11, items 3 and 4)."""

from __future__ import annotations

import datetime as dt
import io
import json
import tempfile
from pathlib import Path
from unittest import mock

import polars as pl
import pyarrow.parquet as pq
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from juki_core.store import connect
from schemas.change_file import MUNICIPALITY_PREFIX, town_names
from tasks import handoff, publish
from tasks.ingest import ingest_file
from tasks.validate_rows import VIOLATION_SCHEMA
from tests.builders import event, person, resident_code, write_file

R = resident_code
BASELINE_DAY = dt.date(2026, 4, 1)
EVERYTHING_FIELDS = ["resident_code", "my_number", "family_name", "given_name", "birth_date", "address",
                     "address_since", "dest_address", "household_id", "relationship"]
KINDS = ("MOVE_WITHIN", "NAME_CHANGE", "BIRTH", "MOVE_OUT", "DEATH", "CANCEL", "HOUSEHOLD_CHANGE",
         "RESIDENT_CODE_CHANGE", "SUPPORT_MEASURE", "HONSEKI", "MOVE_ABROAD")
HERE, ELSEWHERE = "埼玉県川口市本町一丁目1番地", "東京都千代田区千代田1番地"
ROUTED = {"koseki_fuhyo": "honseki_here", "koseki_fuhyo_cs": "honseki_elsewhere"}


def subscribers_yaml(folder: Path) -> Path:
    """juki_net and both 附票 feeds as configured, and a feed of every event type with no filter."""
    real = yaml.safe_load(handoff.SUBSCRIBERS_YAML.read_text(encoding="utf-8"))["subscribers"]
    document = {"subscribers": {
        "juki_net": real["juki_net"],
        "koseki_fuhyo": real["koseki_fuhyo"],
        "koseki_fuhyo_cs": real["koseki_fuhyo_cs"],
        "everything": {"mode": "change_feed", "population": "all", "fields": EVERYTHING_FIELDS,
                       "event_types": ["BIRTH", "MOVE_WITHIN", "NAME_CHANGE", "MOVE_OUT", "DEATH",
                                       "HOUSEHOLD_CHANGE", "RESIDENT_CODE_CHANGE", "MOVE_ABROAD", "SUPPORT_MEASURE",
                                       "CORRECTION_BY_AUTHORITY"]},
    }}
    path = folder / "subscribers.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


@st.composite
def streams(draw) -> list[tuple[str, list[dict], bool]]:
    """Files after the BASELINE: (business date, rows, publish after it?); dates may repeat, rows arrive late."""
    files, day, ids, people, born = [], BASELINE_DAY, {}, [1, 2, 3], 10
    code = {n: R(n) for n in (1, 2, 3)}  # the code a person's rows name: the newest one a change row gave
    for f in range(draw(st.integers(1, 4))):
        day += dt.timedelta(days=draw(st.sampled_from([0, 1, 1, 3])))
        if day == BASELINE_DAY:
            day += dt.timedelta(days=1)
        rows = []
        for j in range(draw(st.integers(1, 4))):
            kind = draw(st.sampled_from(KINDS))
            late = draw(st.sampled_from([0, 0, 1, 4]))
            effective = max(day - dt.timedelta(days=late), BASELINE_DAY + dt.timedelta(days=1))
            eid, eff, noted = f"e{f}x{j}", effective.isoformat(), day.isoformat()
            n = draw(st.sampled_from(people))
            if kind == "CANCEL":
                if not ids:
                    continue
                target = draw(st.sampled_from(sorted(ids)))
                row = event(eid, "CANCEL", noted, noted, resident_code=ids[target], cancels_event_id=target)
            elif kind == "BIRTH":
                n, born = born, born + 1
                people.append(n)
                code[n] = R(n)
                row = event(eid, "BIRTH", eff, noted, **person(n, birth_date=eff, household_id="H1",
                                                                  relationship="子"))
            elif kind == "RESIDENT_CODE_CHANGE":
                row = event(eid, kind, eff, noted, resident_code=code[n], new_resident_code=R(1000 * n + f * 10 + j))
                code[n] = row["new_resident_code"]
            elif kind == "MOVE_WITHIN":
                row = event(eid, kind, eff, noted, resident_code=code[n], town_code=draw(st.sampled_from(["0002", "0003"])),
                            address_line=f"{draw(st.integers(1, 3))}-1", household_id=f"H{n}", relationship="世帯主")
            elif kind == "NAME_CHANGE":
                row = event(eid, kind, eff, noted, resident_code=code[n],
                            family_name=draw(st.sampled_from(["埼玉", "蕨", "戸田"])), given_name="太郎",
                            family_name_kana="サイタマ", given_name_kana="タロウ")
            elif kind == "HOUSEHOLD_CHANGE":
                row = event(eid, kind, eff, noted, resident_code=code[n], household_id="H1", relationship="同居人")
            elif kind in ("MOVE_OUT", "MOVE_ABROAD"):
                row = event(eid, kind, eff, noted, resident_code=code[n], dest_address="東京都千代田区千代田1-1")
            elif kind == "SUPPORT_MEASURE":
                row = event(eid, kind, eff, noted, resident_code=code[n], support_measure=draw(st.sampled_from("01")))
            elif kind == "HONSEKI":  # 転籍 reaches the register as a 職権修正 of the 本籍
                row = event(eid, "CORRECTION_BY_AUTHORITY", eff, noted, resident_code=code[n],
                            honseki=draw(st.sampled_from([HERE, ELSEWHERE])), hittousha="川口　太郎")
            else:
                row = event(eid, kind, eff, noted, resident_code=code[n])
            ids[eid] = row["resident_code"]
            rows.append(row)
        if rows:
            files.append((day.isoformat(), rows, draw(st.booleans())))
    return files


def take_in(root: Path, files: list[tuple[str, list[dict], bool]], subscribers: Path) -> None:
    """The BASELINE, then each file (publishing after it when asked), then one catch-up publish."""
    con = connect(root / "registry.duckdb")
    try:
        baseline = [event(f"base{n}", "BASELINE", "2020-01-01", BASELINE_DAY.isoformat(),
                          **person(n, honseki=ELSEWHERE if n == 3 else HERE)) for n in (1, 2, 3)]
        everything = [(BASELINE_DAY.isoformat(), baseline, True)] + files
        for k, (day, rows, publish_after) in enumerate(everything):
            folder = root / "inbox" / f"{k:03d}"  # two files of one date have one name: a folder each
            folder.mkdir(parents=True)
            ingest_file(con, str(write_file(folder, day, rows)), str(root / "archive"), "112038", 1.0, f"run{k}")
            if publish_after:
                publish.publish_handoffs(con, f"run{k}", root, lambda sub: None, plaintext=True,
                                         subscribers=str(subscribers))
        publish.publish_handoffs(con, "catch-up", root, lambda sub: None, plaintext=True, subscribers=str(subscribers))
    finally:
        con.close()


def receiver(target: Path) -> dict[str, dict]:
    """A subscriber's system: each file in sequence order, each row replacing the person's record (a row whose
    record is gone removes the person)."""
    held: dict[str, dict] = {}
    headers = sorted((json.loads(p.read_text(encoding="utf-8")) for p in target.glob("changes-*.json")),
                     key=lambda h: h["sequence_no"])
    assert [h["sequence_no"] for h in headers] == list(range(1, len(headers) + 1))
    assert [h["previous_sequence_no"] for h in headers] == [None] + list(range(1, len(headers)))
    for header in headers:
        rows = pl.from_arrow(pq.read_table(io.BytesIO((target / header["file"]).read_bytes()))).to_dicts()
        for row in rows:
            if row["record_status"] is None:
                held.pop(row["resident_code"], None)
            else:
                held[row["resident_code"]] = {k: v for k, v in row.items()
                                              if k not in ("entry_no", "event_id", "event_type", "effective_date",
                                                           "notified_date", "cancels_event_id")}
    return held


def register_now(root: Path, fields: list[str], population: str = "all") -> dict[str, dict]:
    """The register's newest record of every person of a population, as a subscriber with these fields sees it."""
    with connect(root / "registry.duckdb", read_only=True) as con:
        cursor = con.execute("select * from resident_version where recorded_to is null and valid_to is null")
        names = [d[0] for d in cursor.description]
        records = [dict(zip(names, r)) for r in cursor.fetchall()]
    towns = town_names()
    out = {}
    for r in records:
        japanese, honseki = r["nationality"] == "JP", r["honseki"] or ""
        if (population == "honseki_here" and not (japanese and honseki.startswith(MUNICIPALITY_PREFIX))) or \
                (population == "honseki_elsewhere" and not (japanese and honseki
                                                            and not honseki.startswith(MUNICIPALITY_PREFIX))):
            continue
        r["address"] = (MUNICIPALITY_PREFIX + towns[r["town_code"]] + r["address_line"]
                        if r["town_code"] in towns and r["address_line"] is not None else None)
        r["resident_code"] = r.get("new_resident_code") or r["resident_code"]  # the code in force
        out[r["resident_code"]] = {"record_status": r["status"], **{f: r[f] for f in fields}}
    return out


def converges(files: list[tuple[str, list[dict], bool]]) -> dict[str, dict[str, dict]]:
    """Every feed's receiver holds exactly the register's newest records of the persons it was told about;
    what each holds, by subscriber."""
    fast = pl.DataFrame(schema=VIOLATION_SCHEMA)  # every row is valid; the GX suite costs ~10 s a file here
    with tempfile.TemporaryDirectory() as folder, \
            mock.patch("tasks.validate_rows.row_violations", lambda rows, business_date: fast):
        root = Path(folder)
        subscribers = subscribers_yaml(root)
        take_in(root, files, subscribers)
        holdings = {}
        for name, sub in handoff.load_subscribers(subscribers).items():
            held = holdings[name] = receiver(root / "outbox" / name)
            now = register_now(root, list(sub.fields), sub.population)
            for code, record in held.items():
                assert code in now, f"{name} still holds {code}, whose record is gone or whose 附票 it does not keep"
                assert record == now[code], (name, code)
            with connect(root / "registry.duckdb", read_only=True) as con:
                added = {c for (c,) in con.execute(
                    "select resident_code from event where event_type = 'BIRTH' and cancelled_by is null").fetchall()}
            assert added & set(now) <= set(held), f"{name} never heard of {sorted(added - set(held))}"
    return holdings


CASE_2 = [("2026-04-02", [event("a1", "MOVE_WITHIN", "2026-04-02", resident_code=R(1), town_code="0002",
                                address_line="1-1", household_id="H1", relationship="世帯主")], True),
          ("2026-04-02", [event("b2", "NAME_CHANGE", "2026-04-02", resident_code=R(2), family_name="蕨",
                                given_name="太郎", family_name_kana="ワラビ", given_name_kana="タロウ")], True)]
CASE_3 = [("2026-04-10", [event("m1", "MOVE_WITHIN", "2026-04-10", resident_code=R(1), town_code="0002",
                                address_line="9-9", household_id="H1", relationship="世帯主")], True),
          ("2026-04-20", [event("n1", "NAME_CHANGE", "2026-04-03", "2026-04-20", resident_code=R(1),
                                family_name="埼玉", given_name="太郎", family_name_kana="サイタマ",
                                given_name_kana="タロウ")], True),
          ("2026-04-21", [event("x1", "CANCEL", "2026-04-21", resident_code=R(1), cancels_event_id="m1")], False)]

# 支援措置 starts, the 本籍 moves away (転籍), a late name change and the end of the measure go unpublished,
# a 国外転出 of someone with the 本籍 elsewhere; then the 転籍 is cancelled: the person comes back to this city's 附票
CASE_ROUTED = [("2026-04-02", [event("s1", "SUPPORT_MEASURE", "2026-04-02", resident_code=R(1), support_measure="1"),
                               event("t1", "CORRECTION_BY_AUTHORITY", "2026-04-02", resident_code=R(1),
                                     honseki=ELSEWHERE, hittousha="川口　太郎")], True),
               ("2026-04-03", [event("n1", "NAME_CHANGE", "2026-04-02", "2026-04-03", resident_code=R(1),
                                     family_name="蕨", given_name="太郎", family_name_kana="ワラビ",
                                     given_name_kana="タロウ"),
                               event("s2", "SUPPORT_MEASURE", "2026-04-03", resident_code=R(1), support_measure="0"),
                               event("a3", "MOVE_ABROAD", "2026-04-03", resident_code=R(3),
                                     dest_address="アメリカ合衆国")], False),
               ("2026-04-04", [event("x1", "CANCEL", "2026-04-04", resident_code=R(1), cancels_event_id="t1")], True)]


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@example(CASE_2)
@example(CASE_3)
@example(CASE_ROUTED)
@given(streams())
def test_every_feed_converges_to_the_register(files):
    """Generated streams, and the issue's cases 2 (a second file for a published date) and 3 (a late event)."""
    converges(files)


def test_the_fuhyo_feeds_follow_the_honseki_by_hand():
    """The 転籍 hands person 1 from this city's 附票 to the one via CS, flagged; the cancellation hands them back."""
    held = converges(CASE_ROUTED[:1])
    assert set(held["koseki_fuhyo"]) == set()  # both rows of the day say "no longer yours": nothing to keep
    assert held["koseki_fuhyo_cs"][R(1)]["honseki"] == ELSEWHERE
    assert held["koseki_fuhyo_cs"][R(1)]["support_measure"] is True and held["juki_net"][R(1)]["support_measure"]
    held = converges(CASE_ROUTED)
    back = held["koseki_fuhyo"][R(1)]
    assert (back["honseki"], back["family_name"], back["support_measure"]) == (HERE, "蕨", False)
    assert set(held["koseki_fuhyo_cs"]) == {R(3)}  # 国外転出 reaches the 本籍地 elsewhere; person 1 left it
    assert held["koseki_fuhyo_cs"][R(3)]["dest_address"] == "アメリカ合衆国"
    assert held["juki_net"][R(1)]["support_measure"] is False


def test_case_3_by_hand_the_receiver_keeps_the_move_and_takes_the_name():
    """The late NAME_CHANGE's row carries the name and the address after the move; then the move is cancelled."""
    converges(CASE_3[:2])
    converges(CASE_3)


CASE_CODE = [("2026-04-05", [event("c1", "RESIDENT_CODE_CHANGE", "2026-04-05", resident_code=R(1),
                                   new_resident_code=R(501)),
                             event("c2", "MOVE_WITHIN", "2026-04-05", resident_code=R(2), town_code="0002",
                                   address_line="2-2", household_id="H2", relationship="世帯主")], False),
             ("2026-04-06", [event("n1", "NAME_CHANGE", "2026-04-06", resident_code=R(501), family_name="蕨",
                                   given_name="太郎", family_name_kana="ワラビ", given_name_kana="タロウ"),
                             event("c3", "RESIDENT_CODE_CHANGE", "2026-04-06", resident_code=R(2),
                                   new_resident_code=R(502))], True),
             ("2026-04-07", [event("m1", "MOVE_WITHIN", "2026-04-03", "2026-04-07", resident_code=R(1),
                                   town_code="0003", address_line="3-3", household_id="H1", relationship="世帯主"),
                             event("c4", "RESIDENT_CODE_CHANGE", "2026-04-07", resident_code=R(501),
                                   new_resident_code=R(601))], True)]


def test_a_code_change_reaches_every_feed_that_carries_the_code():
    """住民票コードの変更, one published late, a second change, and a late event by the old code: every receiver
    ends holding each person once, under the code in force."""
    converges(CASE_CODE)
