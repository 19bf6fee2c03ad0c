"""Hand-offs (tasks/handoff.py): the convenience-store snapshot and the change feeds, on small inline registers."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
import uuid
from pathlib import Path

import fsspec
import polars as pl
import pyarrow.parquet as pq
import pytest

from schemas.change_file import town_names
from tasks import handoff
from tasks.handoff import (
    HandoffError, KeyMissing, conbini_frame, decrypt, deliveries_on, feed_frame, key_from_env, load_subscribers,
    output_name, parquet_bytes, pending_deliveries, publish_conbini, publish_feed, target_uri,
)
from tests.builders import event, foreigner, my_number, person, resident_code, write_file
from tests.conftest import Register

R = resident_code
KEY = bytes(range(32))
BASELINE_DATE = "2026-04-01"
SPEC_COLUMNS = [
    "resident_code", "my_number", "household_id", "relationship", "head_of_household_name", "family_name",
    "given_name", "family_name_kana", "given_name_kana", "alias_name", "birth_date", "sex", "nationality",
    "town_code", "address", "resident_since", "address_since", "address_notified_date", "prev_address",
    "honseki", "hittousha", "foreign_resident_category", "residence_status", "stay_expiry_date",
    "residence_card_no", "household_certificate_blocked",
]
# the agreement's version 2 adds 旧氏 and 在留期間, both printed on the certificate: after the spec's columns
CONBINI_COLUMNS = SPEC_COLUMNS + ["former_surname", "stay_period"]
ENTRY_COLUMNS = ["entry_no", "event_id", "event_type", "effective_date", "notified_date", "cancels_event_id",
                 "record_status"]


def day(value: str) -> dt.date:
    """An ISO date."""
    return dt.date.fromisoformat(value)


def ingest(register, business_date: str, rows: list[dict]) -> None:
    """Ingest one day's file; every row must apply."""
    (outcome,) = register.ingest(write_file(register.inbox, business_date, rows))
    assert outcome.rows_applied == len(rows), register.quarantine()


def baseline(register, records: list[dict]) -> None:
    """The BASELINE file of 2026-04-01: residents since 2020."""
    ingest(register, BASELINE_DATE, [event(f"base{int(r['resident_code'][:10])}", "BASELINE", "2020-01-01",
                                           BASELINE_DATE, **r) for r in records])


def memory_target() -> str:
    """A fresh in-memory target (the memory filesystem is shared by the whole process)."""
    return f"memory://handoff-{uuid.uuid4().hex}/out"


def files_in(target: str) -> list[str]:
    """Names of the files in a target."""
    fs, root = fsspec.core.url_to_fs(target)
    if not fs.exists(root):
        return []
    return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(root, detail=False))


def read(target: str, name: str) -> bytes:
    """The bytes of one file of a target."""
    fs, root = fsspec.core.url_to_fs(target)
    return fs.cat_file(f"{root.rstrip('/')}/{name}")


def frame_of(parquet: bytes) -> pl.DataFrame:
    """A Parquet file's rows."""
    return pl.from_arrow(pq.read_table(io.BytesIO(parquet)))


def codes(*numbers: int) -> list[str]:
    """Resident codes of persons, sorted."""
    return sorted(R(n) for n in numbers)


# --- configuration --------------------------------------------------------------------------

def test_subscribers_are_configuration():
    """Five subscribers; conbini's fields are the spec's columns in order (then version 2's); default targets
    beside the store."""
    subs = load_subscribers()
    assert set(subs) == {"conbini", "juki_net", "immigration", "koseki_fuhyo", "koseki_fuhyo_cs"}
    assert subs["conbini"].mode == "latest_snapshot" and list(subs["conbini"].fields) == CONBINI_COLUMNS
    assert subs["conbini"].exclude == ("support_measure", "planned_move_out")
    assert {s.mode for n, s in subs.items() if n != "conbini"} == {"change_feed"}
    assert "my_number" in subs["juki_net"].fields
    assert "my_number" not in subs["immigration"].fields + subs["koseki_fuhyo"].fields
    assert "HOUSEHOLD_CHANGE" not in subs["immigration"].event_types
    assert (subs["immigration"].population, subs["koseki_fuhyo"].population,
            subs["koseki_fuhyo_cs"].population) == ("foreign", "honseki_here", "honseki_elsewhere")
    assert "resident_code" not in subs["immigration"].fields  # no reason is written for it (issue 11, item 8)
    assert target_uri("conbini", Path("/city")) == "/city/outbox/conbini"
    assert target_uri("juki_net", Path("/city"), "memory://x/") == "memory://x/"


