"""A reference receiver for the convenience-store snapshot, reading while the pipeline publishes.

It stands in for the certificate server (証明発行サーバ): it reads only through manifest.json — the
manifest, then the file it names — verifies file_sha256, decrypts and verifies sha256. Every
assertion below holds for every interleaving of reader and publisher.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq

from tasks.handoff import decrypt, publish_conbini
from tests.builders import event, person, resident_code, write_file

R = resident_code
KEY = bytes.fromhex("8f" * 32)
PEOPLE = range(1, 41)
START = dt.date(2026, 4, 1)
PUBLISHES = 100
# deaths notified late in one file of 2026-04-20: person n died on 2026-04-(n+1)
DEATHS = {n: START + dt.timedelta(days=n) for n in range(1, 19)}
LATE_DEATH = (30, dt.date(2026, 4, 5))  # recorded only between publish 49 and 50


class Superseded(Exception):
    """The file a manifest named was gone: a newer manifest has replaced it."""


def read_snapshot(target: Path, key: bytes) -> tuple[dict, set[str]]:
    """Read through manifest.json only: the manifest and the resident codes of the verified file it names."""
    manifest = json.loads((target / "manifest.json").read_bytes())
    assert manifest["format"] == "juki-conbini/1"
    try:
        blob = (target / manifest["file"]).read_bytes()
    except FileNotFoundError:
        raise Superseded(manifest["snapshot_id"]) from None
    assert hashlib.sha256(blob).hexdigest() == manifest["file_sha256"], "half-written or foreign data file"
    plain = decrypt(blob, key)
    assert hashlib.sha256(plain).hexdigest() == manifest["sha256"]
    table = pq.read_table(io.BytesIO(plain))
    assert table.num_rows == manifest["rows"]
    return manifest, set(table.column("resident_code").to_pylist())


def poll(target: Path, key: bytes, stop: threading.Event, final: list[int], seen: dict[int, set[str]],
         log: list[str], errors: list[BaseException]) -> None:
    """Read snapshots until told to stop (final then holds the last snapshot id) and that one has been read."""
    last = 0
    try:
        while True:
            if not (target / "manifest.json").exists():
                if stop.is_set():
                    return
                time.sleep(0.0005)
                continue
            try:
                manifest, residents = read_snapshot(target, key)
            except Superseded as gone:
                # the only allowed reason for a missing file: the manifest has moved on
                newer = json.loads((target / "manifest.json").read_bytes())["snapshot_id"]
                assert newer > gone.args[0], "the file named by the current manifest is missing"
                log.append("superseded")
                continue
            snapshot = manifest["snapshot_id"]
            assert snapshot >= last, "snapshots went backwards"
            assert seen.setdefault(snapshot, residents) == residents
            last = snapshot
            log.append("read")
            if stop.is_set() and last >= final[0]:
                return
    except BaseException as exc:  # reported to the test thread
        errors.append(exc)


def expected(as_of: dt.date, late_death_known: bool) -> set[str]:
    """Who the snapshot must hold, from the scenario alone (not from the register)."""
    dead = {n for n, died in DEATHS.items() if died <= as_of}
    if late_death_known and LATE_DEATH[1] <= as_of:
        dead.add(LATE_DEATH[0])
    return {R(n) for n in PEOPLE if n not in dead}


def test_a_polling_reader_never_sees_a_broken_or_stale_snapshot(register, tmp_path):
    """100 publishes in a row while a thread reads: always a whole, verified snapshot without the removed."""
    register.ingest(write_file(register.inbox, "2026-04-01", [
        event(f"b{n}", "BASELINE", "2020-01-01", "2026-04-01", **person(n, household_id=f"H{n}")) for n in PEOPLE]))
    register.ingest(write_file(register.inbox, "2026-04-20", [
        event(f"d{n}", "DEATH", died.isoformat(), "2026-04-20", resident_code=R(n)) for n, died in DEATHS.items()]))
    target = tmp_path / "outbox" / "conbini"
    stop, final = threading.Event(), []
    seen: dict[int, set[str]] = {}
    log: list[str] = []
    errors: list[BaseException] = []
    reader = threading.Thread(target=poll, args=(target, KEY, stop, final, seen, log, errors), daemon=True)
    reader.start()

    published: dict[int, set[str]] = {}
    late_death_known = False
    try:
        for k in range(PUBLISHES):
            if k == 50:  # the register changes between two publishes
                (outcome,) = register.ingest(write_file(register.inbox, "2026-04-21", [event(
                    "late", "DEATH", LATE_DEATH[1].isoformat(), "2026-04-21", resident_code=R(LATE_DEATH[0]))]))
                assert outcome.rows_applied == 1, register.quarantine()
                late_death_known = True
            as_of = START + dt.timedelta(days=k // 5)
            manifest = publish_conbini(register.con, str(target), as_of, KEY, False, f"run{k}")
            assert manifest["snapshot_id"] == k + 1
            published[manifest["snapshot_id"]] = expected(as_of, late_death_known)
            assert sorted(p.name for p in target.iterdir() if not p.name.startswith(".")) == [
                "manifest.json", manifest["file"]]
    finally:
        final.append(max(published, default=0))
        stop.set()
        reader.join(timeout=30)

    assert not reader.is_alive() and not errors, errors
    assert PUBLISHES in seen and log.count("read") >= 1
    for snapshot, residents in seen.items():
        # exactly what was published then: nobody removed before that publish, nobody missing
        assert residents == published[snapshot], snapshot
    assert R(LATE_DEATH[0]) not in seen[PUBLISHES] and R(1) not in seen[PUBLISHES]
