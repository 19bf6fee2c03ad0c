"""A Prefect server, processes in sessions of their own, and headless Chromium, for the browser tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without the background-networking switches Chromium keeps calling out to Google's services.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-default-apps", "--disable-extensions", "--window-size=1600,1200"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, grace: float) -> None:
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


def run(cmd: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    """Run a command in a session of its own; whatever it leaves behind is killed with it."""
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop(proc, 0)
        out, err = proc.communicate()
        pytest.fail(f"{Path(cmd[0]).name} did not finish in {timeout:.0f} s:\n{err[-2000:]}")
    finally:
        stop(proc, 0)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def chromium_path() -> str:
    if CHROMIUM is None:
        pytest.skip("chromium not installed: apt-get install chromium to run the browser test")
    return CHROMIUM


def start_server(tmp_path_factory):
    """`prefect server start` on 127.0.0.1:<free port>, its own PREFECT_HOME; the env to reach it."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
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
        stop(server, 20)
        log.close()


def wait_healthy(server: dict, timeout: float = 120) -> None:
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
