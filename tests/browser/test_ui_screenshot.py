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
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without the background-networking switches Chromium keeps calling out to Google's services.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-default-apps", "--disable-extensions", "--window-size=1600,1200"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen, grace: float) -> None:
    """TERM the process's whole group (it was started in a session of its own), then KILL it."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        try:  # the leader is gone; make sure nothing of its group is left either
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return


def _run(cmd: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    """Run a command in a session of its own; whatever it leaves behind is killed with it."""
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(proc, 0)
        out, err = proc.communicate()
        pytest.fail(f"{Path(cmd[0]).name} did not finish in {timeout:.0f} s:\n{err[-2000:]}")
    finally:
        _stop(proc, 0)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        pytest.skip("chromium not installed: apt-get install chromium to run the browser test")
    return CHROMIUM


@pytest.fixture(scope="module")
def prefect_server(chromium, tmp_path_factory):
    """`prefect server start` on 127.0.0.1:<free port>, its own PREFECT_HOME; the env to reach it."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(home), "PREFECT_API_URL": api, "PREFECT_UI_API_URL": api,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "INFO"}
    log = open(home / "server.log", "w")
    server = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port),
                               "--analytics-off"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        yield {"api": api, "ui": f"http://127.0.0.1:{port}", "env": env, "log": home / "server.log",
               "process": server}
    finally:
        _stop(server, 20)
        log.close()


def _wait_healthy(server: dict, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server["process"].poll() is not None:
            pytest.fail("the Prefect server exited:\n" + server["log"].read_text()[-2000:])
        try:
            if httpx.get(f"{server['api']}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the Prefect server did not answer in {timeout:.0f} s:\n" + server["log"].read_text()[-2000:])


def test_the_ui_shows_the_daily_run_and_its_artifacts(chromium, prefect_server, tmp_path):
    from synthetic.city import generate_city
    from tasks.handoff import load_subscribers

    # the city is written while the server starts
    city = tmp_path / "city"
    generate_city(str(city / "inbox"), residents=300, days=2, seed=5, progress=lambda m: None)
    _wait_healthy(prefect_server)

    env = dict(prefect_server["env"])
    env |= {sub.key_env: secrets.token_hex(32) for sub in load_subscribers().values()}  # throwaway keys
    daily = _run([str(BIN / "juki"), "daily", "--store", str(city / "registry.duckdb"), "--json"], env, 240)
    assert daily.returncode == 0, daily.stderr[-3000:]

    api = prefect_server["api"]
    [run] = httpx.post(f"{api}/flow_runs/filter", timeout=10, json={
        "flows": {"name": {"any_": ["daily-linkage"]}}, "sort": "START_TIME_DESC", "limit": 1}).json()
    assert run["state_type"] == "COMPLETED"
    keys = {a["key"] for a in httpx.post(f"{api}/artifacts/filter", timeout=10, json={
        "artifacts": {"flow_run_id": {"any_": [run["id"]]}}}).json()}
    assert {"daily-linkage-summary", "quarantine-by-rule", "population-pyramid"} <= keys

    # The V2 UI (Prefect's default) takes the tab from the query; the V1 page at /runs/… ignores it.
    url = f"{prefect_server['ui']}/v2/runs/flow-run/{run['id']}?tab=Artifacts"
    shot = tmp_path / "daily-run.png"
    for budget in (20_000, 45_000):  # virtual milliseconds for the page to fetch and draw; more if it was slow
        profile = tmp_path / f"chromium-{budget}"
        page = _run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget}",
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
