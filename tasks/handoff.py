"""Hand-offs (連携) to subscriber systems: the convenience-store snapshot and the change feeds.

Subscribers are configuration (schemas/subscribers.yaml). Every data file is deterministic Parquet
(same register and date, same bytes), encrypted with AES-256-GCM unless plaintext is asked for on
purpose, and written to an fsspec target before the small JSON file that names it. Every publish is
recorded in handoff_ledger. No function here logs or prints personal data.

A change-feed file holds the events of one applied delivery (a change file) in the order they were
recorded (line); one file per delivery, so a second file for a business date and a re-sent file's new
rows get files of their own. Each row: entry_no, event_id, event_type, effective_date, notified_date,
cancels_event_id, record_status, then the subscriber's fields from the person's record as the register
knows it when the file is published (null but resident_code when no record is left), so a receiver that
applies the files in sequence order ends with the register's records whatever arrived late. Files already
sent are never rewritten: a later cancellation (取消) travels as its own CANCEL row, naming the cancelled
event in cancels_event_id. A CANCEL is sent exactly when its target was sent in an earlier file; an event
cancelled within its own delivery is sent to nobody, and neither is its CANCEL. Which events a subscriber
gets is decided on the records before and after each event as known right after its file was applied.
A planned removal (転出予定) is sent in the first delivery whose business date reaches its effective date.
The 附票 feeds are routed by 本籍 (populations honseki_here / honseki_elsewhere): an event goes to the route of
the record before it and after it, and a row carries the record only while the subscriber keeps the person's
附票 (else no record, record_status null: the receiver drops the person).

Every publish is recorded as an intent before the subscriber can see the file (the manifest or the feed
header), and settled in one transaction with its handoff_ledger row, disclosure_log row and the output's
watermark; an intent a crash left is settled by the next publish to that target (see settle_intents).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import fsspec
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.change_file import ADDING, EVENT_TYPES, MUNICIPALITY_PREFIX, REMOVING, town_names
from tasks.faults import fault
from tasks.heads import define_household_heads

ROOT = Path(__file__).resolve().parent.parent
SUBSCRIBERS_YAML = ROOT / "schemas" / "subscribers.yaml"
LEDGER_SQL = ROOT / "schemas" / "handoff_ledger.sql"
PUBLISH_SQL = ROOT / "schemas" / "publish_ledger.sql"
SQL_DIR = Path(__file__).resolve().parent / "sql" / "handoff"

log = logging.getLogger("juki")
CONBINI_FORMAT = "juki-conbini/1"
FEED_FORMAT = "juki-feed/2"
MANIFEST = "manifest.json"
ENCRYPTION = "AES-256-GCM"
NONCE_BYTES = 12
KEY_BYTES = 32
MODES = ("latest_snapshot", "change_feed")
EXCLUSION_REASONS = ("support_measure", "planned_move_out")
FEED_PREFIX = "changes-"
EVENTS_KEPT = 50_000  # feed_events keeps deliveries' events for the next feeds up to this many rows in all
FEED_NAME = re.compile(r"^changes-(?P<seq>\d{8})-(?P<date>\d{8})\.json$")

_S, _D, _B = pa.string(), pa.date32(), pa.bool_()
# The record fields a hand-off may carry and their Parquet types; codes stay text.
RECORD_TYPES: dict[str, pa.DataType] = {
    "resident_code": _S, "my_number": _S, "household_id": _S, "relationship": _S,
    "family_name": _S, "given_name": _S, "family_name_kana": _S, "given_name_kana": _S, "alias_name": _S,
    "birth_date": _D, "sex": _S, "nationality": _S, "town_code": _S, "address_line": _S, "address": _S,
    "resident_since": _D, "address_since": _D, "address_notified_date": _D, "prev_address": _S,
    "dest_address": _S, "honseki": _S, "hittousha": _S, "foreign_resident_category": _S,
    "residence_status": _S, "stay_expiry_date": _D, "residence_card_no": _S, "support_measure": _B,
    # 住民票コードの変更: the code issued (a record field, for when_changed; never a field sent)
    "new_resident_code": _S,
    "former_surname": _S, "stay_period": _S,  # 旧氏, 在留期間 (agreement version 2)
}
CONBINI_TYPES = {**RECORD_TYPES, "head_of_household_name": _S, "household_certificate_blocked": _B}
ENTRY_TYPES: dict[str, pa.DataType] = {
    "entry_no": pa.int64(), "event_id": _S, "event_type": _S, "effective_date": _D, "notified_date": _D,
    "cancels_event_id": _S, "record_status": _S,
}
POPULATIONS = {"latest_snapshot": ("residents",),
               "change_feed": ("all", "japanese", "foreign", "honseki_here", "honseki_elsewhere")}
# a 附票 is kept by the 本籍地: these feeds hold a person only while the 本籍 is (or is not) in this city
ROUTED = ("honseki_here", "honseki_elsewhere")
KEYS = {"description", "mode", "target", "key_env", "population", "fields", "exclude", "event_types", "when_changed"}


class HandoffError(Exception):
    """A hand-off cannot be done; the message is one sentence for a person."""


class KeyMissing(HandoffError):
    """No encryption key was given and plaintext was not asked for."""


@dataclass(frozen=True)
class Subscriber:
    """One subscriber: where its data goes, how, for whom and which fields."""

    name: str
    mode: str
    target: str
    fields: tuple[str, ...]
    population: str
    key_env: str
    description: str = ""
    exclude: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    when_changed: tuple[str, ...] = ()
    reasons: tuple[tuple[str, str], ...] = ()  # (field, why it leaves for this subscriber), as configured


# --- configuration ------------------------------------------------------------------------

# libyaml's safe loader when PyYAML has it: the same documents, a tenth of the time (read three times a run)
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

def load_subscribers(path: str | os.PathLike | None = None) -> dict[str, Subscriber]:
    """Every subscriber of schemas/subscribers.yaml (or of path), checked."""
    source = Path(path) if path else SUBSCRIBERS_YAML
    document = yaml.load(source.read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}
    entries = document.get("subscribers")
    if not isinstance(entries, dict) or not entries:
        raise HandoffError(f"{source.name} lists no subscribers under `subscribers:`")
    return {name: _subscriber(name, entry or {}) for name, entry in entries.items()}


def _subscriber(name: str, entry: dict) -> Subscriber:
    def problem(text: str) -> HandoffError:
        return HandoffError(f"subscriber {name}: {text}")

    unknown_keys = sorted(set(entry) - KEYS)
    if unknown_keys:
        raise problem(f"unknown setting {', '.join(unknown_keys)}")
    mode = entry.get("mode")
    if mode not in MODES:
        raise problem(f"mode must be one of {', '.join(MODES)}")
    population = entry.get("population")
    if population not in POPULATIONS[mode]:
        raise problem(f"population must be one of {', '.join(POPULATIONS[mode])} for {mode}")
    listed = entry.get("fields") or ()
    # a mapping gives each field its one-line reason (schemas/subscribers.yaml); a plain list is accepted too
    reasons = tuple((f, str(why or "").strip()) for f, why in listed.items()) if isinstance(listed, dict) else ()
    fields = tuple(listed)
    allowed = CONBINI_TYPES if mode == "latest_snapshot" else RECORD_TYPES
    unknown = [f for f in fields if f not in allowed]
    if not fields or unknown or len(set(fields)) != len(fields):
        raise problem(f"fields must be distinct names among the known fields (unknown: {', '.join(unknown) or '-'})")
    exclude = tuple(entry.get("exclude") or ())
    if any(r not in EXCLUSION_REASONS for r in exclude) or (exclude and mode != "latest_snapshot"):
        raise problem(f"exclude may only list {', '.join(EXCLUSION_REASONS)}, for latest_snapshot")
    event_types = tuple(entry.get("event_types") or ())
    if mode == "change_feed":
        bad = [t for t in event_types if t not in EVENT_TYPES or t in ("BASELINE", "CANCEL")]
        if not event_types or bad:
            raise problem("event_types must list event types other than BASELINE and CANCEL")
    when_changed = tuple(entry.get("when_changed") or ())
    if any(f not in RECORD_TYPES or f == "address" for f in when_changed):
        raise problem("when_changed must list record fields")
    key_env = entry.get("key_env") or f"JUKI_{name.upper()}_KEY"
    return Subscriber(name=name, mode=mode, target=entry.get("target") or f"outbox/{name}/", fields=fields,
                      population=population, key_env=key_env, description=entry.get("description", ""),
                      exclude=exclude, event_types=event_types, when_changed=when_changed, reasons=reasons)


def _resolve(subscriber: Subscriber | str) -> Subscriber:
    if isinstance(subscriber, Subscriber):
        return subscriber
    subscribers = load_subscribers()
    if subscriber not in subscribers:
        raise HandoffError(f"there is no subscriber {subscriber!r}; known: {', '.join(sorted(subscribers))}")
    return subscribers[subscriber]


def target_uri(subscriber: Subscriber | str, store_root: str | os.PathLike, override: str | None = None) -> str:
    """The target of a subscriber: the override, else its configured URI, relative ones beside the store."""
    target = override or _resolve(subscriber).target
    if "://" in target or os.path.isabs(target):
        return target
    return str(Path(store_root) / target)


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    """Create handoff_ledger when the store does not have it yet."""
    con.execute(LEDGER_SQL.read_text(encoding="utf-8"))


# --- keys and encryption ------------------------------------------------------------------

def key_from_env(variable: str = "JUKI_CONBINI_KEY") -> bytes | None:
    """The 32-byte key given as 64 hex digits in an environment variable; None when it is not set."""
    return key_from_text(variable, os.environ.get(variable, ""))


def key_from_text(variable: str, value: str) -> bytes | None:
    """The 32-byte key of a variable's value (64 hex digits); None when it is empty."""
    value = value.strip()
    if not value:
        return None
    if not re.fullmatch(r"[0-9A-Fa-f]{64}", value):
        # never echo the value: it is the key
        raise HandoffError(f"${variable} must hold exactly 64 hex digits (a 32-byte key), "
                           f"but its {len(value)} characters are not that")
    return bytes.fromhex(value)