def test_every_field_of_every_subscriber_says_why_it_leaves():
    """schemas/subscribers.yaml gives each field of each subscriber a one-line reason (issue 11, item 8)."""
    for name, sub in load_subscribers().items():
        assert [f for f, _ in sub.reasons] == list(sub.fields), f"{name}: fields must be a mapping field: reason"
        for field_name, why in sub.reasons:
            assert why and "\n" not in why, f"{name}.{field_name} has no one-line reason"


def test_the_fast_yaml_loader_reads_the_subscribers_as_the_python_one_does(monkeypatch):
    """libyaml's loader, where PyYAML has it, gives the same subscribers as the pure-Python safe loader."""
    import yaml

    fast = load_subscribers()
    monkeypatch.setattr(handoff, "SAFE_LOADER", yaml.SafeLoader)
    assert load_subscribers() == fast


def test_a_bad_subscriber_file_is_refused_clearly(tmp_path):
    """An unknown field or mode is a HandoffError naming the subscriber."""
    path = tmp_path / "subs.yaml"
    path.write_text("subscribers:\n  x:\n    mode: change_feed\n    population: all\n"
                    "    event_types: [DEATH]\n    fields: [resident_code, shoe_size]\n", encoding="utf-8")
    with pytest.raises(HandoffError, match="subscriber x: fields"):
        load_subscribers(path)
    path.write_text("subscribers:\n  x:\n    mode: mirror\n", encoding="utf-8")
    with pytest.raises(HandoffError, match="subscriber x: mode"):
        load_subscribers(path)


# --- the convenience-store snapshot ---------------------------------------------------------

def copy_of(snapshot: Path, tmp_path: Path):
    """A fresh register holding a copy of a module's prepared store."""
    for path in snapshot.glob("registry.duckdb*"):
        shutil.copy(path, tmp_path / path.name)
    shutil.copytree(snapshot / "archive", tmp_path / "archive")
    return Register(tmp_path)


def prepared(tmp_path_factory, build) -> Path:
    """Build a register once per module into a closed store; its folder."""
    root = tmp_path_factory.mktemp("prepared")
    register = Register(root)
    try:
        build(register)
    finally:
        register.con.close()
    return root


@pytest.fixture(scope="module")
def households_store(tmp_path_factory) -> Path:
    """The households register, built once."""
    return prepared(tmp_path_factory, build_households)


@pytest.fixture
def households(households_store, tmp_path):
    """A fresh copy of the households register."""
    register = copy_of(households_store, tmp_path)
    yield register
    register.con.close()


def build_households(register) -> None:
    """Households on 2026-04-02 with every reason to leave a person out.

    H1: 1 世帯主, 2 妻 (support measure).  H3: 3 世帯主 (planned move-out), 4 子.
    H5: 5 世帯主 (support measure and planned move-out), 9 子.  H6: 6 alone.  H7: 7 子, no 世帯主.
    8 a foreign resident alone in H8.
    """
    records = [person(9, household_id="H5", relationship="子", given_name="次郎"),
               person(1, household_id="H1", given_name="一郎"),
               person(2, household_id="H1", relationship="妻", given_name="花子", sex="2"),
               person(3, household_id="H3"), person(4, household_id="H3", relationship="子"),
               person(5, household_id="H5"),
               person(6, household_id="H6", town_code="0002", address_line="4-5-6 コーポ101"),
               person(7, household_id="H7", relationship="子"),
               foreigner(8, household_id="H8")]
    baseline(register, records)
    ingest(register, "2026-04-02", [
        event("s2", "SUPPORT_MEASURE", "2026-04-02", resident_code=R(2), support_measure="1"),
        event("o3", "MOVE_OUT", "2026-04-10", "2026-04-02", resident_code=R(3), dest_address="東京都千代田区"),
        event("s5", "SUPPORT_MEASURE", "2026-04-02", resident_code=R(5), support_measure="1"),
        event("o5", "MOVE_ABROAD", "2026-04-12", "2026-04-02", resident_code=R(5), dest_address="フランス"),
    ])


