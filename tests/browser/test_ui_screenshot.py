"""The Prefect UI really shows a daily-linkage run and its artifacts, in a real (headless) Chromium.

A Prefect server on a free loopback port with a temporary PREFECT_HOME; `juki daily` on a small
generated city against it; the run's page (the V2 UI, Artifacts tab) opened in Chromium, its DOM
checked and a screenshot saved. `JUKI_SCREENSHOT_OUT=docs/screenshots/daily-run.png` also copies
the screenshot there (that is how the committed one was made).
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import httpx
import pytest

from tests.browser.harness import BIN, CHROMIUM_FLAGS, run as run_cmd, wait_healthy

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_ui_shows_the_daily_run_and_its_artifacts(chromium, prefect_server, tmp_path):
    from synthetic.city import generate_city
    from tasks.handoff import load_subscribers

    # the city is written while the server starts
    city = tmp_path / "city"
    generate_city(str(city / "inbox"), residents=300, days=2, seed=5, progress=lambda m: None)
    wait_healthy(prefect_server)

    env = dict(prefect_server["env"])
    env |= {sub.key_env: secrets.token_hex(32) for sub in load_subscribers().values()}  # throwaway keys
    daily = run_cmd([str(BIN / "juki"), "daily", "--store", str(city / "registry.duckdb"), "--json"], env, 240)
    assert daily.returncode == 0, daily.stderr[-3000:]

    api = prefect_server["api"]
    [run] = httpx.post(f"{api}/flow_runs/filter", timeout=10, json={
        "flows": {"name": {"any_": ["daily-linkage"]}}, "sort": "START_TIME_DESC", "limit": 1,
        "flow_runs": {"deployment_id": {"is_null_": True}}}).json()  # not a deployment's (scheduled) run
    assert run["state_type"] == "COMPLETED"
    keys = {a["key"] for a in httpx.post(f"{api}/artifacts/filter", timeout=10, json={
        "artifacts": {"flow_run_id": {"any_": [run["id"]]}}}).json()}
    assert {"daily-linkage-summary", "quarantine-by-rule", "population-pyramid"} <= keys

    # The V2 UI (Prefect's default) takes the tab from the query; the V1 page at /runs/… ignores it.
    url = f"{prefect_server['ui']}/v2/runs/flow-run/{run['id']}?tab=Artifacts"
    shot = tmp_path / "daily-run.png"
    for budget in (20_000, 45_000):  # virtual milliseconds for the page to fetch and draw; more if it was slow
        profile = tmp_path / f"chromium-{budget}"
        page = run_cmd([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget}",
                     f"--screenshot={shot}", "--dump-dom", url], prefect_server["env"], 90)
        dom = page.stdout
        if "daily-linkage-summary" in dom and run["name"] in dom:
            break
    assert page.returncode == 0, page.stderr[-2000:]
    assert run["name"] in dom and "daily-linkage" in dom, "the page does not show the flow run"
    assert "daily-linkage-summary" in dom and "quarantine-by-rule" in dom, "the Artifacts tab shows no artifacts"
    assert "Completed" in dom
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000, "the screenshot is missing or blank"

    if out := os.environ.get("JUKI_SCREENSHOT_OUT"):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, out)
