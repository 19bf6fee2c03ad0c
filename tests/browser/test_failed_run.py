"""A failed run of the daily-linkage deployment under a process worker, as an operator opens it in the UI.

The checkout's prefect.yaml deployed to a Prefect server of its own; a run of the deployment on a city
whose second file is refused; a process worker (`prefect worker start --run-once`) runs it. Then the API
and the V2 UI in headless Chromium: the logs hold no traceback, the refusing task is Failed (red), and the
failure artifact names the file and the rule.
"""

from __future__ import annotations

import secrets
import subprocess
import time

import httpx
import pytest

from tests.browser.harness import BIN, CHROMIUM_FLAGS, ROOT, run as run_cmd, stop, wait_healthy
from tests.builders import event, person, write_file

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REFUSED = "112038_changes_20260402.csv"


def _page(chromium: str, url: str, env: dict, tmp_path, name: str, wanted: str) -> str:
    """The DOM of a UI page once it shows `wanted` (more virtual time if the page was slow to draw)."""
    for budget in (20_000, 45_000):
        page = run_cmd([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / f'{name}-{budget}'}",
                        f"--virtual-time-budget={budget}", f"--screenshot={tmp_path / f'{name}.png'}",
                        "--dump-dom", url], env, 90)
        if wanted in page.stdout:
            break
    assert page.returncode == 0, page.stderr[-2000:]
    return page.stdout


def test_a_failed_deployment_run_shows_its_story_without_a_traceback(chromium, prefect_server, tmp_path):
    from tasks.handoff import load_subscribers

    city = tmp_path / "city"
    (city / "inbox").mkdir(parents=True)
    write_file(city / "inbox", "2026-04-01", [event("B1", "BASELINE", "2000-01-01", "2026-04-01", **person(1))])
    (city / "inbox" / REFUSED).write_bytes(b"\xff\xfe\x00garbage")
    wait_healthy(prefect_server)
    api, env = prefect_server["api"], dict(prefect_server["env"])

    pool = run_cmd([str(BIN / "prefect"), "work-pool", "create", "juki-process", "--type", "process", "--overwrite"],
                   env, 120)
    assert pool.returncode == 0, pool.stderr[-2000:]
    deployed = run_cmd([str(BIN / "prefect"), "--no-prompt", "deploy", "--name", "daily-linkage"], env, 300)
    assert deployed.returncode == 0, (deployed.stdout + deployed.stderr)[-3000:]
    deployment = httpx.get(f"{api}/deployments/name/daily-linkage/daily-linkage", timeout=10).json()
    flow_run = httpx.post(f"{api}/deployments/{deployment['id']}/create_flow_run", timeout=10, json={
        "parameters": {"store": str(city / "registry.duckdb"), "inbox": str(city / "inbox")}}).json()

    env |= {sub.key_env: secrets.token_hex(32) for sub in load_subscribers().values()}  # throwaway keys
    worker_log = tmp_path / "worker.log"
    with open(worker_log, "w") as out:
        worker = subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", "juki-process", "--type",
                                   "process", "--name", "test-worker"], env=env, cwd=ROOT, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            state = httpx.get(f"{api}/flow_runs/{flow_run['id']}", timeout=10).json()["state"]
            if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                break
            time.sleep(2)
        time.sleep(3)  # the engine's last log lines
    finally:
        stop(worker, 10)
        httpx.delete(f"{api}/deployments/{deployment['id']}", timeout=10)  # and its scheduled runs
    worker_log = worker_log.read_text()

    assert state["type"] == "FAILED", state
    assert REFUSED in state["message"] and "FILE_ENCODING" in state["message"]
    logs = httpx.post(f"{api}/logs/filter", timeout=10, json={
        "logs": {"flow_run_id": {"any_": [flow_run["id"]]}}, "limit": 200}).json()
    messages = [log["message"] for log in logs]
    assert any(m.startswith(f"{REFUSED}: refused (FILE_ENCODING)") for m in messages), messages
    for bad in ("Traceback", "Engine execution exited", "cannot be resolved into an exception", "NoneType: None"):
        assert not [m for m in messages if bad in m], bad
        assert bad not in worker_log, worker_log[-3000:]
    tasks = {t["name"]: t["state"]["type"] for t in httpx.post(f"{api}/task_runs/filter", timeout=10, json={
        "flow_runs": {"id": {"any_": [flow_run["id"]]}}}).json()}
    assert tasks[f"read {REFUSED}"] == "FAILED" and tasks["read 112038_changes_20260401.csv"] == "COMPLETED"
    [failure] = httpx.post(f"{api}/artifacts/filter", timeout=10, json={
        "artifacts": {"flow_run_id": {"any_": [flow_run["id"]]}, "key": {"any_": ["failure"]}}}).json()
    assert REFUSED in failure["data"] and "FILE_ENCODING" in failure["data"]

    ui = prefect_server["ui"]
    logs_page = _page(chromium, f"{ui}/v2/runs/flow-run/{flow_run['id']}?tab=Logs", prefect_server["env"], tmp_path,
                      "logs", "FILE_ENCODING")
    assert flow_run["name"] in logs_page and f"{REFUSED}: refused (FILE_ENCODING)" in logs_page
    assert "Traceback" not in logs_page and "Engine execution exited" not in logs_page
    tasks_page = _page(chromium, f"{ui}/v2/runs/flow-run/{flow_run['id']}?tab=TaskRuns", prefect_server["env"],
                       tmp_path, "tasks", f"read {REFUSED}")
    assert f"read {REFUSED}" in tasks_page and "Failed" in tasks_page
    artifact_page = _page(chromium, f"{ui}/v2/artifacts/artifact/{failure['id']}", prefect_server["env"], tmp_path,
                          "artifact", REFUSED)
    assert REFUSED in artifact_page and "FILE_ENCODING" in artifact_page and "daily-linkage failed" in artifact_page
