"""An open segment's journal mark is remembered by the file's identity and size
(store/streams.py `ipc_mark`: a dead writer's open segment is read once, not once more for
each of its journals): a segment that grew since has its new mark, a read from its middle
(`after`) only the batches from there, and a read whole before it grew none of the later."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from flightlog.store.layout import open_segment_name
from flightlog.store.schema import HISTORY_SCHEMA, segment_schema
from flightlog.store.segments import read_segment, segment_mark
from flightlog.store.streams import OpenSegment


def _batch(step: int) -> pa.RecordBatch:
    row = {f.name: [None] for f in HISTORY_SCHEMA}
    row.update(step=[step], time=[step * 1000], key=["loss"], value=[float(step)], kind=[0])
    return pa.RecordBatch.from_pydict(row, schema=HISTORY_SCHEMA)


def test_a_grown_segment_has_its_new_mark(tmp_path: Path) -> None:
    path = tmp_path / open_segment_name("w1", 1)
    seg = OpenSegment(path, segment_schema("w1", "main"))
    seg.next_mark = (1, 10)
    seg.write(_batch(1))
    assert segment_mark(path) == (1, 10)
    assert read_segment(path).column("step").to_pylist() == [1]
    middle = seg.size
    seg.next_mark = (1, 20)
    seg.write(_batch(2))
    assert segment_mark(path) == (1, 20)
    seg.next_mark = (2, 5)
    seg.write(_batch(3))
    assert read_segment(path, after=middle).column("step").to_pylist() == [2, 3]
    assert segment_mark(path) == (2, 5)
    seg.close()
