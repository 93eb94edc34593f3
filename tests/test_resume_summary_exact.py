"""A resumed run's summary is the one the same rows logged by one process give: each key's
min, max, mean, first and last over every generation, ints staying ints, NaN left out of
the figures as log() leaves it out, whatever segments the earlier rows were cut into
(store/history_fold.py folds them one at a time)."""

from __future__ import annotations

import math
import tempfile
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flightlog

from .conftest import settled

RULES = {"lo": "min", "hi": "max", "avg": "mean", "one": "first", "end": "last"}
KEYS = [*RULES, "plain"]
#: ints, floats that never equal an int (a tie of 3 and 3.0 may keep either), NaN, bools,
#: strings
VALUES = st.one_of(
    st.integers(-50, 50),
    st.integers(-50, 50).map(lambda i: i + 0.5),
    st.just(math.nan),
    st.booleans(),
    st.sampled_from(["x", "y"]),
)
ROWS = st.lists(st.dictionaries(st.sampled_from(KEYS), VALUES, min_size=1), min_size=1, max_size=9)


def _typed(summary: dict[str, Any]) -> dict[str, Any]:
    """What a user sees of each value: its type and value, NaN as itself."""
    out = {}
    for k, v in summary.items():
        if k not in ("_runtime", "_timestamp"):
            out[k] = (type(v).__name__, "nan" if isinstance(v, float) and math.isnan(v) else v)
    return out


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
        assert _typed(dict(split)) == _typed(dict(whole))