def encrypt(data: bytes, key: bytes) -> bytes:
    """A random 12-byte nonce followed by the AES-256-GCM encryption of data (tag appended, no associated data)."""
    _check_key(key)
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, data, None)


def decrypt(blob: bytes, key: bytes) -> bytes:
    """The plaintext of a file written by encrypt (for receivers and tests)."""
    _check_key(key)
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], None)
    except (InvalidTag, ValueError):
        raise HandoffError("the file does not decrypt with this key: wrong key or damaged file") from None


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise HandoffError("the encryption key must be exactly 32 bytes (64 hex digits)")


def _require_key(key: bytes | None, plaintext: bool, key_env: str) -> None:
    """Refuse, before anything is computed or written, to publish personal data unencrypted by accident."""
    if key is None and not plaintext:
        raise KeyMissing(f"no encryption key: set ${key_env} (64 hex digits) or a Prefect Secret, "
                         "or pass --plaintext on purpose")
    if not plaintext:
        _check_key(key)


def _seal(data: bytes, key: bytes | None, plaintext: bool) -> tuple[bytes, str, str]:
    """The bytes to write, the encryption name and the file-name suffix."""
    if plaintext:
        return data, "none", ".parquet"
    return encrypt(data, key), ENCRYPTION, ".parquet.aes"


