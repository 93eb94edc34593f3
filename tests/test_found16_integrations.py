"""The framework integrations under ordinary events (session 16's fault hunt): a fit that
raises and is tried again, in real child processes on CPU. Skipped when the framework is not
installed (the `integrations` extra installs them)."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog

from .conftest import python_script
from .framework_scripts import LIGHTNING_MODULE

pytestmark = pytest.mark.slow

RETRIED_FIT = """
from flightlog.integrations.lightning import FlightlogLogger

class Flaky(Tiny):
    fail = True
    def training_step(self, batch, i):
        if self.fail and self.global_step == 5:
            raise RuntimeError("loss went NaN")
        return super().training_step(batch, i)

logger = FlightlogLogger(project="pl", id="retried")
model = Flaky()
try:
    trainer(max_epochs=2, logger=logger).fit(model, loader)
except RuntimeError as e:
    print("CAUGHT", e)
model.fail = False
trainer(max_epochs=2, logger=logger).fit(model, loader)
trainer(logger=logger).test(model, loader)
"""


def test_lightning_fit_tried_again_after_an_error_keeps_logging_into_the_run(
    store: Path, tmp_path: Path
) -> None:
    """A script that catches a failed fit() and fits again with the same logger (a retry
    with another setting, then test()): WandbLogger's run takes every later metric. The
    logger finished the run at the failure (`finalize("failed")`) and then dropped every
    metric of the second fit and of test() ("run ... is finished; log() is ignored")."""
    pytest.importorskip("lightning")
    r = python_script(LIGHTNING_MODULE + RETRIED_FIT, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "CAUGHT loss went NaN" in r.stdout
    assert "log() is ignored" not in r.stderr
    run = flightlog.Api(store).run("pl/retried")
    rows = list(run.scan_history())
    steps = [row["trainer/global_step"] for row in rows if "train_loss" in row]
    assert steps == [1, 3, 1, 3, 5, 7, 9, 11, 13, 15]  # the failed fit's, then the retry's
    assert any("test_loss" in row for row in rows)
    assert run.state == "finished"


REQUEUED = """
from flightlog.integrations.lightning import FlightlogLogger

logger = FlightlogLogger(project="pl", version="job-42")  # the job's id, to resume it
trainer(max_epochs=1, logger=logger).fit(Tiny(), loader)
print("TRAINED")
"""


def test_lightning_logger_with_a_version_resumes_that_run_as_wandb_logger(
    store: Path, tmp_path: Path
) -> None:
    """A requeued job starts again with the same `version` (WandbLogger: "mainly used to
    resume a previous run"; it passes resume="allow"): the second start raised ResumeError
    ("run 'job-42' already exists") at the first metric, so the resumed job died."""
    pytest.importorskip("lightning")
    for _ in range(2):
        r = python_script(LIGHTNING_MODULE + REQUEUED, cwd=tmp_path)
        assert r.returncode == 0, r.stderr[-3000:]
        assert "TRAINED" in r.stdout
    run = flightlog.Api(store).run("pl/job-42")
    steps = [row["trainer/global_step"] for row in run.scan_history() if "train_loss" in row]
    assert steps == [1, 3, 5, 7] * 2
