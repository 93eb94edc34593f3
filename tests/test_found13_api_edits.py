"""Editing a finished run through the public API, as wandb users do after a sweep: tag the
best run, fix its name, add a config note, `run.update()`. The edits are stored (run.json,
merged as a writer's changes are), and listings and filters see them. Found by the
session-13 breaker."""

from __future__ import annotations

import flightlog

from .conftest import settled


def _finished_run() -> str:
    run = flightlog.init(project="p", name="first-name", tags=["sweep"], config={"lr": 0.1})
    run.log({"acc": 0.9})
    run.finish()
    settled()
    return run.id


def test_tags_name_notes_and_config_edited_through_the_api_are_stored(
    api: flightlog.Api,
) -> None:
    run_id = _finished_run()
    run = api.run(f"p/{run_id}")
    run.tags.append("best")
    run.name = "the-best"
    run.notes = "picked after the sweep"
    run.config["note"] = "rerun with seed 2"
    run.update()
    again = flightlog.Api(api.root).run(f"p/{run_id}")
    assert again.tags == ["sweep", "best"]
    assert (again.name, again.notes) == ("the-best", "picked after the sweep")
    assert again.config == {"lr": 0.1, "note": "rerun with seed 2"}
    assert [r.id for r in api.runs("p", filters={"tags": {"$in": ["best"]}})] == [run_id]


def test_a_summary_value_set_through_the_api_is_stored(api: flightlog.Api) -> None:
    run_id = _finished_run()
    run = api.run(f"p/{run_id}")
    run.summary["best_epoch"] = 7
    run.summary.update()
    run.update()
    assert flightlog.Api(api.root).run(f"p/{run_id}").summary["best_epoch"] == 7


def test_summary_edits_are_listed_removed_and_yield_to_a_resumed_runs_later_values(
    api: flightlog.Api,
) -> None:
    """An evaluation script adds test_acc and drops acc; listings and filters see it; a
    resume that logs acc again shows its new value, and test_acc stays."""
    run_id = _finished_run()
    run = api.run(f"p/{run_id}")
    run.summary.update({"test_acc": 0.93})  # stored at once, as wandb's summary.update()
    del run.summary["acc"]
    run.update()
    again = flightlog.Api(api.root).run(f"p/{run_id}")
    assert again.summary.get("test_acc") == 0.93 and "acc" not in again.summary
    assert [r.id for r in api.runs("p", filters="summary.test_acc > 0.9")] == [run_id]
    resumed = flightlog.init(project="p", id=run_id, resume="must")
    resumed.log({"acc": 0.95})
    resumed.finish()
    settled()
    last = flightlog.Api(api.root).run(f"p/{run_id}").summary
    assert (last.get("acc"), last.get("test_acc")) == (0.95, 0.93)


def test_two_api_editors_of_one_summary_keep_both_edits(api: flightlog.Api) -> None:
    """Two evaluation scripts add their own numbers to one run, each read before the other
    wrote: both stay (the review found the second replaced the first's summary_edits)."""
    run_id = _finished_run()
    first, second = api.run(f"p/{run_id}"), flightlog.Api(api.root).run(f"p/{run_id}")
    first.summary["test_acc"] = 0.93
    second.summary["ood_acc"] = 0.71
    first.update()
    second.update()
    summary = flightlog.Api(api.root).run(f"p/{run_id}").summary
    assert (summary.get("test_acc"), summary.get("ood_acc")) == (0.93, 0.71)
