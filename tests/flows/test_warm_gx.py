"""With JUKI_GX_DASK_ADDRESS set, a daily run's own process imports neither Great Expectations nor pandas."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.builders import event, person, resident_code, write_file

ROOT = Path(__file__).resolve().parents[2]

# The flow's body in a fresh interpreter, its tasks' functions called directly (no Prefect API, no artifacts),
# and the warm cluster a stand-in that imports `distributed` as the real client does and answers "no violations".
PROBE = """
import dataclasses, json, logging, sys

import polars as pl

import flows.daily_linkage as flow
import tasks.validate_rows as validate_rows
from tasks import ingest


class WarmCluster:
    def __init__(self):
        import distributed  # noqa: F401  the client's own import, paid by the run

    def submit(self, fn, frame, business_date, pure):
        assert fn is validate_rows.judged_here and frame.height
        return self

    def result(self):
        return pl.DataFrame(schema=validate_rows.VIOLATION_SCHEMA)


validate_rows._client = lambda address: WarmCluster()
plain = {f.name: getattr(flow.STEPS, f.name).fn for f in dataclasses.fields(flow.STEPS) if f.name != "stages"}
flow.STEPS = dataclasses.replace(flow.STEPS, stages=ingest.Stages(
    **{f.name: getattr(flow.STEPS.stages, f.name).fn for f in dataclasses.fields(flow.STEPS.stages)}), **plain)
flow.get_run_logger = lambda: logging.getLogger("probe")
flow.create_markdown_artifact = flow.create_table_artifact = lambda **artifact: None
outcomes = flow.daily_linkage.fn(files=sys.argv[2:], store=sys.argv[1])
print(json.dumps({"applied": [o["rows_applied"] for o in outcomes],
                  "imported": [m for m in ("great_expectations", "pandas") if m in sys.modules]}))
"""


def test_a_run_with_the_warm_gx_cluster_imports_neither_great_expectations_nor_pandas(tmp_path):
    """Scheduled runs are fresh processes: with validation on the warm cluster they skip both imports (seconds)."""
    from tasks.handoff import load_subscribers

    files = [write_file(tmp_path, "2026-04-01", [event("B1", "BASELINE", "2000-01-01", "2026-04-01", **person(1)),
                                                 event("B2", "BASELINE", "2001-01-01", "2026-04-01", **person(2))]),
             write_file(tmp_path, "2026-04-02", [event("M1", "MOVE_WITHIN", "2026-04-02",
                                                       resident_code=resident_code(1), town_code="0002",
                                                       address_line="9-9-9")])]
    keys = {sub.key_env: f"{i:02d}" * 32 for i, sub in enumerate(load_subscribers().values())}
    env = {**os.environ, **keys, "JUKI_GX_DASK_ADDRESS": "tcp://127.0.0.1:1", "PREFECT_API_URL": ""}
    done = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "store" / "registry.duckdb"),
                           *map(str, files)], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"applied": [2, 1], "imported": []}