def test_conbini_leaves_out_protected_persons_and_planned_move_outs(households):
    """Support measure and planned move-out are left out; both at once counts as support_measure."""
    frame, excluded = conbini_frame(households.con, day("2026-04-02"))
    assert frame["resident_code"].to_list() == codes(1, 4, 6, 7, 8, 9)
    assert excluded == {"support_measure": 2, "planned_move_out": 1}
    blocked = dict(zip(frame["resident_code"], frame["household_certificate_blocked"]))
    assert blocked == {R(1): True, R(4): True, R(9): True, R(6): False, R(7): False, R(8): False}


def test_a_planned_move_out_counts_only_between_notice_and_move(households):
    """Before the notice the person is issued certificates; on the day of the move they are no resident."""
    before, excluded = conbini_frame(households.con, day("2026-04-01"))
    assert R(3) in before["resident_code"].to_list()
    assert excluded == {"support_measure": 0, "planned_move_out": 0}
    after, excluded = conbini_frame(households.con, day("2026-04-10"))
    assert R(3) not in after["resident_code"].to_list()
    assert after.filter(pl.col("resident_code") == R(4))["household_certificate_blocked"].to_list() == [False]
    assert excluded == {"support_measure": 2, "planned_move_out": 0}


def test_a_cancelled_move_out_is_no_plan(households):
    """転出取消: the person is back in the snapshot and their household no longer blocked."""
    ingest(households, "2026-04-03", [event("c3", "CANCEL", "2026-04-03", resident_code=R(3), cancels_event_id="o3")])
    frame, excluded = conbini_frame(households.con, day("2026-04-03"))
    assert R(3) in frame["resident_code"].to_list()
    assert excluded["planned_move_out"] == 0
    assert not frame.filter(pl.col("household_id") == "H3")["household_certificate_blocked"].any()


def test_conbini_columns_names_and_addresses(households):
    """The spec's columns in order and types; head of household name, the only member's own 職権; the address."""
    frame, _ = conbini_frame(households.con, day("2026-04-02"))
    assert frame.columns == CONBINI_COLUMNS
    schema = frame.schema
    assert schema["birth_date"] == pl.Date and schema["resident_since"] == pl.Date
    assert schema["sex"] == pl.String and schema["household_certificate_blocked"] == pl.Boolean
    rows = {r["resident_code"]: r for r in frame.to_dicts()}
    assert rows[R(1)]["head_of_household_name"] == "川口　一郎"
    assert rows[R(9)]["head_of_household_name"] == "川口　太郎"  # the head is left out, the name is not
    # 7 alone in H7 with no 世帯主 row: head by authority (tasks/sql/household_heads.sql), 続柄 reads 世帯主
    assert (rows[R(7)]["relationship"], rows[R(7)]["head_of_household_name"]) == ("世帯主", "川口　太郎")
    assert rows[R(6)]["address"] == "埼玉県川口市" + town_names()["0002"] + "4-5-6 コーポ101"
    assert rows[R(1)]["address"] == "埼玉県川口市" + town_names()["0001"] + "1-2-3"
    assert rows[R(8)]["nationality"] == "CN" and rows[R(8)]["residence_card_no"] == "AB12345678CD"
    assert rows[R(1)]["resident_since"] == day("2020-01-01") and rows[R(1)]["sex"] == "1"


def test_parquet_bytes_are_deterministic(households):
    """The same register and as-of date give the same Parquet bytes; no time in the file's metadata."""
    one, two = memory_target(), memory_target()
    m1 = publish_conbini(households.con, one, day("2026-04-02"), None, True, "t")
    m2 = publish_conbini(households.con, two, day("2026-04-02"), None, True, "t")
    assert read(one, m1["file"]) == read(two, m2["file"])
    assert m1["sha256"] == m2["sha256"]
    metadata = pq.read_metadata(io.BytesIO(read(one, m1["file"])))
    assert set(metadata.metadata or {}) <= {b"ARROW:schema"}
    e1 = publish_conbini(households.con, one, day("2026-04-02"), KEY, False, "t")
    e2 = publish_conbini(households.con, two, day("2026-04-02"), KEY, False, "t")
    assert e1["sha256"] == e2["sha256"] == m1["sha256"]
    assert e1["file_sha256"] != e2["file_sha256"]  # a fresh nonce each time


