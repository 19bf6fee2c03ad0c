"""One Prefect test API for every flow test of the session (it takes 10-20 s to start here)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def prefect_api():
    """Prefect's test harness: a temporary database and API for the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
