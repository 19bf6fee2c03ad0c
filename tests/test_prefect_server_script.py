"""scripts/prefect-server.sh (the many-cities benchmark's server): its usage, and what it refuses."""

from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "prefect-server.sh"


def test_help_names_both_databases_and_stop():
    out = subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    assert "--postgres" in out.stdout and "stop" in out.stdout and "PREFECT_API_URL" in out.stdout


def test_an_unknown_argument_is_refused_with_the_usage():
    out = subprocess.run(["bash", str(SCRIPT), "--sqlite3"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "unknown argument '--sqlite3'" in out.stderr and "--postgres" in out.stderr