def test_snapshot_ids_are_gapless_and_the_old_file_goes(households, tmp_path):
    """1, 2, 3 with their previous ids; after each publish exactly one data file and manifest.json."""
    target = str(tmp_path / "outbox" / "conbini")
    for n in (1, 2, 3):
        manifest = publish_conbini(households.con, target, day("2026-04-02"), KEY, False, f"run{n}")
        assert (manifest["snapshot_id"], manifest["previous_snapshot_id"]) == (n, n - 1 or None)
        assert files_in(target) == ["manifest.json", f"residents-{n}.parquet.aes"]
        assert json.loads(Path(target, "manifest.json").read_text(encoding="utf-8")) == manifest
    assert list(manifest) == ["format", "snapshot_id", "previous_snapshot_id", "as_of", "created_at", "file",
                              "encryption", "file_sha256", "rows", "sha256", "excluded"]
    assert (manifest["format"], manifest["as_of"], manifest["rows"]) == ("juki-conbini/1", "2026-04-02", 6)
    assert manifest["excluded"] == {"support_measure": 2, "planned_move_out": 1}
    ledger = households.rows("select subscriber, sequence_no, previous_no, as_of, rows, file_name, file_sha256, "
                             "data_sha256, encryption, run_id from handoff_ledger order by sequence_no")
    assert [(r[0], r[1], r[2], r[9]) for r in ledger] == [("conbini", 1, None, "run1"), ("conbini", 2, 1, "run2"),
                                                          ("conbini", 3, 2, "run3")]
    assert ledger[-1][5:9] == (manifest["file"], manifest["file_sha256"], manifest["sha256"], "AES-256-GCM")


def test_leftovers_of_an_interrupted_publish_are_cleared(households, tmp_path):
    """An orphan data file and a temporary file from a crash are gone after the next publish."""
    target = tmp_path / "conbini"
    publish_conbini(households.con, str(target), day("2026-04-02"), KEY, False, "t")
    (target / "residents-7.parquet.aes").write_bytes(b"orphan")
    (target / ".manifest.json.0a1b2c.tmp").write_bytes(b"{")
    manifest = publish_conbini(households.con, str(target) + "/", day("2026-04-02"), KEY, False, "t")
    assert manifest["snapshot_id"] == 2
    assert files_in(str(target)) == ["manifest.json", "residents-2.parquet.aes"]
    assert households.rows("select distinct target from handoff_ledger") == [(str(target),)]


def test_encryption_round_trip(households):
    """decrypt(file, key) gives the Parquet bytes the manifest describes; a wrong key is refused."""
    target = memory_target()
    manifest = publish_conbini(households.con, target, day("2026-04-02"), KEY, False, "t")
    blob = read(target, manifest["file"])
    assert manifest["file"] == "residents-1.parquet.aes" and manifest["encryption"] == "AES-256-GCM"
    assert hashlib.sha256(blob).hexdigest() == manifest["file_sha256"]
    plain = decrypt(blob, KEY)
    assert hashlib.sha256(plain).hexdigest() == manifest["sha256"]
    assert frame_of(plain).height == manifest["rows"]
    assert frame_of(plain).equals(conbini_frame(households.con, day("2026-04-02"))[0])
    with pytest.raises(HandoffError, match="does not decrypt"):
        decrypt(blob, bytes(32))


def test_publishing_without_a_key_is_refused(households):
    """No key and no --plaintext: a clear refusal, nothing written, nothing recorded."""
    target = memory_target()
    with pytest.raises(KeyMissing) as refused:
        publish_conbini(households.con, target, day("2026-04-02"), None, False, "t")
    message = str(refused.value)
    assert "JUKI_CONBINI_KEY" in message and "--plaintext" in message and message.count(". ") == 0
    assert files_in(target) == []
    handoff.ensure_ledger(households.con)
    assert households.rows("select count(*) from handoff_ledger") == [(0,)]


def test_plaintext_on_purpose(households):
    """--plaintext: residents-<id>.parquet, encryption none, file digest = data digest."""
    target = memory_target()
    manifest = publish_conbini(households.con, target, day("2026-04-02"), KEY, True, "t")
    assert (manifest["file"], manifest["encryption"]) == ("residents-1.parquet", "none")
    assert manifest["file_sha256"] == manifest["sha256"]
    assert frame_of(read(target, manifest["file"]))["resident_code"].to_list() == codes(1, 4, 6, 7, 8, 9)


def test_key_from_env(monkeypatch):
    """64 hex digits give 32 bytes; unset gives None; anything else is refused without echoing it."""
    monkeypatch.setenv("JUKI_CONBINI_KEY", KEY.hex().upper())
    assert key_from_env() == KEY
    monkeypatch.delenv("JUKI_CONBINI_KEY")
    assert key_from_env() is None
    monkeypatch.setenv("JUKI_CONBINI_KEY", "secret-" + "ab" * 20)
    with pytest.raises(HandoffError) as refused:
        key_from_env()
    assert "secret" not in str(refused.value) and "64 hex digits" in str(refused.value)


