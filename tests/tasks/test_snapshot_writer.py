"""The streamed convenience-store snapshot: the same bytes as the frame it replaced, sealed as handoff.encrypt seals."""

from __future__ import annotations

import hashlib
import io

import pyarrow as pa
import pytest

from schemas.change_file import MUNICIPALITY_PREFIX, town_names
from tasks import handoff, snapshot_writer
from tests.tasks.test_handoff import KEY, day, households, households_store, memory_target, read  # noqa: F401


@pytest.mark.parametrize("as_of", ["2026-04-01", "2026-04-02", "2026-04-10"])
def test_the_streamed_snapshot_has_the_bytes_of_conbini_frame_and_parquet_bytes(households, as_of):  # noqa: F811
    """Every exclusion reason, blocked households, a household without 世帯主, an unknown day's plans."""
    sub = handoff.load_subscribers()["conbini"]
    types = {f: handoff.CONBINI_TYPES[f] for f in sub.fields}
    frame, excluded = handoff.conbini_frame(households.con, day(as_of), sub)
    expected = handoff.parquet_bytes(frame, types)
    query, params = snapshot_writer.conbini_query(sub.fields, sub.exclude, town_names(), MUNICIPALITY_PREFIX)
    out = io.BytesIO()
    written = snapshot_writer.write_snapshot(households.con, query, {**params, "as_of": day(as_of)}, types, out, None,
                                             sub.exclude)
    assert out.getvalue() == expected
    assert (written.rows, written.sha256) == (frame.height, hashlib.sha256(expected).hexdigest())
    assert written.excluded == excluded and list(written.excluded) == list(sub.exclude)


def test_a_sealed_snapshot_decrypts_with_the_hand_off_key(households):  # noqa: F811
    """nonce ‖ ciphertext ‖ tag, as handoff.encrypt writes it; both digests are of what was written."""
    target = memory_target()
    manifest = handoff.publish_conbini(households.con, target, day("2026-04-02"), KEY, False, "t")
    blob = read(target, manifest["file"])
    assert hashlib.sha256(blob).hexdigest() == manifest["file_sha256"]
    assert hashlib.sha256(handoff.decrypt(blob, KEY)).hexdigest() == manifest["sha256"]


def test_row_groups_are_cut_as_one_write_would_cut_them(monkeypatch):
    """Batches smaller than a row group, and a row group boundary inside a batch, give write_table's bytes."""
    monkeypatch.setattr(snapshot_writer, "ROW_GROUP_ROWS", 7)
    types = {"code": pa.string(), "n": pa.int64()}
    table = pa.table({"code": [f"c{i % 5}" for i in range(30)], "n": list(range(30))})
    expected = io.BytesIO()
    import pyarrow.parquet as pq

    pq.write_table(table, expected, row_group_size=7, **snapshot_writer.PARQUET_OPTIONS)
    streamed = io.BytesIO()
    rows = snapshot_writer.write_parquet(pa.RecordBatchReader.from_batches(table.schema, table.to_batches(4)),
                                         types, streamed)
    assert rows == 30 and streamed.getvalue() == expected.getvalue()


def test_rows_left_out_are_counted_and_dropped_across_batches_and_row_groups(households, monkeypatch):  # noqa: F811
    """Small batches and row groups: the rows kept come out as one write with those row groups, the counts as the frame's."""
    monkeypatch.setattr(snapshot_writer, "ROW_GROUP_ROWS", 4)
    monkeypatch.setattr(snapshot_writer, "BATCH_ROWS", 2)
    frame, excluded, expected, out, written = _streamed_and_one_write(households.con, row_group_size=4)
    assert sum(excluded.values()) and frame.height > 4  # some left out, more than one row group kept
    assert out == expected
    assert (written.rows, written.excluded) == (frame.height, excluded)


def test_a_snapshot_that_does_not_fit_the_memory_limit_is_written_again_without_it(households, monkeypatch, caplog):  # noqa: F811
    """The same bytes and counts as with room to spare, a warning that says so, DuckDB's limit back to its default."""
    con = households.con
    limit = con.execute("select current_setting('memory_limit')").fetchall()[0][0]
    roomy = handoff.publish_conbini(con, memory_target(), day("2026-04-02"), None, True, "t")
    monkeypatch.setattr(snapshot_writer, "SNAPSHOT_MEMORY", "64KB")
    with caplog.at_level("WARNING", logger="juki"):
        tight = handoff.publish_conbini(con, memory_target(), day("2026-04-02"), None, True, "t")
    assert "needed more than 64KB" in caplog.text
    assert (tight["sha256"], tight["rows"], tight["excluded"]) == (roomy["sha256"], roomy["rows"], roomy["excluded"])
    assert con.execute("select current_setting('memory_limit')").fetchall()[0][0] == limit


