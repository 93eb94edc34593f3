"""A resumed run's summary is the one the same rows logged by one process give: each key's
min, max, mean, first and last over every generation, ints staying ints, NaN left out of
the figures as log() leaves it out, whatever segments the earlier rows were cut into
(store/history_fold.py folds them one at a time)."""

from __future__ import annotations

import tempfile
from typing import Any

from hypothesis import HealthCheck, given, settings

import flightlog

from .conftest import settled
from .summary_rows import ROWS, RULES, typed


def _generation(root: str, run_id: str, rows: list[dict[str, Any]], **resume: Any) -> None:
    run = flightlog.init(project="p", id=run_id, dir=root, settings={"segment_rows": 4}, **resume)
    for name, rule in RULES.items():
        run.define_metric(name, summary=rule)
    for row in rows:
        run.log(row)
    run.finish(quiet=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=ROWS, after=ROWS)
def test_a_resumed_runs_summary_is_the_uninterrupted_runs(
    before: list[dict[str, Any]], after: list[dict[str, Any]]
) -> None:
    with tempfile.TemporaryDirectory() as root:
        _generation(root, "whole", before + after)
        _generation(root, "split", before)
        settled()
        _generation(root, "split", after, resume="must")
        settled()
        api = flightlog.Api(root)
        whole, split = api.run("p/whole").summary, api.run("p/split").summary
        assert typed(dict(split)) == typed(dict(whole))
