"""The register's SQL invariants: silent on a healthy register, loud on a broken one."""

from __future__ import annotations

from tasks.check import broken_invariants
from tests.builders import event, person, resident_code, write_file


def _two_days(register):
    register.ingest(
        write_file(register.inbox, "2026-04-01", [event("B1", "BASELINE", "2000-01-01", "2026-04-01", **person(1))]),
        write_file(register.inbox, "2026-04-02", [
            event("M1", "MOVE_WITHIN", "2026-04-02", resident_code=resident_code(1), town_code="0002",
                  address_line="1-1"),
            event("X1", "DEATH", "2026-04-02", resident_code=resident_code(5)),
        ]),
    )


def test_healthy_register_breaks_no_invariant(register):
    """After applying and quarantining, every invariant holds."""
    _two_days(register)
    assert broken_invariants(register.con) == {}


def test_a_miscounted_delivery_breaks_accounting(register):
    """A ledger count that does not match its rows is reported by name."""
    _two_days(register)
    register.con.execute("update file_ledger set rows_quarantined = 0 where delivery_no = 2")
    assert broken_invariants(register.con) == {"accounting": 1}


def test_a_gap_in_a_version_chain_is_reported(register):
    """A version whose valid_to is not the next valid_from breaks the chain invariant."""
    _two_days(register)
    register.con.execute("update resident_version set valid_to = date '2026-04-05' "
                         "where recorded_to is null and version_no = 1")
    assert broken_invariants(register.con) == {"version_chains": 1}