def test_rows_in_any_order_are_sorted_as_duckdb_sorts_them_and_more_than_a_row_group_writes_nothing(monkeypatch):
    """Text sorted byte by byte (digits, kana, ASCII), in pieces of any size: the bytes of one sorted write_table."""
    import random

    import pyarrow.parquet as pq

    codes = [f"{n:010d}" for n in range(40)] + ["ｱ", "あ", "B", "a", "Ｚ", "z0"]
    random.Random(7).shuffle(codes)
    shuffled = pa.table({"code": codes, "n": list(range(len(codes)))})
    types = {"code": pa.string(), "n": pa.int64()}
    expected = io.BytesIO()
    pq.write_table(shuffled.sort_by("code"), expected, row_group_size=snapshot_writer.ROW_GROUP_ROWS,
                   **snapshot_writer.PARQUET_OPTIONS)
    import duckdb

    in_duckdb = duckdb.connect().execute("select code from shuffled order by code").fetchall()
    assert [c for (c,) in in_duckdb] == shuffled.sort_by("code")["code"].to_pylist()  # the same order
    out = io.BytesIO()
    reader = pa.RecordBatchReader.from_batches(shuffled.schema, shuffled.to_batches(7))
    assert snapshot_writer.write_parquet(reader, types, out, sort_by="code") == len(codes)
    assert out.getvalue() == expected.getvalue()
    monkeypatch.setattr(snapshot_writer, "ROW_GROUP_ROWS", 10)
    untouched = io.BytesIO()
    with pytest.raises(snapshot_writer.MoreThanARowGroup):
        snapshot_writer.write_parquet(pa.RecordBatchReader.from_batches(shuffled.schema, shuffled.to_batches(7)),
                                      types, untouched, sort_by="code")
    assert untouched.getvalue() == b""


@pytest.mark.parametrize("codes", [
    ["00038901606", "12345678901", "00000000001", "99999999999", "50000000000"],  # digits of one length: integers
    ["0001", "001", "1", "01", "10"],  # lengths differ: the text
    ["１２", "12", "11", "２１"],  # full-width digits are not ASCII: the text
    ["12a", "12", "11"],
    ["12", None, "11"],
    ["123456789012345678901", "000000000000000000001"],  # longer than an int64 holds: the text
])
def test_the_sort_key_orders_as_the_text_does_byte_by_byte(codes):
    import pyarrow.compute as pc

    key = pa.array(codes, pa.string())
    assert pc.sort_indices(snapshot_writer._sort_key(key)).to_pylist() == pc.sort_indices(key).to_pylist()


def test_one_length_digit_codes_are_sorted_as_integers():
    key = pa.array(["00000000002", "00000000001"], pa.string())
    assert snapshot_writer._sort_key(key).type == pa.int64()
    assert snapshot_writer._sort_key(pa.array(["2", "10"])).type == pa.string()


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 1000])
def test_rows_left_out_by_the_sort_order_give_the_bytes_of_the_frame(households, monkeypatch, batch_rows):  # noqa: F811
    """One row group, batches of any size (some with no row left out, some with only such rows): the kept rows
    sorted are conbini_frame's, in parquet_bytes' bytes, the counts its counts."""
    monkeypatch.setattr(snapshot_writer, "BATCH_ROWS", batch_rows)
    sub = handoff.load_subscribers()["conbini"]
    types = {f: handoff.CONBINI_TYPES[f] for f in sub.fields}
    frame, excluded = handoff.conbini_frame(households.con, day("2026-04-02"), sub)
    assert sum(excluded.values())
    query, params = snapshot_writer.conbini_query(sub.fields, sub.exclude, town_names(), MUNICIPALITY_PREFIX)
    out = io.BytesIO()
    written = snapshot_writer.write_snapshot(households.con, query, {**params, "as_of": day("2026-04-02")}, types, out,
                                             None, sub.exclude)
    assert out.getvalue() == handoff.parquet_bytes(frame, types)
    assert (written.rows, written.excluded) == (frame.height, excluded)


