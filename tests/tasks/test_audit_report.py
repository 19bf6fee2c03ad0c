"""The audit report (tasks/audit_report.py): one self-contained HTML file, no personal data, the verdict shown."""

from __future__ import annotations

import datetime as dt
import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tasks.audit_report import write_audit_report
from tasks.disclosure import record_publish, record_reveal
from tasks.handoff import deliveries_on, load_subscribers, publish_conbini, publish_feed
from tests.builders import event, foreigner, my_number, person, resident_code, write_file
from tests.conftest import Register

R = resident_code
D1, D2, D3 = dt.date(2026, 4, 1), dt.date(2026, 4, 2), dt.date(2026, 4, 3)
SECRET_NAME = "秘匿"
MATCHING = {"ok": True, "runs": [{"run_id": "test", "ok": True, "divergence": None}], "first_divergence": None}
MISMATCH = {"ok": False, "first_divergence": "run test: register digest differs (3 residents)",
            "runs": [{"run_id": "test", "ok": False, "divergence": "register digest differs (3 residents)"}]}


def city(register, tmp_path: Path) -> dict:
    """Baseline on 04-01; on 04-02 two moves, a birth and three refused rows; everything published and logged."""
    base = [person(1), person(2), person(3, given_name="花子", sex="2"), foreigner(4), person(5)]
    register.ingest(write_file(register.inbox, D1.isoformat(), [
        event(f"base{i}", "BASELINE", "2020-01-01", D1.isoformat(), **r) for i, r in enumerate(base, 1)]))
    d = D2.isoformat()
    (outcome,) = register.ingest(write_file(register.inbox, d, [
        event("m1", "MOVE_WITHIN", d, resident_code=R(1), town_code="0002", address_line="9-9"),
        event("m4", "MOVE_WITHIN", d, resident_code=R(4), town_code="0003", address_line="7-7"),
        event("b6", "BIRTH", d, **person(6, birth_date=d, household_id="H1", relationship="子")),
        event("u90", "DEATH", d, resident_code=R(90)),                                       # PERSON_NOT_CURRENT
        event("x40", "BIRTH", d, **person(40, birth_date=d, sex="9", town_code="9999",       # two row rules
                                          family_name=SECRET_NAME)),
        event("u91", "DEATH", d, resident_code=R(91)),                                       # PERSON_NOT_CURRENT
    ]))
    assert (outcome.rows_applied, outcome.rows_quarantined) == (3, 3), register.quarantine()
    subscribers = load_subscribers()
    published = {"conbini": publish_conbini(register.con, str(tmp_path / "out" / "conbini"), D2, None, True, "test")}
    for name in ("juki_net", "immigration", "koseki_fuhyo"):
        (delivery,) = deliveries_on(register.con, D2)
        published[name] = publish_feed(register.con, name, str(tmp_path / "out" / name), delivery, None, True, "test")
    for name, header in published.items():
        record_publish(register.con, subscribers[name], header, "test")
    record_reveal(register.con, R(2), "clerk-7", "本人確認 <照会> & 回答")
    # the fixture ingests without a flow, so the run is recorded by hand
    register.con.execute("insert into run_ledger (run_id, flow_name, code_version, lock_sha256, register_sha256, "
                         "outputs, status, started_at) values ('test', 'daily-linkage', '0.1.0+abc', 'l0ck', 'r3g', "
                         "$o, 'completed', '2026-04-02 09:00:00')",
                         {"o": '{"stats": {"2026-04-02/population.csv": "5tat5"}, "handoffs": {}}'})
    # a reveal is dated by the clock; put it inside the test's business dates
    register.con.execute("update disclosure_log set disclosed_at = '2026-04-02 12:00:00' where channel = 'reveal'")
    return published


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One register for the module (the reports only read it) and what was published from it."""
    root = tmp_path_factory.mktemp("city")
    reg = Register(root)
    published = city(reg, root)
    yield reg, published
    reg.con.close()


@pytest.fixture
def register(built):
    """The module's register."""
    return built[0]


