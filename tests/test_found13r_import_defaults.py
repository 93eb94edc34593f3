"""`flightlog import wandb` run in a wandb project's directory - where its wandb/ runs are,
and its config-defaults.yaml - gave every imported run the defaults file's keys (as they
are today) on top of the config the run had: init() reads that file for a training script,
and the import wrote its runs through init(). An imported run's config is the one wandb
recorded. Found by the session-13 re-breaker."""

from __future__ import annotations

from pathlib import Path

import flightlog
from flightlog.cli import main

from .test_wandb_import import wandb_run  # noqa: F401 - the fixture


def test_an_imported_run_has_the_config_wandb_recorded_only(
    wandb_run: Path,  # noqa: F811
    store: Path,
    tmp_path: Path,
) -> None:
    (tmp_path / "config-defaults.yaml").write_text("epochs: 30\nlr: 0.5\n")  # the cwd's
    assert main(["import", "wandb", str(wandb_run.parent), "--root", str(store)]) == 0
    run = flightlog.Api(store).run("imp/wb0run01")
    assert run.config == {"lr": 0.01, "nested": {"a": 1}}
