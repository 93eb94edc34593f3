"""A resumed run's defined summaries (define_metric summary="min"/"max"/"mean"/"first")
cover the rows of every generation, as wandb's do: a job killed and requeued keeps its best
val_loss. Found by the session-13 breaker (a wandb user porting a requeued training job)."""

from __future__ import annotations

import pytest

import flightlog

from .conftest import python_script

TRAIN = """
import os, sys
import flightlog as wandb
run = wandb.init(project="p", id="requeue1", resume="allow")
run.define_metric("val_loss", summary="min")
run.define_metric("acc", summary="max")
run.define_metric("lr", summary="first")
run.define_metric("grad", summary="mean")
for loss, acc, lr, grad in {rows}:
    run.log({{"val_loss": loss, "acc": acc, "lr": lr, "grad": grad}})
{end}
"""


def _generation(rows: list[tuple[float, float, float, float]], end: str) -> None:
    res = python_script(TRAIN.format(rows=rows, end=end))
    assert res.returncode == (0 if end == "run.finish()" else 9), res.stderr


def test_a_requeued_run_keeps_its_best_values_in_the_summary(api: flightlog.Api) -> None:
    # killed by the scheduler after its best epoch, then requeued and finished
    _generation([(0.9, 0.1, 1e-3, 1.0), (0.2, 0.8, 5e-4, 3.0)], "os._exit(9)")
    _generation([(0.7, 0.3, 1e-4, 5.0)], "run.finish()")
    summary = api.run("p/requeue1").summary
    assert summary["val_loss"] == 0.2
    assert summary["acc"] == 0.8
    assert summary["lr"] == 1e-3
    assert summary["grad"] == pytest.approx(3.0)


def test_a_resumed_run_that_has_not_logged_a_key_yet_still_summarises_it() -> None:
    _generation([(0.9, 0.1, 1e-3, 1.0), (0.2, 0.8, 5e-4, 3.0)], "os._exit(9)")
    run = flightlog.init(project="p", id="requeue1", resume="allow")
    run.define_metric("val_loss", summary="min")
    assert run.summary["val_loss"] == 0.2
    run.finish()