def test_removed_persons_disappear_from_the_next_snapshot(households, tmp_path):
    """A death recorded between two publishes: gone from the next snapshot, and the old file is gone."""
    target = str(tmp_path / "conbini")
    first = publish_conbini(households.con, target, day("2026-04-03"), KEY, False, "t")
    ingest(households, "2026-04-04", [event("d6", "DEATH", "2026-04-03", "2026-04-04", resident_code=R(6))])
    second = publish_conbini(households.con, target, day("2026-04-03"), KEY, False, "t")
    rows = frame_of(decrypt(Path(target, second["file"]).read_bytes(), KEY))["resident_code"].to_list()
    assert R(6) not in rows and second["rows"] == first["rows"] - 1
    assert files_in(target) == ["manifest.json", "residents-2.parquet.aes"]


# --- change feeds ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def city_store(tmp_path_factory) -> Path:
    """The city register, built once."""
    return prepared(tmp_path_factory, build_city)


@pytest.fixture
def city(city_store, tmp_path):
    """A fresh copy of the city register."""
    register = copy_of(city_store, tmp_path)
    yield register
    register.con.close()


def build_city(register) -> None:
    """Japanese 1-3 and 7, foreign residents 4 and 5 (4 with 1 in H1), and a day of every kind of change."""
    baseline(register, [person(1), person(2), person(3), foreigner(4, household_id="H9", relationship="世帯主"),
                        foreigner(5, residence_card_no="XY00000005ZZ"), person(7)])
    d = "2026-04-02"
    ingest(register, d, [
        event("m1", "MOVE_WITHIN", d, resident_code=R(1), town_code="0002", address_line="9-9"),
        event("h4", "HOUSEHOLD_CHANGE", d, resident_code=R(4), household_id="H1", relationship="同居人"),
        event("n5", "NAME_CHANGE", d, resident_code=R(5), family_name="LI", given_name="NA",
              family_name_kana="リ", given_name_kana="ナ"),
        event("s4", "STATUS_CHANGE", d, resident_code=R(4), foreign_resident_category="SPECIAL_PERMANENT",
              residence_card_no="ZZ87654321YY"),
        event("sm2", "SUPPORT_MEASURE", d, resident_code=R(2), support_measure="1"),
        event("c2", "CORRECTION_BY_AUTHORITY", d, resident_code=R(2), household_id="H7", relationship="同居人"),
        event("i6", "MOVE_IN", d, **foreigner(6, residence_card_no="QQ00000006QQ"),
              prev_address="中華人民共和国"),
        event("b8", "BIRTH", d, **person(8, birth_date=d, household_id="H7", relationship="子")),
        event("d3", "DEATH", d, resident_code=R(3)),
    ])


def only_delivery(register, business_date: str) -> int:
    """The one applied delivery of a business date."""
    (delivery,) = deliveries_on(register.con, day(business_date))
    return delivery


def feed_of(register, name: str, business_date: str):
    """A feed's rows for the one delivery of a day."""
    return feed_frame(register.con, name, only_delivery(register, business_date))


def sent(register, name: str, business_date: str) -> list[tuple[str, str]]:
    """(event_id, event_type) of a feed's rows for the one delivery of a day."""
    frame = feed_of(register, name, business_date)
    assert frame["entry_no"].to_list() == list(range(1, frame.height + 1))
    return list(zip(frame["event_id"], frame["event_type"]))


def test_each_feed_gets_its_population_and_its_changes(city):
    """juki_net: 本人確認情報 changes and 支援措置; immigration: foreigners, no household change; 附票: the 附票 of
    Japanese with the 本籍 here (all of them in this city), its 支援措置 and the 消除 on death; via CS: nobody."""
    assert sent(city, "juki_net", "2026-04-02") == [
        ("m1", "MOVE_WITHIN"), ("n5", "NAME_CHANGE"), ("sm2", "SUPPORT_MEASURE"), ("i6", "MOVE_IN"), ("b8", "BIRTH"),
        ("d3", "DEATH")]
    assert sent(city, "immigration", "2026-04-02") == [
        ("n5", "NAME_CHANGE"), ("i6", "MOVE_IN")]  # a STATUS_CHANGE is the 法務省's own: no echo
    assert sent(city, "koseki_fuhyo", "2026-04-02") == [
        ("m1", "MOVE_WITHIN"), ("sm2", "SUPPORT_MEASURE"), ("b8", "BIRTH"), ("d3", "DEATH")]
    assert sent(city, "koseki_fuhyo_cs", "2026-04-02") == []
    assert sent(city, "juki_net", BASELINE_DATE) == []  # the initial load is no change


