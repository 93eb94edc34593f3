"""A script that holds the edited tags, config or summary of a run read through the public
API (`summary = run.summary`) and edits it again after an update() has that edit stored
too: update() refills them in place with the run as stored, it does not drop them for new
ones (the second edit went into a list or dict no longer the run's, and was lost)."""

from __future__ import annotations

import flightlog

from .conftest import settled


def test_edits_through_held_tags_config_and_summary_are_stored_after_an_update(
    api: flightlog.Api,
) -> None:
    run = flightlog.init(project="p", config={"lr": 0.1})
    run.log({"acc": 0.5})
    run.finish()
    settled()
    edited = api.run(f"p/{run.id}")
    tags, config, summary = edited.tags, edited.config, edited.summary
    tags.append("a")
    config["lr"] = 0.2
    summary["x"] = 1
    summary.update()  # wandb's: stores every edit
    tags.append("b")
    config["batch"] = 32
    summary["y"] = 2
    summary.update()
    again = flightlog.Api(api.root).run(f"p/{run.id}")
    assert again.tags == ["a", "b"]
    assert again.config == {"lr": 0.2, "batch": 32}
    assert (again.summary["acc"], again.summary["x"], again.summary["y"]) == (0.5, 1, 2)
    assert edited.tags is tags and edited.summary is summary and edited.config is config