# --- deterministic Parquet ------------------------------------------------------------------

def parquet_bytes(frame: pl.DataFrame, types: dict[str, pa.DataType]) -> bytes:
    """The frame's columns as Parquet with fixed writer options: the same rows always give the same bytes."""
    schema = pa.schema([pa.field(name, kind) for name, kind in types.items()])
    source = frame.select(list(types)).to_arrow()
    table = pa.Table.from_arrays([source.column(n).cast(t) for n, t in types.items()], schema=schema)
    sink = io.BytesIO()
    pq.write_table(table, sink, version="2.6", compression="zstd", compression_level=3, use_dictionary=True,
                   write_statistics=True, data_page_version="1.0", row_group_size=1_000_000, store_schema=True)
    return sink.getvalue()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- targets ------------------------------------------------------------------------------

def _target(uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, root = fsspec.core.url_to_fs(uri)
    root = root.rstrip("/") or "/"
    fs.makedirs(root, exist_ok=True)
    return fs, root


def _put(fs: fsspec.AbstractFileSystem, path: str, data: bytes) -> None:
    """Write under a hidden temporary name, then move into place (an atomic rename on local disks)."""
    folder, name = path.rsplit("/", 1)
    temporary = f"{folder}/.{name}.{secrets.token_hex(6)}.tmp"
    with fs.open(temporary, "wb") as f:
        f.write(data)
    fs.mv(temporary, path)


def _public_uri(uri: str) -> str:
    # a URI may carry user:password@; the ledger keeps neither. one spelling per target: no trailing slash
    return re.sub(r"(?<=://)[^/@]*@", "", uri).rstrip("/")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _record(con: duckdb.DuckDBPyConnection, **row: Any) -> None:
    ensure_ledger(con)
    con.execute(f"insert into handoff_ledger ({', '.join(row)}) values ({', '.join('$' + k for k in row)})", row)


# --- the convenience-store snapshot (コンビニ交付) ------------------------------------------

def _sql(name: str) -> str:
    return (SQL_DIR / name).read_text(encoding="utf-8")


def _address(record: str | None = None, city_name: str = MUNICIPALITY_PREFIX) -> pl.Expr:
    """The city's name (埼玉県川口市) + town name + address_line (null when the town is unknown)."""
    town = pl.col("town_code") if record is None else pl.col(record).struct.field("town_code")
    line = pl.col("address_line") if record is None else pl.col(record).struct.field("address_line")
    names = town_names()
    return pl.concat_str([pl.lit(city_name),
                          town.replace_strict(list(names), list(names.values()), default=None, return_dtype=pl.String),
                          line])


def conbini_frame(con: duckdb.DuckDBPyConnection, as_of: dt.date, subscriber: Subscriber | str = "conbini",
                  city_name: str | None = None) -> tuple[pl.DataFrame, dict[str, int]]:
    """The snapshot's rows (residents on as_of who are kept, by resident_code) and the excluded counts by reason."""
    sub = _resolve(subscriber)
    define_household_heads(con)
    residents = con.sql(_sql("conbini.sql"), params={"as_of": as_of}).pl()
    flags = {"support_measure": pl.col("support_measure"), "planned_move_out": pl.col("planned_move_out")}
    reason = pl.lit(None, pl.String)
    for name in reversed(sub.exclude):  # the first listed reason wins the count
        reason = pl.when(flags[name]).then(pl.lit(name)).otherwise(reason)
    residents = residents.with_columns(excluded_reason=reason).with_columns(
        household_certificate_blocked=pl.col("excluded_reason").is_not_null().any().over("household_id"),
        address=_address(city_name=city_name or MUNICIPALITY_PREFIX),
    )
    counts = residents["excluded_reason"].value_counts()
    excluded = {name: 0 for name in sub.exclude}
    for name, n in counts.iter_rows():
        if name is not None:
            excluded[name] = int(n)
    kept = residents.filter(pl.col("excluded_reason").is_null()).sort("resident_code").select(sub.fields)
    return kept, excluded


def _manifest_at(fs: fsspec.AbstractFileSystem, root: str) -> dict | None:
    """The parsed manifest.json under root, or None when there is none; ValueError when it is not JSON."""
    path = f"{root}/{MANIFEST}"
    return json.loads(fs.cat_file(path)) if fs.exists(path) else None


def read_manifest(target: str) -> dict | None:
    """The manifest.json of a snapshot target, or None when there is none yet."""
    try:
        manifest = _manifest_at(*_target(target))
        if manifest is None:
            return None
    except ValueError:
        raise HandoffError(f"{MANIFEST} in the target is not JSON; fix or remove it before publishing") from None
    if manifest.get("format") != CONBINI_FORMAT or not isinstance(manifest.get("snapshot_id"), int):
        raise HandoffError(f"{MANIFEST} in the target is not a {CONBINI_FORMAT} manifest")
    return manifest


def publish_conbini(con: duckdb.DuckDBPyConnection, target_uri: str, as_of: dt.date, key: bytes | None,
                    plaintext: bool, run_id: str, subscriber: Subscriber | str = "conbini",
                    delivery_no: int | None = None, settle: bool = True, city_name: str | None = None) -> dict:
    """Publish the snapshot for as_of (intent, data file, manifest.json, ledger rows, old file deleted); the manifest.

    `delivery_no` is the newest applied delivery the snapshot reflects (default: the newest dated on or before
    as_of, so a re-issue as of an older date leaves the watermark where it is); the snapshot's watermark moves
    to it, never back, in the transaction that writes the ledger row. `settle=False` stops
    after the manifest, as a process killed there would (the replay of a run that crashed there). `city_name`
    begins the addresses (default: the synthetic city's, 埼玉県川口市)."""
    from tasks import snapshot_writer

    sub = _resolve(subscriber)
    _require_key(key, plaintext, sub.key_env)
    ensure_ledger(con)
    settle_intents(con, sub, target_uri, run_id)
    encryption, suffix = ("none", ".parquet") if plaintext else (ENCRYPTION, ".parquet.aes")
    fs, root = _target(target_uri)
    previous = read_manifest(target_uri)
    recorded = _last_sequence(con, sub, target_uri)
    snapshot_id = max(previous["snapshot_id"] if previous else 0, recorded) + 1
    name = f"residents-{snapshot_id}{suffix}"
    # streamed from DuckDB into the target's temporary file: the same bytes conbini_frame + parquet_bytes give
    query, params = snapshot_writer.conbini_query(sub.fields, sub.exclude, town_names(),
                                                  city_name or MUNICIPALITY_PREFIX)
    temporary = f"{root}/.{name}.{secrets.token_hex(6)}.tmp"

    residents = residents_on(con, as_of)

    def write(memory: str | None) -> snapshot_writer.Written:
        with fs.open(temporary, "wb") as out:
            return snapshot_writer.write_snapshot(con, query, {**params, "as_of": as_of},
                                                  {f: CONBINI_TYPES[f] for f in sub.fields}, out,
                                                  None if plaintext else key, sub.exclude, memory, at_most=residents)

    try:
        written = write(snapshot_writer.SNAPSHOT_MEMORY)
    except duckdb.OutOfMemoryException:
        # a register larger than the limit was chosen for: once more without it (spilling less, never failing)
        log.warning("the convenience-store snapshot needed more than %s of DuckDB memory; written again "
                    "without that limit", snapshot_writer.SNAPSHOT_MEMORY)
        written = write(None)
    excluded = written.excluded
    created = _utc_now()
    manifest = {
        "format": CONBINI_FORMAT,
        "snapshot_id": snapshot_id,
        "previous_snapshot_id": previous["snapshot_id"] if previous else None,
        "as_of": as_of.isoformat(),
        "created_at": created.isoformat(),
        "file": name,
        "encryption": encryption,
        "file_sha256": written.file_sha256,
        "rows": written.rows,
        "sha256": written.sha256,
        "excluded": excluded,
    }
    reflects = delivery_as_of(con, as_of) if delivery_no is None else delivery_no
    try:
        _begin_intent(con, sub, target_uri, snapshot_id, reflects, manifest, run_id)
        fs.mv(temporary, f"{root}/{name}")
    except BaseException:
        if fs.exists(temporary):  # written before the intent: nobody may see it now
            fs.rm_file(temporary)
        raise
    fault("after-data-file")
    _put(fs, f"{root}/{MANIFEST}", json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
    fault("after-target-swap")
    if not settle:
        return manifest
    _settle(con, sub, target_uri, manifest, reflects, run_id)
    _clear_old_snapshots(fs, root, name)
    return manifest


def residents_on(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> int:
    """How many residents the register holds on as_of (conbini.sql's rows), from four narrow columns."""
    return con.execute("select count(*) from resident_version where recorded_to is null and status = 'current' "
                       "and valid_from <= $d and (valid_to is null or valid_to > $d)", {"d": as_of}).fetchall()[0][0]


def _clear_old_snapshots(fs: fsspec.AbstractFileSystem, root: str, name: str) -> None:
    # only once the manifest names the new file may the old one go; leftovers of an interrupted publish with it
    for path in fs.ls(root, detail=False):
        base = path.rstrip("/").rsplit("/", 1)[-1]
        stale_temporary = base.startswith((".residents-", f".{MANIFEST}.")) and base.endswith(".tmp")
        if (base.startswith("residents-") and base != name) or stale_temporary:
            fs.rm_file(path)


# --- intents: a publish recorded before the target can show it ----------------------------------

def _last_sequence(con: duckdb.DuckDBPyConnection, sub: Subscriber, target: str) -> int:
    (last,) = con.execute("select coalesce(max(sequence_no), 0) from handoff_ledger where subscriber = $s "
                          "and target = $t", {"s": sub.name, "t": _public_uri(target)}).fetchall()[0]
    return last


def newest_delivery(con: duckdb.DuckDBPyConnection) -> int:
    """The newest applied delivery (0 when none): what an output that is up to date reflects."""
    return con.execute("select coalesce(max(delivery_no), 0) from file_ledger where status = 'applied'"
                       ).fetchall()[0][0]


def delivery_as_of(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> int:
    """The newest applied delivery dated on or before as_of (0 when none): what a snapshot as of that day reflects."""
    return con.execute("select coalesce(max(delivery_no), 0) from file_ledger where status = 'applied' "
                       "and business_date <= ?", [as_of]).fetchall()[0][0]


def _begin_intent(con: duckdb.DuckDBPyConnection, sub: Subscriber, target: str, sequence_no: int, delivery_no: int,
                  header: dict, run_id: str, entries: list[str] | None = None) -> None:
    """The intent row and, for a feed file, the event ids of its rows (feed_entry), in one transaction."""
    from tasks import receipts  # receipts imports this module

    ensure_publish_tables(con)
    if entries is not None:
        receipts.ensure_tables(con)
    con.begin()
    try:
        con.execute("insert into handoff_intent values ($s, $t, $n, $d, $h, $r, $at)",
                    {"s": sub.name, "t": _public_uri(target), "n": sequence_no, "d": delivery_no,
                     "h": json.dumps(header, ensure_ascii=False), "r": run_id,
                     "at": _utc_now().replace(tzinfo=None)})
        if entries is not None:
            receipts.record_entries(con, sub.name, sequence_no, entries,
                                    {r["event_id"] for r in header.get("resent") or []})
        con.commit()
    except BaseException:
        con.rollback()
        raise
    fault("after-intent")


def _settle(con: duckdb.DuckDBPyConnection, sub: Subscriber, target: str, header: dict, delivery_no: int,
            run_id: str) -> None:
    """In one transaction: the ledger row, the disclosure row, the watermark, and the intent gone."""
    from tasks import disclosure, receipts  # both import this module

    con.begin()
    try:
        _record_published(con, sub, target, header, run_id)
        if sub.mode == "change_feed":
            receipts.record_resends(con, sub.name, header, run_id)
        disclosure.log_publish(con, sub, header, run_id)
        move_watermark(con, output_name(sub), target, delivery_no, run_id)
        con.execute("delete from handoff_intent where subscriber = $s and target = $t and sequence_no = $n",
                    {"s": sub.name, "t": _public_uri(target), "n": _sequence_of(header)})
        con.commit()
    except BaseException:
        con.rollback()
        raise
    fault("after-handoff-ledger")


def _sequence_of(header: dict) -> int:
    return header["snapshot_id"] if "snapshot_id" in header else header["sequence_no"]


def _record_published(con: duckdb.DuckDBPyConnection, sub: Subscriber, target: str, header: dict, run_id: str) -> None:
    if sub.mode == "change_feed":
        _record_feed(con, sub, target, header, run_id)
        return
    _record(con, subscriber=sub.name, mode=sub.mode, target=_public_uri(target), sequence_no=header["snapshot_id"],
            previous_no=header["previous_snapshot_id"], as_of=dt.date.fromisoformat(header["as_of"]),
            business_date=None, rows=header["rows"], file_name=header["file"], file_sha256=header["file_sha256"],
            data_sha256=header["sha256"], encryption=header["encryption"], excluded=json.dumps(header["excluded"]),
            published_at=_naive_utc(header["created_at"]), run_id=run_id)


def _naive_utc(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment


def settle_intents(con: duckdb.DuckDBPyConnection, subscriber: Subscriber | str, target_uri: str,
                   run_id: str) -> list[dict]:
    """Publishes a process began and did not finish: delivered (recorded now) when the target names the file,
    else undone (the data file removed). The headers of those found delivered, status published."""
    sub = _resolve(subscriber)
    ensure_ledger(con)
    ensure_publish_tables(con)
    pending = con.execute("select sequence_no, delivery_no, header, run_id from handoff_intent where subscriber = $s "
                          "and target = $t order by sequence_no",
                          {"s": sub.name, "t": _public_uri(target_uri)}).fetchall()
    fs, root = _target(target_uri)
    if not pending:
        if sub.mode == "latest_snapshot" and fs.exists(f"{root}/{MANIFEST}"):
            # killed after the ledger row, before the old snapshot was deleted: delete it now
            _clear_old_snapshots(fs, root, (read_manifest(target_uri) or {}).get("file", ""))
        return []
    delivered = []
    for sequence_no, delivery_no, text, begun_by in pending:
        header = json.loads(text)
        if _target_names(fs, root, sub, header):
            _settle(con, sub, target_uri, header, delivery_no, run_id)
            if sub.mode == "latest_snapshot":
                _clear_old_snapshots(fs, root, header["file"])
            # who wrote the file and what it reflects: the replay has that run write it again, unsettled
            delivered.append({**header, "status": "published", "settled": True,
                              "intent": {"run_id": begun_by, "delivery_no": delivery_no}})
            continue
        data = f"{root}/{header['file']}"
        if fs.exists(data):  # written, never named: the subscriber cannot have taken it
            fs.rm_file(data)
        if sub.mode == "change_feed":
            from tasks import receipts

            receipts.forget_entries(con, sub.name, sequence_no)
        con.execute("delete from handoff_intent where subscriber = $s and target = $t and sequence_no = $n",
                    {"s": sub.name, "t": _public_uri(target_uri), "n": sequence_no})
    return delivered


def _target_names(fs: fsspec.AbstractFileSystem, root: str, sub: Subscriber, header: dict) -> bool:
    """Whether the target shows the file: the manifest names it, or the feed header beside it is there."""
    if sub.mode == "latest_snapshot":
        try:
            manifest = _manifest_at(fs, root) or {}
        except ValueError:
            return False
        return manifest.get("snapshot_id") == header["snapshot_id"] and manifest.get("file") == header["file"]
    return fs.exists(f"{root}/{header['file'].split('.', 1)[0]}.json")


# --- watermarks: what each output has taken from the register --------------------------------------

def ensure_publish_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create publish_watermark and handoff_intent when the store does not have them yet."""
    con.execute(PUBLISH_SQL.read_text(encoding="utf-8"))


def output_name(sub: Subscriber) -> str:
    return f"{'feed' if sub.mode == 'change_feed' else 'snapshot'}:{sub.name}"


def move_watermark(con: duckdb.DuckDBPyConnection, output: str, target: str, delivery_no: int, run_id: str) -> None:
    """Record that an output now reflects every applied delivery up to delivery_no (call inside its transaction)."""
    ensure_publish_tables(con)
    con.execute("insert into publish_watermark select $o, $t, $d, (select business_date from file_ledger "
                "where delivery_no = $d), $r, $at",
                {"o": output, "t": _public_uri(target), "d": delivery_no, "r": run_id,
                 "at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)})


def record_statistics_written(con: duckdb.DuckDBPyConnection, target: str, business_date: dt.date,
                              run_id: str) -> None:
    """Record the knowledge a date's statistics files were just written with (call inside its transaction)."""
    ensure_publish_tables(con)
    con.execute("insert into statistics_written select $t, $d, delivery_no, received_at, $r from file_ledger "
                "where status = 'applied' order by delivery_no desc limit 1",
                {"t": _public_uri(target), "d": business_date, "r": run_id})


def statistics_first_written(con: duckdb.DuckDBPyConnection, target: str) -> dict[dt.date, dt.datetime]:
    """Each written date's first writing: the knowledge (known_at) its files were first written with."""
    ensure_publish_tables(con)
    return dict(con.execute("select business_date, min(known_at) from statistics_written where target = $t "
                            "group by business_date", {"t": _public_uri(target)}).fetchall())


def statistics_known_at(con: duckdb.DuckDBPyConnection, target: str, business_date: dt.date) -> dt.datetime | None:
    """What the register knew when a date's statistics files were last written; None when not recorded."""
    ensure_publish_tables(con)
    (known,) = con.execute("select arg_max(known_at, delivery_no) from statistics_written where target = $t "
                           "and business_date = $d", {"t": _public_uri(target), "d": business_date}).fetchall()[0]
    return known


def watermark(con: duckdb.DuckDBPyConnection, output: str, target: str) -> int:
    """The newest applied delivery the output reflects; for a store from before watermarks, read off its ledgers."""
    ensure_publish_tables(con)
    ensure_ledger(con)
    t = _public_uri(target)
    (mark,) = con.execute("select max(delivery_no) from publish_watermark where output = $o and target = $t",
                          {"o": output, "t": t}).fetchall()[0]
    if mark is not None:
        return mark
    kind, _, name = output.partition(":")
    if kind == "feed":  # the deliveries of the business dates already sent
        sql = ("select max(f.delivery_no) from file_ledger as f where f.status = 'applied' and f.business_date in "
               "(select business_date from handoff_ledger where subscriber = $n and target = $t)")
    elif kind == "snapshot":
        sql = ("select max(f.delivery_no) from file_ledger as f where f.status = 'applied' and f.business_date <= "
               "(select max(as_of) from handoff_ledger where subscriber = $n and target = $t)")
    else:  # statistics: the deliveries of runs that finished (they wrote their dates' files)
        sql = ("select max(f.delivery_no) from file_ledger as f join run_ledger as r on r.run_id = f.run_id "
               "where f.status = 'applied' and r.status in ('completed', 'failed') and $n = $n and $t = $t")
    (legacy,) = con.execute(sql, {"n": name, "t": t}).fetchall()[0]
    return legacy or 0


def deliveries_on(con: duckdb.DuckDBPyConnection, business_date: dt.date) -> list[int]:
    """The applied deliveries of a business date, in order (a date may have several files)."""
    return [d for (d,) in con.execute("select delivery_no from file_ledger where status = 'applied' "
                                      "and business_date = ? order by delivery_no", [business_date]).fetchall()]


def pending_deliveries(con: duckdb.DuckDBPyConnection, output: str, target: str,
                       until: int | None = None) -> list[tuple[int, dt.date]]:
    """(delivery_no, business_date) of the applied deliveries past the output's watermark, up to `until`, in order."""
    mark = watermark(con, output, target)
    return [(d, day) for d, day in con.execute(
        "select delivery_no, business_date from file_ledger where status = 'applied' and delivery_no > $m "
        "and ($u is null or delivery_no <= $u) order by delivery_no", {"m": mark, "u": until}).fetchall()]


# --- change feeds ---------------------------------------------------------------------------

def honseki_here(record: pl.Expr, city_name: str) -> pl.Expr:
    """Whether a record's 本籍 is in this city (管内本籍人): its text, spaces removed, starts with the city's name."""
    honseki = record.struct.field("honseki").str.replace_all(r"\s", "")
    return honseki.str.starts_with(re.sub(r"\s", "", city_name))


def _in_population(population: str, record: pl.Expr, city_name: str) -> pl.Expr:
    """Whether a record (a struct column) belongs to a routed feed's persons: Japanese with the 本籍 here or not."""
    japanese = record.struct.field("nationality") == "JP"
    honseki = record.struct.field("honseki").str.replace_all(r"\s", "")
    here = honseki_here(record, city_name)
    if population == "honseki_here":
        return (japanese & here).fill_null(False)
    return (japanese & (honseki != "") & ~here).fill_null(False)


def feed_frame(con: duckdb.DuckDBPyConnection, subscriber: Subscriber | str, delivery_no: int,
               resend: tuple[str, ...] = (), city_name: str | None = None,
               events_seen: dict | None = None) -> pl.DataFrame:
    """The rows of a subscriber's feed file for one applied delivery (entry columns, then its fields), with the
    events in `resend` (rows the receiver answered with an error) again, in ledger order.

    `city_name` decides 管内本籍人 for the feeds routed by 本籍 (default: the synthetic city's, 埼玉県川口市).
    `events_seen` keeps the delivery's events for the next feed of the same publish (see feed_events)."""
    sub = _resolve(subscriber)
    city = city_name or MUNICIPALITY_PREFIX
    events = feed_events(con, delivery_no, resend, events_seen)
    after, before = pl.col("after").struct, pl.col("before").struct
    known = after.field("resident_code").is_not_null()
    if sub.when_changed:
        changed = pl.any_horizontal([before.field(f).ne_missing(after.field(f)) for f in sub.when_changed])
    else:
        changed = pl.lit(True)
    if sub.population in ROUTED:  # sent to the 本籍地 before the event and the one after it (a 本籍 that moves)
        population = (_in_population(sub.population, pl.col("before"), city)
                      | _in_population(sub.population, pl.col("after"), city))
    else:
        population = {
            "all": pl.lit(True),
            "japanese": after.field("nationality") == "JP",
            "foreign": (after.field("nationality") != "JP") | (before.field("nationality") != "JP"),
        }[sub.population].fill_null(False)
    # cancelled by the time it is sent: in its own delivery, or a plan cancelled (or confirmed) before its date
    undone_before_sent = (pl.col("cancelled_in") <= pl.col("sent_in")).fill_null(False)
    sent = (pl.col("event_type").is_in(sub.event_types) & known & ~undone_before_sent & population
            & (pl.col("event_type").is_in(ADDING + REMOVING) | changed))
    events = events.with_columns(sent=sent)
    targets = events.select(cancels_event_id="event_id", target_sent="sent")
    resent = pl.col("event_id").is_in(list(resend))
    unit = events.filter((pl.col("sent_in") == delivery_no) | resent).join(
        targets, on="cancels_event_id", how="left", maintain_order="left")
    is_cancel = pl.col("event_type") == "CANCEL"
    entries = unit.filter(
        pl.when(resent).then(True)
        .when(is_cancel)
        .then(pl.col("target_sent").fill_null(False) & (pl.col("target_sent_in") < delivery_no).fill_null(False))
        .otherwise(pl.col("sent"))
    ).rename({"now": "record"}).with_row_index("at")
    # 住民票コードの変更: a receiver keyed by the code first loses the code given up (a row with no record, as
    # when no record is left), then holds the person under the code in force — in the columns every row has
    given_up = entries.filter(pl.col("event_type") == "RESIDENT_CODE_CHANGE").with_columns(
        resident_code=pl.coalesce(pl.col("before").struct.field("new_resident_code"), pl.col("resident_code")),
        record=pl.lit(None, entries.schema["record"]))
    entries = pl.concat([given_up.with_columns(then=pl.lit(0)), entries.with_columns(then=pl.lit(1))]).sort("at", "then")
    # the code in force, from the event when no record is left (a cancelled addition, a code given up)
    entries = entries.with_columns(code_in_force=pl.coalesce(pl.col("record").struct.field("new_resident_code"),
                                                             pl.col("resident_code")))
    if sub.population in ROUTED:
        # a person whose 附票 this subscriber no longer keeps (本籍 moved, 国籍喪失) gets a row with no record:
        # the receiver drops them, and learns nothing of where they went
        entries = entries.with_columns(
            record=pl.when(_in_population(sub.population, pl.col("record"), city)).then(pl.col("record")))
    record = pl.col("record").struct
    columns: dict[str, pl.Expr] = {}
    for f in sub.fields:
        if f == "resident_code":  # from the event: a cancelled addition leaves no record to take it from
            columns[f] = pl.col("code_in_force")
        elif f == "address":
            columns[f] = _address("record", city)
        else:
            columns[f] = record.field(f)
    return entries.select(
        entry_no=pl.int_range(1, pl.len() + 1, dtype=pl.Int64),
        **{c: pl.col(c) for c in ENTRY_TYPES if c not in ("entry_no", "record_status")},
        record_status=record.field("status"),
        **columns,
    )


def feed_events(con: duckdb.DuckDBPyConnection, delivery_no: int, resend: tuple[str, ...] = (),
                seen: dict | None = None) -> pl.DataFrame:
    """The events of a delivery with their records (feed_events.sql), once per publish when `seen` is given.

    Every feed of one delivery reads the same events, and publishing writes only ledgers, never the register,
    so a publish of several feeds asks DuckDB once (each asking cost a scan of every event and version). A large
    delivery (a BASELINE) is read again for each feed: several of those held at once would cost more memory than
    the seconds saved."""
    key = (delivery_no, tuple(resend))
    if seen is not None and key in seen:
        return seen[key]
    events = con.sql(_sql("feed_events.sql"), params={"delivery_no": delivery_no, "resend": list(resend)}).pl()
    # the cap is over every delivery kept: a catch-up over many days' deliveries keeps no more than one large one
    if seen is not None and events.height + sum(kept.height for kept in seen.values()) <= EVENTS_KEPT:
        seen[key] = events
    return events


def feed_types(sub: Subscriber) -> dict[str, pa.DataType]:
    return {**ENTRY_TYPES, **{f: RECORD_TYPES[f] for f in sub.fields}}


def _feed_header(sub: Subscriber, seq: int, prev: int | None, business_date: dt.date, delivery_no: int,
                 created: dt.datetime, name: str, encryption: str, file_sha256: str, rows: int, sha256: str) -> dict:
    return {
        "format": FEED_FORMAT,
        "subscriber": sub.name,
        "sequence_no": seq,
        "previous_sequence_no": prev,
        "business_date": business_date.isoformat(),
        "delivery_no": delivery_no,
        "created_at": created.isoformat(),
        "file": name,
        "encryption": encryption,
        "file_sha256": file_sha256,
        "rows": rows,
        "sha256": sha256,
        "fields": list(feed_types(sub)),
    }


def _feed_headers_in_target(fs: fsspec.AbstractFileSystem, root: str) -> dict[int, dt.date]:
    found = {}
    for path in fs.ls(root, detail=False):
        match = FEED_NAME.match(path.rstrip("/").rsplit("/", 1)[-1])
        if match:
            found[int(match["seq"])] = dt.datetime.strptime(match["date"], "%Y%m%d").date()
    return found


def publish_feed(con: duckdb.DuckDBPyConnection, subscriber: Subscriber | str, target_uri: str,
                 delivery_no: int, key: bytes | None, plaintext: bool, run_id: str,
                 city_name: str | None = None, settle: bool = True, events_seen: dict | None = None) -> dict:
    """Publish a feed's file for the next applied delivery past its watermark: its header, status published.

    The rows carry each person's record as the register knows it now (so a receiver applying the files in
    order ends with the register's records), beside the event's own dates. `settle=False` stops after the
    header, as a process killed there would (the replay of a run that crashed there). `events_seen`: one dict
    for the feeds of one publish (feed_events)."""
    sub = _resolve(subscriber)
    if sub.mode != "change_feed":
        raise HandoffError(f"subscriber {sub.name} is not a change feed")
    ensure_ledger(con)
    settle_intents(con, sub, target_uri, run_id)
    row = con.execute("select business_date from file_ledger where delivery_no = ? and status = 'applied'",
                      [delivery_no]).fetchall()
    if not row:
        raise HandoffError(f"delivery {delivery_no} is not an applied change file; nothing to publish")
    if delivery_no <= watermark(con, output_name(sub), target_uri):
        raise HandoffError(f"delivery {delivery_no} was already published to {sub.name}; a row is never sent twice")
    _require_key(key, plaintext, sub.key_env)
    business_date = row[0][0]

    from tasks import receipts

    resends = receipts.due_resends(con, sub.name)
    frame = feed_frame(con, sub, delivery_no, tuple(dict.fromkeys(r["event_id"] for r in resends)), city_name,
                       events_seen)
    data = parquet_bytes(frame, feed_types(sub))
    blob, encryption, suffix = _seal(data, key, plaintext)
    fs, root = _target(target_uri)
    previous = max([_last_sequence(con, sub, target_uri), *_feed_headers_in_target(fs, root)]) or None
    seq = (previous or 0) + 1
    stem = f"{FEED_PREFIX}{seq:08d}-{business_date:%Y%m%d}"
    header = _feed_header(sub, seq, previous, business_date, delivery_no, _utc_now(), stem + suffix, encryption,
                          _sha256(blob), frame.height, _sha256(data))
    header["resent"] = resends
    _begin_intent(con, sub, target_uri, seq, delivery_no, header, run_id, frame["event_id"].to_list())
    _put(fs, f"{root}/{stem}{suffix}", blob)
    fault("after-data-file")
    _put(fs, f"{root}/{stem}.json", json.dumps(header, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
    fault("after-target-swap")
    if settle:
        _settle(con, sub, target_uri, header, delivery_no, run_id)
    return {**header, "status": "published"}


def _record_feed(con: duckdb.DuckDBPyConnection, sub: Subscriber, target: str, header: dict, run_id: str) -> None:
    _record(con, subscriber=sub.name, mode=sub.mode, target=_public_uri(target), sequence_no=header["sequence_no"],
            previous_no=header["previous_sequence_no"], as_of=None,
            business_date=dt.date.fromisoformat(header["business_date"]), rows=header["rows"],
            file_name=header["file"], file_sha256=header["file_sha256"], data_sha256=header["sha256"],
            encryption=header["encryption"], excluded=None, published_at=_naive_utc(header["created_at"]),
            run_id=run_id)