def test_each_feed_carries_only_its_fields(city):
    """Columns: the entry columns, then the subscriber's fields; values from the record the event made."""
    subs = load_subscribers()
    for name in ("juki_net", "immigration", "koseki_fuhyo"):
        frame = feed_of(city, name, "2026-04-02")
        assert frame.columns == ENTRY_COLUMNS + list(subs[name].fields)
    imm = {r["event_id"]: r for r in feed_of(city, "immigration", "2026-04-02").to_dicts()}
    assert (imm["n5"]["family_name"], imm["n5"]["nationality"]) == ("LI", "CN")
    assert (imm["i6"]["foreign_resident_category"], imm["i6"]["residence_card_no"]) == ("MID_LONG",
                                                                                         "QQ00000006QQ")
    fuhyo = {r["event_id"]: r for r in feed_of(city, "koseki_fuhyo", "2026-04-02").to_dicts()}
    assert fuhyo["m1"]["address"] == "埼玉県川口市" + town_names()["0002"] + "9-9"
    assert fuhyo["m1"]["address_since"] == day("2026-04-02")
    assert fuhyo["m1"]["honseki"] == "埼玉県川口市本町一丁目1番地"
    net = {r["event_id"]: r for r in feed_of(city, "juki_net", "2026-04-02").to_dicts()}
    assert net["b8"]["my_number"] == my_number(8) and net["d3"]["resident_code"] == R(3)
    assert (net["d3"]["record_status"], net["m1"]["record_status"]) == ("removed", "current")


def test_naturalisation_reaches_immigration_and_the_fuhyo(city):
    """帰化: the foreign record ends (immigration) and a Japanese address enters a 附票."""
    ingest(city, "2026-04-03", [event("x5", "NATIONALITY_CHANGE", "2026-04-03", resident_code=R(5), nationality="JP",
                                      honseki="埼玉県川口市青木一丁目1番地", hittousha="李　娜")])
    assert sent(city, "immigration", "2026-04-03") == [("x5", "NATIONALITY_CHANGE")]
    assert sent(city, "koseki_fuhyo", "2026-04-03") == [("x5", "NATIONALITY_CHANGE")]
    assert sent(city, "juki_net", "2026-04-03") == []


def test_the_alias_cleared_on_naturalisation_reaches_juki_net(city):
    """帰化 clears the 通称: 住基ネット's 本人確認情報 carries alias_name, so the change is sent, alias empty."""
    ingest(city, "2026-04-03", [event("a5", "NAME_CHANGE", "2026-04-03", resident_code=R(5), family_name="LI",
                                      given_name="NA", family_name_kana="リ", given_name_kana="ナ",
                                      alias_name="李　娜")])
    ingest(city, "2026-04-06", [event("x5", "NATIONALITY_CHANGE", "2026-04-06", resident_code=R(5),
                                      nationality="JP", honseki="埼玉県川口市青木一丁目1番地", hittousha="李　娜")])
    assert sent(city, "juki_net", "2026-04-06") == [("x5", "NATIONALITY_CHANGE")]
    (row,) = feed_of(city, "juki_net", "2026-04-06").to_dicts()
    assert (row["resident_code"], row["alias_name"]) == (R(5), None)


def test_a_cancellation_travels_as_its_own_row(city):
    """The file sent is not rewritten; the CANCEL goes to those who got its target, with the record as it now is."""
    target = memory_target()
    first = publish_feed(city.con, "koseki_fuhyo", target, only_delivery(city, "2026-04-02"), KEY, False, "t")
    d = "2026-04-03"
    ingest(city, d, [
        event("x1", "CANCEL", d, resident_code=R(1), cancels_event_id="m1"),
        event("x4", "CANCEL", d, resident_code=R(4), cancels_event_id="h4"),
        event("m7", "MOVE_WITHIN", d, resident_code=R(7), town_code="0003", address_line="1-1"),
        event("x7", "CANCEL", d, resident_code=R(7), cancels_event_id="m7"),
    ])
    second = publish_feed(city.con, "koseki_fuhyo", target, only_delivery(city, d), KEY, False, "t")
    assert hashlib.sha256(read(target, first["file"])).hexdigest() == first["file_sha256"]  # never rewritten
    assert second["previous_sequence_no"] == first["sequence_no"]
    assert sent(city, "koseki_fuhyo", d) == [("x1", "CANCEL")]
    assert sent(city, "juki_net", d) == [("x1", "CANCEL")]
    assert sent(city, "immigration", d) == []  # h4 was never sent there; m7 and x7 cancel out within the file
    (row,) = feed_of(city, "koseki_fuhyo", d).to_dicts()
    assert (row["cancels_event_id"], row["resident_code"]) == ("m1", R(1))
    assert row["address"] == "埼玉県川口市" + town_names()["0001"] + "1-2-3"


