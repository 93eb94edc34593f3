"""A killed writer's summary, caught up by its readers with the rows it stored after its
last heartbeat (store/summary_tail.py), is the summary its process held when it died:
every rule (min, max, mean, first, last), ints staying ints, NaN and non-numbers left out
of the figures, whatever rows came before and after the beat.

The kill is played in one process: the writer's state as its heartbeat would write it
after the rows before the beat, put back once the run is finished, with a pid that is not
its process (as a dead writer's). The real kill -9 is tests/test_found14_kill9_summary.py."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

import flightlog
from flightlog.store import RunPaths, StoredRun
from flightlog.store.atomic import atomic_write_json

from .conftest import settled
from .summary_rows import ROWS, RULES, killed_after, typed


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=ROWS, after=ROWS)
def test_a_killed_writers_summary_is_the_one_its_process_held(
    before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> None:
    with tempfile.TemporaryDirectory() as root:
        run = flightlog.init(project="p", id="beat", dir=root, settings={"segment_rows": 4})
        for name, rule in RULES.items():
            run.define_metric(name, summary=rule)
        for row in before:
            run.log(row)
        beat = run._writer_state()  # what the heartbeat records
        for row in after:
            run.log(row)
        held = dict(run.summary)
        stored = killed_after(run, beat)
        assert typed(stored.summary) == typed(held)


def test_a_state_file_with_odd_figures_still_gives_a_summary(store: Path) -> None:
    run = flightlog.init(project="p", id="odd")
    run.define_metric("avg", summary="mean")
    run.log({"avg": 1.0, "loss": 1.0})
    beat = run._writer_state()
    run.log({"avg": 3.0, "loss": 0.5})
    run.finish(quiet=True)
    settled()
    paths = RunPaths(Path(run.dir))
    odd = {"summary_means": {"avg": "two"}, "summary_set": 7, "pid_start": -1}
    atomic_write_json(paths.writer_state(beat["writer"]), {**beat, "state": "running", **odd})
    stored = StoredRun.load(paths)
    assert stored is not None
    assert (stored.summary["loss"], stored.summary["avg"]) == (0.5, 1.0)  # the mean: unknown