def report(register, tmp_path: Path, verdict=None, date_from=D1, date_to=D3, name="audit.html") -> str:
    """Write the report into its own folder and return its text."""
    out = write_audit_report(register.con, date_from, date_to, tmp_path / "report" / name, verdict)
    assert out == tmp_path / "report" / name
    return out.read_text(encoding="utf-8")


def all_my_numbers(register) -> set[str]:
    """Every My Number the register holds anywhere, and those of the refused rows."""
    held = {n for (n,) in register.rows("select my_number from resident_version where my_number is not null")}
    return held | {my_number(n) for n in (6, 40)}


def test_the_report_is_one_self_contained_html_file(register, tmp_path):
    """A single file, nothing fetched from elsewhere: no links, scripts, sources, fonts or imports."""
    page = report(register, tmp_path, MATCHING)
    assert [p.name for p in (tmp_path / "report").iterdir()] == ["audit.html"]
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    lowered = page.lower()
    for forbidden in ("http://", "https://", "src=", "<script", "<link", "<img", "<iframe", "url(", "@import",
                      "href=", "//cdn", "@font-face"):
        assert forbidden not in lowered, forbidden


def test_the_report_holds_no_my_number_and_no_refused_row(register, tmp_path):
    """No full My Number of anyone; refused rows appear as counts only: no name, no resident code."""
    page = report(register, tmp_path, MATCHING)
    numbers = all_my_numbers(register)
    assert len(numbers) >= 7
    assert [n for n in numbers if n in page] == []
    assert SECRET_NAME not in page and R(90) not in page and R(91) not in page and R(40) not in page


def test_refused_rows_are_counted_by_rule_id(register, tmp_path):
    """Each rule id with its rows; a row with two reasons counts under both."""
    page = report(register, tmp_path)
    section = page.split("3. Refused", 1)[1].split("<h2>", 1)[0]
    counts = dict(re.findall(r'<td class="d">([A-Z_]+)</td><td class="n">(\d+)</td>', section))
    assert counts == {"PERSON_NOT_CURRENT": "2", "SEX_CODE_INVALID": "1", "TOWN_CODE_UNKNOWN": "1"}


def test_the_report_shows_files_events_handoffs_disclosures_and_runs(built, register, tmp_path):
    """Every section names what it should, with digests; an escaped free-text reason stays text."""
    published = built[1]
    page = report(register, tmp_path)
    for (sha, name) in register.rows("select file_sha256, file_name from file_ledger"):
        assert sha in page and name in page
    assert ">MOVE_WITHIN<" in page and ">BIRTH<" in page and ">BASELINE<" in page
    for name, header in published.items():
        assert header["file"] in page and header["file_sha256"] in page and header["sha256"] in page
    assert html.escape("本人確認 <照会> & 回答") in page and "<照会>" not in page
    assert "clerk-7" in page and page.count(">publish<") == 2  # conbini and juki_net, not the others
    assert "0.1.0+abc" in page and "l0ck" in page and "r3g" in page
    assert "2026-04-02/population.csv" in page and "5tat5" in page


def test_the_period_is_of_business_dates(register, tmp_path):
    """Only 04-02: the BASELINE file and its events are left out; 04-03 on: nothing was received."""
    page = report(register, tmp_path, date_from=D2, date_to=D2)
    assert "112038_changes_20260402.csv" in page and "112038_changes_20260401.csv" not in page
    assert ">BASELINE<" not in page
    later = report(register, tmp_path, date_from=D3, date_to=D3, name="later.html")
    assert "No file was received for these business dates." in later


def test_the_verdict_matching(register, tmp_path):
    """A matching verdict is the headline."""
    page = report(register, tmp_path, MATCHING)
    assert 'class="verdict matching"' in page and "Replay: matching" in page and "replay matches" in page
    assert "MISMATCH" not in page and "not verified" not in page


def test_the_verdict_mismatch_names_the_first_divergence(register, tmp_path):
    """A mismatch shows the first divergence and marks the run."""
    page = report(register, tmp_path, MISMATCH)
    assert 'class="verdict mismatch"' in page and "Replay: MISMATCH" in page
    assert "First divergence: run test: register digest differs (3 residents)" in page
    assert '<span class="tag bad">MISMATCH</span>' in page


