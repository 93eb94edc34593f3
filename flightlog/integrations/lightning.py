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


class FlightlogLogger(Logger):
    """The run starts on first use (rank zero only). Picklable for 'spawn': a run unpickles
    as the same run (see `flightlog.Run.__reduce__`)."""

    LOGGER_JOIN_CHAR = "-"

    def __init__(self, prefix: str = "", **init_kwargs: Any) -> None:
        super().__init__()
        self._prefix = prefix
        self._init_kwargs = init_kwargs
        self._run: flightlog.Run | None = None

    @property
    @rank_zero_experiment
    def experiment(self) -> flightlog.Run:
        if self._run is None:
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
        return self._run.dir if self._run else None

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
