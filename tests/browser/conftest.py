"""The browser tests: selectable with `-m browser`, run by default."""


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: opens the Prefect UI in a real headless Chromium")