def test_a_cancelled_addition_leaves_only_the_code(city):
    """Cancelling a move-in: the CANCEL row names the person, the record is gone."""
    ingest(city, "2026-04-03", [event("x6", "CANCEL", "2026-04-03", resident_code=R(6), cancels_event_id="i6")])
    (row,) = feed_of(city, "juki_net", "2026-04-03").to_dicts()
    assert (row["event_type"], row["cancels_event_id"], row["resident_code"]) == ("CANCEL", "i6", R(6))
    assert row["family_name"] is None and row["address"] is None and row["record_status"] is None
    (row,) = feed_of(city, "immigration", "2026-04-03").to_dicts()  # no 住民票コード: the event names it
    assert (row["event_type"], row["cancels_event_id"], row["record_status"]) == ("CANCEL", "i6", None)


def test_feed_files_are_numbered_once_per_delivery(city):
    """Sequence 1, 2, 3 with the previous number, one per applied delivery; a delivery is never sent twice."""
    ingest(city, "2026-04-03", [event("x1", "CANCEL", "2026-04-03", resident_code=R(1), cancels_event_id="m1")])
    target = memory_target()
    output = output_name(load_subscribers()["juki_net"])
    assert pending_deliveries(city.con, output, target) == [(1, day(BASELINE_DATE)), (2, day("2026-04-02")),
                                                            (3, day("2026-04-03"))]
    headers = [publish_feed(city.con, "juki_net", target, d, KEY, False, "t")
               for d, _ in pending_deliveries(city.con, output, target)]
    assert [(h["sequence_no"], h["previous_sequence_no"], h["delivery_no"], h["rows"]) for h in headers] == [
        (1, None, 1, 0), (2, 1, 2, 6), (3, 2, 3, 1)]
    assert files_in(target) == [f"changes-0000000{n}-2026040{n}.{ext}" for n in (1, 2, 3)
                                for ext in ("json", "parquet.aes")]
    with pytest.raises(HandoffError, match="already published"):
        publish_feed(city.con, "juki_net", target, 2, KEY, False, "t")
    assert city.rows("select count(*) from handoff_ledger where subscriber = 'juki_net'") == [(3,)]
    assert pending_deliveries(city.con, output, target) == []
    assert city.rows("select delivery_no from publish_watermark where output = 'feed:juki_net' "
                     "order by moved_at") == [(1,), (2,), (3,)]
    header = json.loads(read(target, "changes-00000002-20260402.json"))
    assert header == {k: v for k, v in headers[1].items() if k != "status"}
    assert header["format"] == "juki-feed/2" and header["fields"] == ENTRY_COLUMNS + list(
        load_subscribers()["juki_net"].fields)
    plain = decrypt(read(target, header["file"]), KEY)
    assert hashlib.sha256(plain).hexdigest() == header["sha256"]
    assert frame_of(plain)["event_id"].to_list() == ["m1", "n5", "sm2", "i6", "b8", "d3"]
    # another subscriber numbers its own files
    assert publish_feed(city.con, "immigration", target + "-imm", 2, KEY, False, "t")["sequence_no"] == 1


def test_a_second_file_for_a_business_date_gets_a_file_of_its_own(city):
    """Case 2 of issue 10: file B for an already published date reaches the feeds, numbered after A."""
    target = memory_target()
    output = output_name(load_subscribers()["juki_net"])
    for d, _ in pending_deliveries(city.con, output, target):
        publish_feed(city.con, "juki_net", target, d, KEY, False, "t")
    second = city.inbox / "late" / "112038_changes_20260402.csv"
    second.parent.mkdir()
    write_file(second.parent, "2026-04-02", [
        event("m7", "MOVE_WITHIN", "2026-04-02", resident_code=R(7), town_code="0004", address_line="2-2")])
    (outcome,) = city.ingest(second)
    assert outcome.rows_applied == 1
    assert pending_deliveries(city.con, output, target) == [(3, day("2026-04-02"))]
    header = publish_feed(city.con, "juki_net", target, 3, KEY, False, "t")
    assert (header["sequence_no"], header["previous_sequence_no"], header["business_date"], header["rows"]) == (
        3, 2, "2026-04-02", 1)
    assert frame_of(decrypt(read(target, header["file"]), KEY))["event_id"].to_list() == ["m7"]


