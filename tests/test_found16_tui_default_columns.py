"""The runs screen's default summary columns left the loss out: runs of one script share
every key, the count tied, and the alphabet chose (`epoch`, `grad_norm`, `lr` before
`train/loss`; the sample runs showed `val/acc`, `val/loss`, `epoch`). Ties now go to a loss,
then a quality or eval metric, before bookkeeping (store/summary_columns.py), and `flightlog
runs` shows the same columns."""

from __future__ import annotations

from pathlib import Path

import flightlog
from flightlog.tui import FlightlogApp
from flightlog.tui.runs_table import RunsTable

from .conftest import cli, settled
from .tui_helpers import SIZE, rows, settle


def _metric_columns(app: FlightlogApp) -> list[str]:
    """The summary columns the runs table shows: after the name, before `steps`."""
    columns = list(app.screen.query_one(RunsTable).backend.columns)
    return columns[columns.index("name") + 1 : columns.index("steps")]


async def _shown(store: Path, runs: int) -> list[str]:
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == runs)
        return _metric_columns(app)


async def test_the_sample_runs_show_their_losses(samples: Path) -> None:
    """val/loss and val/acc are declared with define_metric; of the keys every run has,
    train/loss now, not epoch."""
    assert await _shown(samples, 12) == ["val/loss", "val/acc", "train/loss"]


def _log_runs(store: Path) -> None:
    """Three runs of one script (the same keys in each), one of them with an extra loss."""
    for r in range(3):
        run = flightlog.init(project="p", dir=str(store), reinit=True)
        for i in range(3):
            row = {"epoch": i, "grad_norm": 0.5, "lr": 0.1, "train/acc": i / 3, "train/loss": 1.0}
            run.log({**row, **({"aux_loss": 0.2} if r == 0 else {})})
        run.finish(quiet=True)
    settled()


async def test_a_loss_every_run_has_is_shown_before_bookkeeping(tmp_path: Path) -> None:
    """A loss first, an accuracy next, epoch and lr last; a loss one run of three has
    (aux_loss) gives way to the keys every run has."""
    _log_runs(tmp_path)
    assert await _shown(tmp_path, 3) == ["train/loss", "train/acc", "grad_norm"]


def test_flightlog_runs_shows_the_same_columns(tmp_path: Path) -> None:
    _log_runs(tmp_path)
    listed = cli("runs", "--root", str(tmp_path))
    assert listed.returncode == 0, listed.stderr
    header = listed.stdout.splitlines()[0].split()
    assert [c for c in header if c in ("train/loss", "train/acc", "grad_norm", "epoch", "lr")] == [
        "train/loss",
        "train/acc",
        "grad_norm",
    ], listed.stdout
