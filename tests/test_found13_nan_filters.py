"""A run whose metric diverged to NaN: `summary.acc > 0.5` must not list it, and sorting by
acc, best first, must not put it on top (DuckDB orders NaN above every number; wandb's query
language does not match NaN with a comparison). `= nan` still finds it. Found by the
session-13 breaker."""

from __future__ import annotations

import flightlog

from .conftest import settled


def _runs() -> None:
    for acc in (0.9, float("nan"), 0.3):
        run = flightlog.init(project="p", name=f"acc-{acc}", reinit="finish_previous")
        run.log({"acc": acc})
        run.finish()
    settled()


def test_a_comparison_does_not_match_a_nan_summary(api: flightlog.Api) -> None:
    _runs()
    assert [r.name for r in api.runs("p", filters="summary.acc > 0.5")] == ["acc-0.9"]
    wandb_style = api.runs("p", filters={"summary_metrics.acc": {"$gt": 0.5}})
    assert [r.name for r in wandb_style] == ["acc-0.9"]
    assert [r.name for r in api.runs("p", filters="summary.acc = nan")] == ["acc-nan"]
    assert {r.name for r in api.runs("p", filters="summary.acc != 0.9")} == {"acc-0.3", "acc-nan"}


def test_sorting_by_a_summary_puts_nan_last(api: flightlog.Api) -> None:
    _runs()
    best_first = [r.name for r in api.runs("p", order="-summary_metrics.acc")]
    assert best_first == ["acc-0.9", "acc-0.3", "acc-nan"]
