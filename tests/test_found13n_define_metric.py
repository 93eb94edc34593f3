"""Found following the README as a newcomer: `define_metric(name, summary="max")` "picks
the aggregate instead". Called after the key was already logged (a script that sets up its
metrics once the first batch is seen) and not logged again, the key disappears from the
summary altogether: neither its max nor its last value is stored, in run.summary or in what
readers see, while the history holds it. wandb keeps the key in the summary. Its aggregate
now starts from the latest value logged before the definition."""

from __future__ import annotations

import flightlog


def test_define_metric_after_the_key_was_logged_keeps_it_in_the_summary(
    api: flightlog.Api,
) -> None:
    run = flightlog.init(project="p")
    run.log({"acc": 1})
    run.log({"acc": 2})
    run.define_metric("acc", summary="max")
    run.finish(quiet=True)
    assert run.summary.get("acc") == 2, dict(run.summary)  # the max, and the last value
    assert api.run(run.path).summary.get("acc") == 2


def test_an_aggregate_defined_late_goes_on_from_the_latest_value(api: flightlog.Api) -> None:
    run = flightlog.init(project="p")
    run.log({"loss": 0.5})
    run.define_metric("loss", summary="min")
    run.log({"loss": 0.7})
    run.log({"loss": 0.4})
    run.log({"loss": 0.6})
    run.finish(quiet=True)
    assert api.run(run.path).summary.get("loss") == 0.4
