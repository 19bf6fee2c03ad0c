"""A catch-up run (a week's outage, a first year's migration) through Prefect: 150 files in one run."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from schemas.business_calendar import business_days
from tests.builders import event, person, write_file

BIN = Path(sys.executable).parent
FILES = 150


@pytest.mark.slow
def test_a_run_of_150_files_completes_in_prefect_and_prints_no_error(prefect_api, tmp_path):
    """One BASELINE and 149 quiet days (tiny files): `juki daily` against a Prefect API exits 0, prints no error
    line, and the flow run is Completed with one business-date range tag (one tag per day passed Prefect's limit
    of 100 related resources per event, and the run never finished)."""
    from prefect.settings import PREFECT_API_URL
    from tasks.handoff import load_subscribers

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    days = business_days(dt.date(2026, 4, 1), dt.date(2026, 12, 31))[:FILES]
    write_file(inbox, days[0].isoformat(), [event("B1", "BASELINE", "2000-01-01", days[0].isoformat(), **person(1))])
    for day in days[1:]:
        write_file(inbox, day.isoformat(), [])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_LOGGING_LEVEL": "INFO",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env |= {sub.key_env: f"{i + 1:02d}" * 32 for i, sub in enumerate(load_subscribers().values())}

    done = subprocess.run([str(BIN / "juki"), "--store", str(tmp_path / "registry.duckdb"), "daily", "--json"],
                          env=env, capture_output=True, text=True, timeout=900)

    errors = [line for line in (done.stdout + done.stderr).splitlines()
              if "ERROR" in line or "Traceback" in line or "Exception" in line]
    assert done.returncode == 0 and not errors, "\n".join(errors[:20]) or done.stderr[-3000:]
    files = json.loads(done.stdout.splitlines()[-1])["files"]
    assert len(files) == FILES and {f["status"] for f in files} == {"applied"}

    from prefect.client.orchestration import get_client

    tag = f"business-date:{days[0]}..{days[-1]}"
    with get_client(sync_client=True) as client:
        [run] = [r for r in client.read_flow_runs() if tag in r.tags]
    assert run.state.is_completed()
    assert len([t for t in run.tags if t.startswith("business-date:")]) == 1
