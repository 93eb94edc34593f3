"""A resumed run's min/max/mean of a key logged as ints and floats (a score of 1, then
2.5): the earlier generations' figures came back as ints when any row was an int, so max
2.5 became 2 in the summary after the requeued job resumed. Found by the session-13
re-breaker."""

from __future__ import annotations

import flightlog

from .conftest import python_script

TRAIN = """
import flightlog as wandb
run = wandb.init(project="p", id="mixed", resume="allow")
run.define_metric("best", summary="max")
run.define_metric("low", summary="min")
run.define_metric("count", summary="max")
for best, low, count in {rows}:
    run.log({{"best": best, "low": low, "count": count}})
run.finish()
"""


def test_a_resumed_max_of_ints_and_floats_keeps_the_float(api: flightlog.Api) -> None:
    for rows in ([(1, 3, 1), (2.5, 0.25, 2), (2, 1, 3)], [(0, 2, 1)]):
        res = python_script(TRAIN.format(rows=rows))
        assert res.returncode == 0, res.stderr
    summary = api.run("p/mixed").summary
    assert summary["best"] == 2.5
    assert summary["low"] == 0.25
    assert summary["count"] == 3 and isinstance(summary["count"], int)  # ints stay ints
