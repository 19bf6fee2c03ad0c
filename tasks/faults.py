"""Named step boundaries of a run, where a test can kill the process to prove the next run recovers.

`JUKI_FAULT=<boundary>` (or `<boundary>#<n>` for its n-th passing) makes the process SIGKILL itself there.
It is honoured only inside a test (pytest sets PYTEST_CURRENT_TEST, which a child process inherits), so a
stray variable in production does nothing.
"""

from __future__ import annotations

import collections
import os
import signal

# every boundary a daily run passes, in order; tests/tasks/test_faults.py kills a run at each one
BOUNDARIES = (
    "after-start",              # the run ledger row says running (runs left running by a dead process closed)
    "after-land",               # the file is in the archive, nothing recorded
    "after-apply",              # the file's transaction committed
    "after-invariants",         # the invariant checks ran
    "after-balance",            # a business date's balance identity was checked
    "after-stats-file",         # one statistics file was written (before its watermark moved)
    "after-stats-watermark",    # a business date's statistics files and watermark are committed
    "after-intent",             # a hand-off's intent row is committed, its data file not yet written
    "after-data-file",          # a hand-off's data file is written, the file that names it not yet
    "after-target-swap",        # a manifest or feed header names the new file; its ledger row not yet written
    "after-handoff-ledger",     # a hand-off's ledger row, disclosure row and watermark are committed
    "after-run-ledger",         # the run ledger row says completed, the seal not yet made
    "after-seal-pending",       # the seal is committed as pending, its anchor line not yet written
    "after-anchor",             # the anchor line is written, the seal not yet moved into the chain
    "after-seal-commit",        # the seal is in the chain
)
_passed: collections.Counter = collections.Counter()


def fault(boundary: str) -> None:
    """Kill this process here when a test named this boundary (and this passing of it)."""
    wanted = os.environ.get("JUKI_FAULT")
    if not wanted or "PYTEST_CURRENT_TEST" not in os.environ:
        return
    name, _, nth = wanted.partition("#")
    if name != boundary:
        return
    _passed[boundary] += 1
    if _passed[boundary] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
