"""A nested config value edited through the public API (`run.config["optimizer"]["lr"] =
0.2`, `run.config["layers"].append(64)`, then `run.update()`, as wandb's public Run takes
it) was lost without a word: the editable config was a shallow copy of the run.json read,
so the edit changed that too, and update() found nothing that differed to store. Found by
the session-13 re-breaker. And `run.tags = "best"` stored the tags b, e, s, t, where a
live run's tags refuse a string; `run.config = {...}` raised AttributeError (no setter)."""

from __future__ import annotations

import pytest

import flightlog

from .conftest import settled


def test_a_nested_config_value_edited_through_the_api_is_stored(api: flightlog.Api) -> None:
    run = flightlog.init(project="p", config={"optimizer": {"lr": 0.1}, "layers": [32]})
    run.finish()
    settled()
    edited = api.run(f"p/{run.id}")
    edited.config["optimizer"]["lr"] = 0.2
    edited.config["layers"].append(64)
    edited.update()
    again = flightlog.Api(api.root).run(f"p/{run.id}")
    assert again.config == {"optimizer": {"lr": 0.2}, "layers": [32, 64]}


def test_tags_set_to_a_string_through_the_api_are_refused_as_a_live_runs_are(
    api: flightlog.Api,
) -> None:
    run = flightlog.init(project="p", tags=["sweep"])
    run.finish()
    settled()
    edited = api.run(f"p/{run.id}")
    with pytest.raises(TypeError, match=r"run.tags must be a list of strings.*tags=\['best'\]"):
        edited.tags = "best"
    edited.update()
    assert flightlog.Api(api.root).run(f"p/{run.id}").tags == ["sweep"]


def test_a_config_assigned_whole_through_the_api_is_stored(api: flightlog.Api) -> None:
    run = flightlog.init(project="p", config={"lr": 0.1, "old": 1})
    run.finish()
    settled()
    edited = api.run(f"p/{run.id}")
    edited.config = {**edited.config, "seed": 2}  # wandb's public Run takes a new dict
    del edited.config["old"]
    edited.update()
    assert flightlog.Api(api.root).run(f"p/{run.id}").config == {"lr": 0.1, "seed": 2}
