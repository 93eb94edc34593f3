"""A killed writer's summary caught up by its readers (store/summary_tail.py) holds its
histograms and media as every stored summary does, as JSON (a histogram's bins and counts,
a media file's reference), and the ones logged after its last heartbeat: it held a
`Histogram` object (`json.dumps` of the summary failed: the server's run endpoint, `runs
--json`), and a media key kept the beat's file or was missing.

The kill is played in one process, as in tests/test_kill9_summary_exact.py: the writer's
state as its heartbeat wrote it, put back once the run is finished, with a dead pid."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import flightlog
from flightlog.store.atomic import dumps
from flightlog.store.layout import sealed_segment_name

from .summary_rows import killed_after, typed


def _image(level: int) -> flightlog.Image:
    return flightlog.Image(np.full((4, 4, 3), level, np.uint8))


def test_a_killed_writers_histograms_and_media_are_caught_up_as_stored(store: Path) -> None:
    run = flightlog.init(project="p", id="media1")
    run.log({"x": 1, "h": flightlog.Histogram(np.arange(10)), "img": _image(0)})
    beat = run._writer_state()
    run.log({"x": 2, "h": flightlog.Histogram(np.arange(20)), "img": _image(255)})
    run.log({"later": _image(9)})
    held = json.loads(dumps(run._writer_state()["summary"]))  # as its state file holds it
    stored = killed_after(run, beat)
    assert typed(json.loads(dumps(stored.summary))) == typed(held)
    assert typed(stored.summary) == typed(held)


def test_a_sealed_file_without_a_step_column_is_skipped_not_a_crash(store: Path) -> None:
    # a file named as the writer's sealed segment holding some other table: readers warn of
    # it and skip it (store/segments.py); its footer has no step statistics to go by
    run = flightlog.init(project="p", id="foreign1")
    run.log({"x": 1})
    beat = run._writer_state()
    run.log({"x": 2})
    stored = killed_after(run, beat)
    buf = pa.BufferOutputStream()
    pq.write_table(pa.table({"x": [1, 2]}), buf)
    data = buf.getvalue().to_pybytes()
    name = sealed_segment_name(beat["writer"], 99, hashlib.sha256(data).hexdigest())
    (stored.paths.history / name).write_bytes(data)
    with pytest.warns(UserWarning, match=name):
        assert stored.summary["x"] == 2
    with pytest.warns(UserWarning, match=name):
        resumed = flightlog.init(project="p", id="foreign1", resume="must")
    assert resumed.step == 2
    resumed.finish(quiet=True)
