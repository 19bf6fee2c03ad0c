"""The register's canonical digest: the same state gives the same digest, any change another."""

from __future__ import annotations

from juki_core.store import connect
from tasks.audit import register_digest
from tests.builders import event, person, resident_code, write_file


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
    before = register_digest(register.con)
    register.con.execute("update resident_version set alias_name = '' where version_no = 1 and recorded_to is null "
                         "and resident_code = $c", {"c": resident_code(1)})
    assert register_digest(register.con) != before
