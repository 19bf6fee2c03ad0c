"""A BASELINE taken in slices of lines (tasks/sliced.py) gives exactly what the file read whole gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from juki_core.settings import Settings
from juki_core.store import connect
from synthetic.city import generate_city
from tasks import daily, ingest, sliced
from tests.builders import resident_code
from tests.conftest import Register

KEY = bytes(range(32))
TABLES = {
    "event": "select * exclude (recorded_at) from event order by delivery_no, line",
    "resident_version": "select * exclude (recorded_from, recorded_to) from resident_version "
                        "order by resident_code, version_no, valid_from",
    "quarantine": "select * exclude (recorded_at) from quarantine order by delivery_no, line",
    "file_ledger": "select * exclude (received_at) from file_ledger order by delivery_no",
}


def _baseline(path: Path, encoding: str = "utf-8-sig") -> Path:
    """The generated BASELINE (its broken rows kept) without quotes, in UTF-8 with a BOM or CP932 with CR LF, with
    rows whose judging spans the file: an id sent twice, a person sent twice, a second 世帯主, a row before any
    BASELINE, a short row, blank lines."""
    text = path.read_bytes().decode("cp932" if b"\r\n" in path.read_bytes() else "utf-8-sig")
    header, *rows = [r for r in text.replace("\r\n", "\n").split("\n") if r and '"' not in r]
    columns = header.split(",")
    at = {c: i for i, c in enumerate(columns)}

    def changed(row: str, **values) -> str:
        fields = row.split(",")
        for column, value in values.items():
            fields[at[column]] = value
        return ",".join(fields)

    head = next(r for r in rows if r.split(",")[at["relationship"]] == "世帯主")
    first, last = rows[0], rows[-1]
    extra = [changed(first, resident_code=last.split(",")[at["resident_code"]]),  # the last person, sent earlier
             last,  # the same id and row again
             changed(head, event_id="E-SECOND-HEAD", resident_code=resident_code(90001)),
             changed(first, event_id="E-NOT-BASELINE", event_type="MOVE_WITHIN", resident_code=resident_code(90002)),
             ",".join(first.split(",")[:5]), "", ""]
    body = rows[:3] + [extra[0]] + rows[3:] + extra[1:]
    end = "\r\n" if encoding == "cp932" else "\n"
    path.write_bytes((end.join([header, *body]) + end).encode(encoding))
    return path


@pytest.fixture(scope="module", params=["utf-8-sig", "cp932"])
def city(request, tmp_path_factory) -> list[Path]:
    paths = generate_city(tmp_path_factory.mktemp("city") / "generated", residents=300, days=4)
    return [_baseline(paths[0], request.param), *paths[1:]]


def _runs(root: Path, paths: list[Path]) -> dict:
    """The BASELINE and each day as its own daily run: what every run recorded, the tables, the statistics files."""
    settings = Settings(store=root / "registry.duckdb")
    con = connect(settings.store)
    try:
        records = []
        for n, path in enumerate(paths):
            record = daily.run(con, settings, f"run-{n}", [str(path)], daily.parameters(settings, [str(path)]),
                               key_for=lambda sub: KEY)
            # a hand-off is compared by its plain bytes' digest: the encrypted file has a fresh nonce each time
            handoffs = {name: [{k: v for k, v in h.items() if k not in ("created_at", "file_sha256")} for h in files]
                        for name, files in record.handoffs.items()}
            records.append((record.outcomes, record.status, record.broken, record.statistics, handoffs,
                            record.register_sha256))
        tables = {name: con.execute(sql).fetchall() for name, sql in TABLES.items()}
        rules = {r for (ids,) in con.execute("select rule_ids from quarantine where delivery_no = 1").fetchall()
                 for r in ids}
    finally:
        con.close()
    stats = {p.relative_to(settings.stats).as_posix(): p.read_bytes()
             for p in sorted(Path(settings.stats).rglob("*")) if p.is_file()}
    return {"records": records, "tables": tables, "stats": stats, "rules": rules}


@pytest.fixture(scope="module")
def whole(city, tmp_path_factory) -> dict:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sliced, "SLICED_FROM_BYTES", 2**62)
        return _runs(tmp_path_factory.mktemp("whole"), city)


@pytest.mark.parametrize("rows", [7, 64, 100_000])
def test_a_baseline_in_slices_gives_what_the_whole_file_gives(rows, city, whole, tmp_path, monkeypatch):
    monkeypatch.setattr(sliced, "SLICED_FROM_BYTES", 0)
    monkeypatch.setattr(sliced, "SLICE_ROWS", rows)
    monkeypatch.setattr(sliced, "BLOCK_BYTES", 1000)  # blocks cut inside lines too
    taken = []
    monkeypatch.setattr(ingest, "read_sliced", lambda *a: taken.append(sliced.read_sliced(*a)) or taken[-1])
    got = _runs(tmp_path, city)
    lines = city[0].read_bytes().count(b"\n")  # the header, then every line in one slice or another
    assert isinstance(taken[0], sliced.SlicedFile) and len(taken[0].slices) == -(-(lines - 1) // rows)
    assert got["records"] == whole["records"]
    for name in TABLES:
        assert got["tables"][name] == whole["tables"][name], name
    assert got["stats"] == whole["stats"]
    baseline = whole["records"][0][0][0]
    assert baseline["rows_quarantined"] >= 5 and {"DUPLICATE_EVENT_ID", "HOUSEHOLD_HAS_HEAD", "BASELINE_FIRST",
                                                   "ROW_FIELD_COUNT"} <= whole["rules"]


def test_a_small_or_quoted_file_is_read_whole(city, tmp_path, monkeypatch):
    monkeypatch.setattr(sliced, "SLICED_FROM_BYTES", 0)
    quoted = tmp_path / city[0].name
    quoted.write_bytes(city[0].read_bytes() + b'"quoted"\n')
    landed = ingest.land(str(quoted), str(tmp_path / "archive"))
    assert sliced.read_sliced(landed, "112038") is None
    monkeypatch.setattr(sliced, "SLICED_FROM_BYTES", 2**62)
    assert sliced.read_sliced(ingest.land(str(city[0]), str(tmp_path / "archive")), "112038") is None


def test_a_sliced_baseline_that_fails_half_way_leaves_nothing(city, tmp_path, monkeypatch):
    monkeypatch.setattr(sliced, "SLICED_FROM_BYTES", 0)
    monkeypatch.setattr(sliced, "SLICE_ROWS", 50)
    written = sliced._versions

    def failing(*args):  # the events are in, some versions too, when the disk goes
        batches = written(*args)
        yield next(batches)
        yield next(batches)
        raise OSError("no space left on device")

    monkeypatch.setattr(sliced, "_versions", failing)
    (tmp_path / "store").mkdir()
    register = Register(tmp_path / "store")
    try:
        with pytest.raises(RuntimeError, match="nothing was changed"):
            register.ingest(city[0])
        assert [register.rows(f"select count(*) from {t}")[0][0] for t in TABLES] == [0, 0, 0, 0]
    finally:
        register.con.close()


def test_a_baseline_sent_again_in_slices_is_judged_as_whole(city, tmp_path, monkeypatch):
    again = tmp_path / "again" / city[0].name  # other bytes (a blank line more), rows applied before
    again.parent.mkdir()
    again.write_bytes(city[0].read_bytes() + (b"\r\n" if b"\r\n" in city[0].read_bytes() else b"\n"))
    monkeypatch.setattr(sliced, "SLICED_FROM_BYTES", 2**62)
    whole = _runs(tmp_path / "whole", [city[0], again])
    monkeypatch.setattr(sliced, "SLICED_FROM_BYTES", 0)
    monkeypatch.setattr(sliced, "SLICE_ROWS", 64)
    got = _runs(tmp_path / "sliced", [city[0], again])
    assert got == whole
    assert whole["records"][1][0][0]["rows_skipped"] > 250
