"""What every flow shares, without running one: masking, the failed state, the time limits."""

from __future__ import annotations

import pytest

from flows.hooks import RunFailed, failed, mask_personal_numbers, safe_message
from tests.builders import my_number, resident_code


def test_only_my_numbers_and_resident_codes_are_masked_to_their_last_four_digits():
    text = (f"112038_changes_20260413.csv: refused (ENCODING_INVALID); cannot compare {my_number(7)} with "
            f"{resident_code(3)}; 1234567890123 and 123456 stay; 個人番号{my_number(8)}が重複.")
    masked = mask_personal_numbers(text)
    assert masked == (f"112038_changes_20260413.csv: refused (ENCODING_INVALID); cannot compare ********{my_number(7)[-4:]} "
                      f"with *******{resident_code(3)[-4:]}; 1234567890123 and 123456 stay; "
                      f"個人番号********{my_number(8)[-4:]}が重複.")


def test_digit_runs_inside_file_names_are_left_alone():
    for name in ("112038_changes_20260413.csv", "112038_changes_202604131234.csv", "archive/123456789012.csv",
                 "run_12345678901_x"):
        assert mask_personal_numbers(name) == name
    assert safe_message(f"{my_number(1)}.\nsecond line {my_number(2)}") == f"********{my_number(1)[-4:]}."


def test_a_failed_state_resolves_to_its_sentence_not_a_type_error():
    from prefect.states import get_state_exception

    state = failed("112038_changes_20260402.csv: refused (ENCODING_INVALID).", [{"file": "x"}])
    exc = get_state_exception(state)
    assert isinstance(exc, RunFailed) and str(exc).startswith("112038_changes_20260402.csv")
    assert exc.outcome == [{"file": "x"}]


@pytest.mark.parametrize("module, name", [("flows.daily_linkage", "daily_linkage"), ("flows.replay", "replay"),
                                          ("flows.retention", "retention"), ("flows.many_cities", "many_cities")])
def test_every_flow_has_a_time_limit_a_crash_hook_and_no_persisted_result(module, name):
    import importlib

    from flows.hooks import FLOW_TIMEOUT_SECONDS, report_failure

    flow = getattr(importlib.import_module(module), name)
    assert flow.timeout_seconds == FLOW_TIMEOUT_SECONDS > 0
    assert report_failure in flow.on_failure_hooks and report_failure in flow.on_crashed_hooks
    assert flow.persist_result is False


def test_every_task_of_the_daily_flow_has_a_time_limit_and_a_fixed_name_unless_it_names_a_file():
    from flows.daily_linkage import STEPS, pending_files
    from flows.hooks import TASK_TIMEOUT_SECONDS

    tasks = [STEPS.stages.land, STEPS.stages.read, STEPS.stages.validate, STEPS.stages.apply, STEPS.check,
             STEPS.balance, STEPS.statistics, STEPS.handoffs, pending_files]
    for t in tasks:
        assert t.timeout_seconds == TASK_TIMEOUT_SECONDS, t.name
        assert t.task_run_name is not None, t.name  # Prefect's default adds a random suffix ("list the inbox-166")
    assert pending_files.task_run_name == "list the inbox"