@pytest.mark.parametrize("batch_rows", [1, 3, 1000])
@pytest.mark.parametrize("at_most", [None, 10**9])
def test_more_than_a_row_group_is_written_a_row_group_at_a_time_with_the_bytes_of_one_write(
        households, monkeypatch, batch_rows, at_most):  # noqa: F811
    """Row groups of 2: batches kept compressed, each row group picked out, sorted and written as write_table cuts
    them; with `at_most` beyond a row group no first pass is tried. The counts are the frame's."""
    monkeypatch.setattr(snapshot_writer, "ROW_GROUP_ROWS", 2)
    monkeypatch.setattr(snapshot_writer, "BATCH_ROWS", batch_rows)
    frame, excluded, expected, out, written = _streamed_and_one_write(households.con, row_group_size=2,
                                                                      at_most=at_most)
    assert frame.height > 4 and sum(excluded.values())
    assert out == expected
    assert (written.rows, written.excluded) == (frame.height, excluded)


def test_a_snapshot_of_no_row_kept_is_the_empty_file_either_way(households, monkeypatch):  # noqa: F811
    import pyarrow.parquet as pq

    monkeypatch.setattr(snapshot_writer, "ROW_GROUP_ROWS", 2)
    sub = handoff.load_subscribers()["conbini"]
    types = {f: handoff.CONBINI_TYPES[f] for f in sub.fields}
    query, params = snapshot_writer.conbini_query(sub.fields, sub.exclude, town_names(), MUNICIPALITY_PREFIX)
    query = f"select * replace ('support_measure' as {snapshot_writer.EXCLUDED}) from ({query})"  # every row left out
    empty = io.BytesIO()
    pq.ParquetWriter(empty, pa.schema([pa.field(n, t) for n, t in types.items()]),
                     **snapshot_writer.PARQUET_OPTIONS).close()
    for at_most in (None, 10**9):
        out = io.BytesIO()
        written = snapshot_writer.write_snapshot(households.con, query, {**params, "as_of": day("2026-04-02")}, types,
                                                 out, None, sub.exclude, at_most=at_most)
        assert out.getvalue() == empty.getvalue() and written.rows == 0 and written.excluded["support_measure"] > 4


@pytest.mark.parametrize("row_group_rows", [1_000_000, 2])
def test_the_same_register_and_day_give_the_same_bytes_whatever_duckdb_s_threads(households, monkeypatch,
                                                                                  row_group_rows):  # noqa: F811
    """DuckDB hands the rows over in an order that depends on its threads; the file does not."""
    monkeypatch.setattr(snapshot_writer, "ROW_GROUP_ROWS", row_group_rows)
    monkeypatch.setattr(snapshot_writer, "BATCH_ROWS", 1)
    con = households.con
    digests = set()
    for threads in (1, 4, 1):
        con.execute(f"set threads = {threads}")
        digests.add(handoff.publish_conbini(con, memory_target(), day("2026-04-02"), None, True, "t")["sha256"])
    con.execute("reset threads")
    assert len(digests) == 1


def _streamed_and_one_write(con, row_group_size: int, at_most: int | None = None):
    """The conbini rows of 2026-04-02 (frame, excluded), their bytes as one pq.write_table with that row group size,
    and the bytes and outcome of write_snapshot streaming them."""
    import pyarrow.parquet as pq

    sub = handoff.load_subscribers()["conbini"]
    types = {f: handoff.CONBINI_TYPES[f] for f in sub.fields}
    frame, excluded = handoff.conbini_frame(con, day("2026-04-02"), sub)
    schema = pa.schema([pa.field(n, t) for n, t in types.items()])
    source = frame.select(list(types)).to_arrow()
    expected = io.BytesIO()
    pq.write_table(pa.Table.from_arrays([source.column(n).cast(t) for n, t in types.items()], schema=schema),
                   expected, row_group_size=row_group_size, **snapshot_writer.PARQUET_OPTIONS)
    query, params = snapshot_writer.conbini_query(sub.fields, sub.exclude, town_names(), MUNICIPALITY_PREFIX)
    out = io.BytesIO()
    written = snapshot_writer.write_snapshot(con, query, {**params, "as_of": day("2026-04-02")}, types, out,
                                             None, sub.exclude, at_most=at_most)
    return frame, excluded, expected.getvalue(), out.getvalue(), written
