"""The browser tests: selectable with `-m browser`, run by default (slow: left out by `make test-fast`)."""

import pytest

from tests.browser.harness import chromium_path, start_server


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: opens the Prefect UI in a real headless Chromium")


@pytest.fixture(scope="session")
def chromium() -> str:
    return chromium_path()


@pytest.fixture(scope="session")
def prefect_server(chromium, tmp_path_factory):
    """One Prefect server for the browser tests (it takes 10-20 s to start here)."""
    yield from start_server(tmp_path_factory)
