"""`flightlog runs` lists newest first, as the runs screen of the TUI and wandb's runs table
do: the run a user just started is on the first line, not below months of older ones.
`--sort created_at` still lists oldest first."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog
from flightlog.cli import main

from .conftest import settled


def _names(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert main(["runs", *args]) == 0
    return [line.split()[1] for line in capsys.readouterr().out.splitlines()[1:]]


def test_runs_lists_the_newest_run_first(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("first", "second", "third"):
        flightlog.init(project="p", name=name, reinit=True).finish(quiet=True)
    settled()
    assert _names(capsys) == ["third", "second", "first"]
    assert _names(capsys, "--limit", "2") == ["third", "second"]
    assert _names(capsys, "--sort", "created_at") == ["first", "second", "third"]
    assert _names(capsys, "--sort", "created_at", "--desc") == ["third", "second", "first"]
