"""`flightlog show` on a run with one very long metric name: every metric's values stay on
screen: the name is cut in the middle to the terminal's width (COLUMNS here), as the
terminal UI cuts it. Into a pipe without COLUMNS, names stay whole. Found by the session-13
breaker."""

from __future__ import annotations

import pytest

import flightlog

from .conftest import cli

LONG = "encoder/" + "layer_0/attention/" * 16 + "grad_norm"


def test_show_keeps_metric_values_on_screen_beside_a_very_long_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = flightlog.init(project="p")
    run.log({"train/loss": 0.5, LONG: 3.0})
    run.log({"train/loss": 0.25, LONG: 2.0})
    run.finish(quiet=True)
    monkeypatch.setenv("COLUMNS", "80")
    res = cli("show", run.id)
    assert res.returncode == 0, res.stderr
    loss = next(line for line in res.stdout.splitlines() if line.startswith("train/loss"))
    assert loss[:80].split()[1:4] == ["0.25", "0.25", "0.5"], res.stdout


def test_show_into_a_pipe_keeps_long_names_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    run = flightlog.init(project="p")
    run.log({LONG: 3.0})
    run.finish(quiet=True)
    monkeypatch.delenv("COLUMNS", raising=False)
    res = cli("show", run.id)
    assert res.returncode == 0, res.stderr
    assert LONG in res.stdout
