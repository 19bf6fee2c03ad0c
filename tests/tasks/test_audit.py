"""The register's canonical digest: the same state gives the same digest, any change another."""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tasks.validate_rows
from juki_core.store import connect
from tasks.audit import SUM_PREFIX, digest_like, history_digests, is_legacy, register_digest, register_rows_sql, rows_digest
from tests.builders import event, person, resident_code, write_file
from tests.conftest import Register
from tests.test_properties import BASELINE_DAY, baseline_rows, generate, no_row_violations


def _files(folder):
    return [write_file(folder, "2026-04-01", [event("B1", "BASELINE", "2000-01-01", "2026-04-01", **person(1)),
                                              event("B2", "BASELINE", "2000-01-01", "2026-04-01", **person(2))]),
            write_file(folder, "2026-04-02", [event("M1", "MOVE_WITHIN", "2026-04-02", resident_code=resident_code(2),
                                                    town_code="0003", address_line="5-5")])]


def test_two_registers_built_from_the_same_files_have_the_same_digest(register, tmp_path):
    """Write times and storage order do not enter the digest."""
    register.ingest(*_files(register.inbox))
    other_root = tmp_path / "other"
    other_root.mkdir()
    other = connect(other_root / "registry.duckdb")
    from tasks.ingest import ingest_file

    for path in _files(other_root):
        ingest_file(other, str(path), str(other_root / "archive"), "112038", 0.5, "other-run")
    assert register_digest(register.con) == register_digest(other)


def test_any_change_of_a_record_changes_the_digest(register):
    """One changed value, even set to null, gives another digest."""
    register.ingest(*_files(register.inbox))
    before = register_digest(register.con, full=True)
    register.con.execute("update resident_version set alias_name = '' where version_no = 1 and recorded_to is null "
                         "and resident_code = $c", {"c": resident_code(1)})
    assert register_digest(register.con, full=True) != before


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(rnd=st.randoms(use_true_random=False), steps=st.integers(min_value=3, max_value=24))
def test_the_digest_kept_per_batch_equals_a_full_recomputation_after_every_batch(rnd, steps):
    """Late events, removals and cancellations rewrite histories; the kept sums follow every batch exactly."""
    _, planned = generate(rnd, steps)
    days = sorted({e.day for e in planned})
    batches = [(BASELINE_DAY, baseline_rows())] + [
        (BASELINE_DAY + dt.timedelta(days=d), [e.row for e in planned if e.day == d]) for d in days]
    with tempfile.TemporaryDirectory() as tmp, \
            mock.patch.object(tasks.validate_rows, "row_violations", no_row_violations):
        register = Register(Path(tmp))
        moments = {}
        try:
            for business_date, rows in batches:
                register.ingest(write_file(register.inbox, business_date.isoformat(), rows))
                kept = register_digest(register.con)
                assert kept.startswith(SUM_PREFIX)
                assert kept == register_digest(register.con, full=True)
                hashes = [h for (h,) in register.rows(f"select row_hash from ({register_rows_sql()})", known_at=None)]
                assert kept == rows_digest(hashes)
                moments[dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)] = kept
            # the replay's one pass over the history gives each batch's digest as known right after it
            assert history_digests(register.con, list(moments)) == moments
            first = min(moments) - dt.timedelta(days=1)
            assert history_digests(register.con, [first]) == {first: register_digest(register.con, first)}
        finally:
            register.con.close()


def test_a_store_without_kept_sums_fills_them_from_the_register_once(register):
    """A store written before the per-batch sums: the first digest asked for recomputes and keeps them."""
    register.ingest(*_files(register.inbox))
    full = register_digest(register.con, full=True)
    register.con.execute("delete from register_digest_state")
    assert register_digest(register.con) == full
    assert register.rows("select row_count from register_digest_state") == [(3,)]


def test_the_legacy_digest_is_the_sha256_of_the_sorted_row_hashes(register):
    """Runs recorded before the per-batch sums are verified with their own definition, unchanged."""
    register.ingest(*_files(register.inbox))
    hashes = sorted(h for (h,) in register.rows(f"select row_hash from ({register_rows_sql()})", known_at=None))
    legacy = hashlib.sha256("".join(hashes).encode("ascii")).hexdigest()
    assert register_digest(register.con, legacy=True) == legacy == digest_like(register.con, legacy)
    assert is_legacy(legacy) and not is_legacy(register_digest(register.con))
    assert digest_like(register.con, register_digest(register.con)) == register_digest(register.con)
