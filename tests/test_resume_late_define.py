"""`define_metric(k, summary=...)` called by a resumed process after it logged k (a script
that sets up its metrics once the first batch is seen): k's aggregate covers the earlier
generations' rows and the value this process logged before the call, as a run that never
stopped starts a late aggregate from its latest value. It left this process's value out."""

from __future__ import annotations

import pytest

import flightlog

from .conftest import settled


def _first_generation() -> None:
    run = flightlog.init(project="p", id="late1")
    for loss in (0.5, 0.3):
        run.log({"loss": loss, "grad": loss * 10, "acc": 1})
    run.finish(quiet=True)
    settled()


def test_a_late_aggregate_of_a_resumed_run_counts_what_this_process_logged(
    api: flightlog.Api,
) -> None:
    _first_generation()
    run = flightlog.init(project="p", id="late1", resume="must")
    run.log({"loss": 0.1, "grad": 7.0})
    run.define_metric("loss", summary="min")
    run.define_metric("grad", summary="mean")
    run.define_metric("acc", summary="mean")  # logged by the earlier generation only
    assert run.summary["loss"] == 0.1
    assert run.summary["grad"] == pytest.approx((5 + 3 + 7) / 3)
    assert run.summary["acc"] == 1
    run.finish(quiet=True)
    summary = api.run("p/late1").summary
    assert (summary["loss"], summary["acc"]) == (0.1, 1)
    assert summary["grad"] == pytest.approx(5.0)


def test_a_late_mean_of_a_resumed_run_does_not_count_the_stored_last_value_twice(
    api: flightlog.Api,
) -> None:
    _first_generation()
    run = flightlog.init(project="p", id="late1", resume="must")
    run.define_metric("grad", summary="mean")
    run.log({"grad": 7.0})
    run.finish(quiet=True)
    assert api.run("p/late1").summary["grad"] == pytest.approx(5.0)
