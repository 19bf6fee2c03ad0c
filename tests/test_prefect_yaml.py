"""prefect.yaml: the three deployments, their schedules, and parameters their flows really take."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import inspect
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SPEC = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
DEPLOYMENTS = {d["name"]: d for d in SPEC["deployments"]}


def _flow(entrypoint: str):
    """The flow object an entrypoint names (path relative to the checkout, then `:function`)."""
    path, name = entrypoint.split(":")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    return getattr(module, name)


def _next_runs(schedule: dict, n: int, start: dt.datetime) -> list[dt.datetime]:
    """The next n runs of a schedule as the server's scheduler computes them, in UTC."""
    from prefect.server.schemas.schedules import CronSchedule

    dates = asyncio.run(CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"]).get_dates(n=n, start=start))
    return [d.astimezone(dt.timezone.utc).replace(tzinfo=None) for d in dates]


def test_the_three_deployments_on_the_process_pool():
    assert set(DEPLOYMENTS) == {"daily-linkage", "replay", "retention"}
    for d in DEPLOYMENTS.values():
        assert d["work_pool"]["name"] == "juki-process", d["name"]
        assert "juki" in d["tags"] and any("112038" in t for t in d["tags"]), d["name"]


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_each_deployment_gives_its_runs_an_environment_with_time_limits(name):
    env = DEPLOYMENTS[name]["work_pool"]["job_variables"]["env"]
    assert env["PREFECT_LOGGING_LEVEL"] == "INFO"
    assert int(env["JUKI_FLOW_TIMEOUT_SECONDS"]) >= 3600 and int(env["JUKI_TASK_TIMEOUT_SECONDS"]) >= 600
    assert DEPLOYMENTS[name]["concurrency_limit"] == 1  # one writer per store; one replay's scratch copy at a time


def test_only_the_schedule_marks_a_run_as_scheduled():
    """A scheduled run skips closed days and expects the previous business day's file; a run by hand does not."""
    [schedule] = DEPLOYMENTS["daily-linkage"]["schedules"]
    assert schedule["parameters"] == {"scheduled": True}
    assert "scheduled" not in DEPLOYMENTS["daily-linkage"]["parameters"]
    _flow(DEPLOYMENTS["daily-linkage"]["entrypoint"]).validate_parameters(
        DEPLOYMENTS["daily-linkage"]["parameters"] | schedule["parameters"])


def test_the_08_00_alert_is_a_proactive_automation_prefect_accepts():
    """automations.yaml: not Completed within 90 minutes of Running (06:30 + 90 min = 08:00 Tokyo)."""
    from prefect.automations import AutomationCore

    text = (ROOT / "automations.yaml").read_text(encoding="utf-8")
    [spec] = yaml.safe_load(text.replace("{{ juki-failure-webhook }}", "00000000-0000-0000-0000-000000000000")
                            )["automations"]
    automation = AutomationCore.model_validate(spec)
    trigger = automation.trigger
    assert (trigger.posture, trigger.after, trigger.expect) == (
        "Proactive", {"prefect.flow-run.Running"}, {"prefect.flow-run.Completed"})
    assert trigger.within.total_seconds() == 90 * 60
    assert [a.type for a in automation.actions] == ["call-webhook"]


def test_daily_linkage_runs_every_business_morning_in_tokyo_one_at_a_time():
    daily = DEPLOYMENTS["daily-linkage"]
    [schedule] = daily["schedules"]
    assert (schedule["cron"], schedule["timezone"], schedule.get("active", True)) == (
        "30 6 * * 1-5", "Asia/Tokyo", True)
    assert daily["concurrency_limit"] == 1
    # From Thursday 26 November 2026 09:00 JST: Friday 06:30 JST = Thursday 21:30 UTC, then Monday.
    start = dt.datetime(2026, 11, 26, 0, 0, tzinfo=dt.timezone.utc)
    assert _next_runs(schedule, 2, start) == [
        dt.datetime(2026, 11, 26, 21, 30), dt.datetime(2026, 11, 29, 21, 30)]


def test_daily_linkage_defaults_are_what_make_demo_fills():
    params = DEPLOYMENTS["daily-linkage"]["parameters"]
    assert params["store"] == "data/registry.duckdb"
    assert params["inbox"] == "data/inbox"
    assert (ROOT / params["subscribers"]).is_file()


def test_replay_is_on_demand_and_verifies():
    replay = DEPLOYMENTS["replay"]
    assert not replay.get("schedules") and not replay.get("schedule")
    assert replay["parameters"]["verify"] is True


def test_retention_runs_once_a_year_at_night_in_tokyo():
    [schedule] = DEPLOYMENTS["retention"]["schedules"]
    assert schedule["timezone"] == "Asia/Tokyo"
    start = dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc)
    first, second = _next_runs(schedule, 2, start)
    assert (second - first).days in (365, 366)
    assert 0 <= (first + dt.timedelta(hours=9)).hour < 5  # Japan has no summer time
    assert DEPLOYMENTS["retention"]["parameters"]["years"] == 150


def test_flow_runs_move_into_the_checkout_recorded_at_deploy_time():
    """The pull step's directory is the build step's `pwd` of the checkout: nothing to set by hand."""
    [build] = SPEC["build"]
    step = build["prefect.deployments.steps.run_shell_script"]
    assert step["script"] == "pwd"
    [pull] = SPEC["pull"]
    assert pull["prefect.deployments.steps.set_working_directory"]["directory"] == "{{ " + step["id"] + ".stdout }}"


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_entrypoint_imports_and_takes_the_deployment_parameters(name):
    from prefect import Flow

    deployment = DEPLOYMENTS[name]
    flow = _flow(deployment["entrypoint"])
    assert isinstance(flow, Flow)
    assert flow.name == name
    accepted = inspect.signature(flow.fn).parameters
    unknown = set(deployment.get("parameters", {})) - set(accepted)
    assert not unknown, f"{name}: not parameters of {deployment['entrypoint']}: {sorted(unknown)}"
    flow.validate_parameters(dict(deployment.get("parameters", {})))  # the types fit, too
