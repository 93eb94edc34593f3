"""wandb's public-API calls that analysis scripts make, unchanged: `Api(timeout=...)`,
`Api(overrides=...)`, `api.runs(path=..., per_page=...)`, `run.history(keys=...,
x_axis="epoch")`. Found by the session-13 breaker (a wandb user porting a report script)."""

from __future__ import annotations

from pathlib import Path

import flightlog

from .conftest import settled


def _two_epochs() -> flightlog.Run:
    run = flightlog.init(project="p")
    for epoch in range(2):
        run.log({"train_loss": 1.0 - epoch / 10})
        run.log({"val_loss": 0.5 - epoch / 10, "epoch": epoch})
    run.finish()
    settled()
    return run


def test_history_with_keys_reads_the_x_axis_too(api: flightlog.Api) -> None:
    run = _two_epochs()
    table = api.run(f"p/{run.id}").history(keys=["val_loss"], x_axis="epoch")
    rows = [r for r in table.to_pylist() if r["val_loss"] is not None]
    assert [(r["epoch"], r["val_loss"]) for r in rows] == [(0, 0.5), (1, 0.4)]


def test_wandb_api_arguments_are_accepted(store: Path) -> None:
    run = _two_epochs()
    api = flightlog.Api(timeout=19)
    assert [r.id for r in api.runs(path="someone/p", per_page=100)] == [run.id]
    assert [r.id for r in api.runs("p", include_sweeps=False)] == [run.id]
    api = flightlog.Api(overrides={"project": "p", "entity": "someone"})
    assert [r.id for r in api.runs()] == [run.id]


def test_history_with_an_x_axis_holds_only_the_rows_of_the_keys_asked_for(
    api: flightlog.Api,
) -> None:
    """The x-axis is read with the keys, not for its own rows: every row returned holds a
    key asked for (the review found rows holding only `epoch` came back too)."""
    run = flightlog.init(project="p")
    for epoch in range(2):
        run.log({"epoch": epoch, "train_loss": 1.0 - epoch / 10})  # the epoch on every row
        run.log({"epoch": epoch, "val_loss": 0.5 - epoch / 10})
    run.finish()
    settled()
    table = api.run(f"p/{run.id}").history(keys=["val_loss"], x_axis="epoch")
    assert [(r["epoch"], r["val_loss"]) for r in table.to_pylist()] == [(0, 0.5), (1, 0.4)]