def test_the_verdict_not_verified(register, tmp_path):
    """No verdict: said plainly, not taken for a match."""
    page = report(register, tmp_path, None)
    assert 'class="verdict unverified"' in page and "Replay: not verified" in page
    assert "Replay: matching" not in page and "MISMATCH" not in page


def test_verdict_text_is_escaped_and_never_carries_a_my_number(register, tmp_path):
    """The divergence comes from elsewhere: markup in it stays text, a My Number in it is masked."""
    verdict = {"ok": False, "runs": [{"run_id": "test", "ok": False,
                                      "divergence": f"<script>x</script> my_number {my_number(1)} differs"}],
               "first_divergence": None}
    page = report(register, tmp_path, verdict)
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert my_number(1) not in page and f"********{my_number(1)[-4:]} differs" in page


def replay_report(verified: bool, divergence: str | None) -> dict:
    """A verdict in the shape of tasks/replay.py's ReplayReport.as_dict() (built by hand: no replay runs here)."""
    found = [{"output": "register", "message": divergence, "run_id": "test", "recorded": "a", "replayed": "b",
              "residents": [], "residents_differing": 1}] if divergence else []
    return {"verified": verified, "ok": not found, "summary": "The replay of 1 run(s) said so.",
            "first_divergence": found[0] if found else None,
            "runs": [{"run_id": "test", "position": 1, "files": [], "dates": [], "divergences": found,
                      "verdict": "mismatch" if found else ("match" if verified else "replayed")}]}


class AsDict:
    """An object with as_dict(), as ReplayReport is."""

    def __init__(self, data: dict) -> None:
        self.data = data

    def as_dict(self) -> dict:
        return self.data


@pytest.mark.parametrize(("verdict", "state", "headline", "tag"), [
    (replay_report(True, None), "matching", "Replay: matching", '<span class="tag ok">matches</span>'),
    (replay_report(False, None), "unverified", "Replay: not verified",
     '<span class="tag none">rebuilt, not verified</span>'),
    (replay_report(True, "run 1 (test): the register digest differs for 2 residents"), "mismatch",
     "First divergence: run 1 (test): the register digest differs for 2 residents",
     '<span class="tag bad">MISMATCH</span>'),
    (AsDict(replay_report(True, None)), "matching", "Replay: matching", '<span class="tag ok">matches</span>'),
])
def test_the_verdict_of_tasks_replay_is_understood(register, tmp_path, verdict, state, headline, tag):
    """verified, per-run verdict words and a first divergence given as a dict, as the replay reports them."""
    page = report(register, tmp_path, verdict)
    assert f'class="verdict {state}"' in page and headline in page and tag in page


def test_an_empty_period_is_refused(register, tmp_path):
    """from after to is a mistake, said in one sentence."""
    with pytest.raises(ValueError, match="empty"):
        write_audit_report(register.con, D3, D1, tmp_path / "r.html", None)


CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "", shutil.which("chromium-browser") or "",
                             shutil.which("google-chrome") or "") if p and Path(p).exists()), None)


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (/usr/bin/chromium): "
                                             "the headless rendering check is optional")
def test_the_report_renders_in_headless_chromium_without_network(register, tmp_path):
    """Chromium with every request sent to a dead proxy opens the page, shows the verdict and screenshots it."""
    out = write_audit_report(register.con, D1, D3, tmp_path / "report" / "audit.html", MISMATCH)
    offline = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9",
               f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*offline, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120)
    assert "Replay: MISMATCH" in dom.stdout and "First divergence: run test" in dom.stdout, dom.stderr[-2000:]
    shot = tmp_path / "shot.png"
    subprocess.run([*offline, "--window-size=1400,2400", f"--screenshot={shot}", out.as_uri()],
                   capture_output=True, timeout=120, check=False)
    assert shot.exists() and shot.stat().st_size > 10_000