def test_an_intent_the_target_shows_is_recorded_and_one_it_does_not_is_undone(city):
    """Killed between the files and the ledger row: the header in the target makes it delivered; a data file
    without its header is removed, and the next publish takes its number."""
    target = memory_target()
    sub = load_subscribers()["koseki_fuhyo"]
    first = publish_feed(city.con, sub, target, 1, KEY, False, "t")
    # as if the process died right after the header was put: the intent stays, no ledger row, no watermark
    city.con.execute("delete from handoff_ledger")
    city.con.execute("delete from publish_watermark")
    city.con.execute("insert into handoff_intent values ('koseki_fuhyo', $t, 1, 1, $h, 't', now())",
                     {"t": target, "h": json.dumps({k: v for k, v in first.items() if k != "status"})})
    settled = handoff.settle_intents(city.con, sub, target, "next")
    assert [(h["sequence_no"], h["settled"]) for h in settled] == [(1, True)]
    assert city.rows("select sequence_no, run_id from handoff_ledger") == [(1, "next")]
    assert city.rows("select count(*) from handoff_intent") == [(0,)]
    assert pending_deliveries(city.con, output_name(sub), target) == [(2, day("2026-04-02"))]
    # as if it died after the data file, before its header: undone
    second = publish_feed(city.con, sub, target, 2, KEY, False, "t")
    city.con.execute("delete from handoff_ledger where sequence_no = 2")
    city.con.execute("delete from publish_watermark where delivery_no = 2")
    fs, root = fsspec.core.url_to_fs(target)
    fs.rm_file(f"{root}/changes-00000002-20260402.json")
    city.con.execute("insert into handoff_intent values ('koseki_fuhyo', $t, 2, 2, $h, 't', now())",
                     {"t": target, "h": json.dumps({k: v for k, v in second.items() if k != "status"})})
    assert handoff.settle_intents(city.con, sub, target, "next") == []
    assert files_in(target) == ["changes-00000001-20260401.json", "changes-00000001-20260401.parquet.aes"]
    again = publish_feed(city.con, sub, target, 2, KEY, False, "t")
    assert (again["sequence_no"], again["previous_sequence_no"]) == (2, 1)


def test_a_feed_needs_an_applied_file_and_a_key(city):
    """No applied delivery: nothing to publish; no key: refused."""
    with pytest.raises(HandoffError, match="delivery 9 is not an applied change file"):
        publish_feed(city.con, "juki_net", memory_target(), 9, KEY, False, "t")
    with pytest.raises(KeyMissing, match="JUKI_JUKI_NET_KEY"):
        publish_feed(city.con, "juki_net", memory_target(), 2, None, False, "t")


def test_my_number_only_in_the_conbini_file_and_the_juki_net_feed(city):
    """Manifests, headers, the ledger, and the immigration and 附票 feeds hold no My Number."""
    numbers = [my_number(n) for n in range(1, 9)]
    targets = {name: memory_target() for name in ("conbini", "juki_net", "immigration", "koseki_fuhyo")}
    publish_conbini(city.con, targets["conbini"], day("2026-04-02"), None, True, "t")
    for name in ("juki_net", "immigration", "koseki_fuhyo"):
        for d in (1, 2):
            publish_feed(city.con, name, targets[name], d, None, True, "t")
    carried = {}
    for name, target in targets.items():
        text = ""
        for file in files_in(target):
            content = read(target, file)
            text += content.decode("utf-8") if file.endswith(".json") else frame_of(content).write_csv()
            if file.endswith(".json"):
                assert not any(n in content.decode("utf-8") for n in numbers), file
        carried[name] = any(n in text for n in numbers)
    assert carried == {"conbini": True, "juki_net": True, "immigration": False, "koseki_fuhyo": False}
    ledger = str(city.rows("select * from handoff_ledger"))
    assert not any(n in ledger for n in numbers)
