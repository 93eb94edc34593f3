"""A killed writer's summary caught up by its readers (store/summary_tail.py) holds its
histograms and media as every stored summary does, as JSON (a histogram's bins and counts,
a media file's reference), and the ones logged after its last heartbeat: it held a
`Histogram` object (`json.dumps` of the summary failed: the server's run endpoint, `runs
--json`), and a media key kept the beat's file or was missing.

The kill is played in one process, as in tests/test_kill9_summary_exact.py: the writer's
state as its heartbeat wrote it, put back once the run is finished, with a dead pid."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import flightlog
from flightlog.store.atomic import dumps

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
