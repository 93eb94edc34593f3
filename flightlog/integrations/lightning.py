"""`FlightlogLogger`: a Lightning logger writing to flightlog, with WandbLogger's keys
(`trainer/global_step` next to every metric) and its `watch()`.

    trainer = L.Trainer(logger=FlightlogLogger(project="my-project"))
"""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Mapping
from typing import Any

from lightning.fabric.utilities.logger import (
    _add_prefix,
    _convert_params,
    _sanitize_callable_params,
)
from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment
from lightning.pytorch.utilities.rank_zero import rank_zero_only

import flightlog
from flightlog._wandb_api import _attach


class FlightlogLogger(Logger):
    """The run starts on first use (rank zero only). `save_dir` is where Lightning puts
    checkpoints (SAVE_DIR/project/run-id/checkpoints); None, the default, means the
    Trainer's `default_root_dir`, never the store (a checkpoint is no part of a run's
    history: it went into the run's directory there, hidden from the user).

    Picklable for 'spawn' (`ddp_spawn`): the run starts in the parent when the logger is
    pickled, and rank zero of each spawned worker joins that run (see `_attach`), as
    WandbLogger does; before, each spawned fit() or test() started a run of its own."""

    LOGGER_JOIN_CHAR = "-"

    def __init__(self, prefix: str = "", save_dir: str | None = None, **init_kwargs: Any) -> None:
        super().__init__()
        self._prefix = prefix
        self._save_dir = save_dir
        self._init_kwargs = init_kwargs
        self._run: flightlog.Run | None = None
        self._attach_id: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        if self._run is None and rank_zero_only.rank == 0:
            _ = self.experiment
        state = self.__dict__.copy()
        if self._run is not None:
            state["_attach_id"] = self._run._attach_id
        state["_run"] = None  # joined again on first use, by rank zero only
        return state

    @property
    @rank_zero_experiment
    def experiment(self) -> flightlog.Run:
        if self._run is None:
            if self._attach_id is not None:
                self._run = _attach(self._attach_id)
            else:
                self._run = flightlog.run or flightlog.init(**self._init_kwargs)
            self._run.define_metric("trainer/global_step")
            self._run.define_metric("*", step_metric="trainer/global_step")
            self._run._label(code="flightlog_lightning")
        return self._run

    @property
    def name(self) -> str | None:
        return self._run.project if self._run else self._init_kwargs.get("project")

    @property
    def version(self) -> str | None:
        return self._run.id if self._run else self._init_kwargs.get("id")

    @property
    def save_dir(self) -> str | None:
        return self._save_dir

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace) -> None:
        params = _sanitize_callable_params(_convert_params(params))
        self.experiment.config.update(params, allow_val_change=True)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        metrics = _add_prefix(dict(metrics), self._prefix, self.LOGGER_JOIN_CHAR)
        extra = {} if step is None else {"trainer/global_step": step}
        self.experiment.log({**metrics, **extra})

    def watch(
        self, model: Any, log: str | None = "gradients", log_freq: int = 100, log_graph: bool = True
    ) -> None:
        self.experiment.watch(model, log=log, log_freq=log_freq, log_graph=log_graph)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        if self._run is not None and status == "failed":
            self._run.finish(exit_code=1)
