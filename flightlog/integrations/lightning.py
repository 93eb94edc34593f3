"""`FlightlogLogger`: a Lightning logger writing to flightlog, with WandbLogger's keys
(`trainer/global_step` next to every metric) and its surface: `watch()`, `log_image`,
`log_table`, `log_text`, `log_audio`, `log_video`, `use_artifact`, `download_artifact` and
`log_model=` (checkpoints as model artifacts), so a LightningModule written for WandbLogger
runs unchanged.

    trainer = L.Trainer(logger=FlightlogLogger(project="my-project", log_model="all"))
"""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lightning.fabric.utilities.logger import (
    _add_prefix,
    _convert_params,
    _sanitize_callable_params,
)
from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment
from lightning.pytorch.loggers.utilities import _scan_checkpoints
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
    WandbLogger does; before, each spawned fit() or test() started a run of its own.

    WandbLogger's `version` (the run's id, resumed when it exists: resume="allow", as
    there), `offline` (mode="offline") and `experiment` (a run to log into) mean what they
    mean there; other keywords go to `flightlog.init()`.

    `log_model` as WandbLogger's: "all" logs every checkpoint as it is saved, True the
    checkpoints kept when training ends (every one as saved when save_top_k=-1), each as a
    version of the `model` artifact `checkpoint_name` (model-RUN_ID), the best aliased
    "best"."""

    LOGGER_JOIN_CHAR = "-"

    def __init__(
        self,
        prefix: str = "",
        save_dir: str | None = None,
        log_model: bool | str = False,
        checkpoint_name: str | None = None,
        version: str | None = None,
        offline: bool = False,
        experiment: flightlog.Run | None = None,
        **init_kwargs: Any,
    ) -> None:
        super().__init__()
        self._prefix = prefix
        self._save_dir = save_dir
        self._log_model = log_model
        self._checkpoint_name = checkpoint_name
        if version is not None:  # WandbLogger's name for the run's id
            init_kwargs.setdefault("id", version)
        if "id" in init_kwargs:  # WandbLogger's resume="allow": a requeued job continues
            init_kwargs.setdefault("resume", "allow")
        if offline:
            init_kwargs.setdefault("mode", "offline")
        self._init_kwargs = init_kwargs
        self._run: flightlog.Run | None = experiment
        self._attach_id: str | None = None
        self._logged_model_time: dict[str, float] = {}
        self._checkpoint_callbacks: dict[int, Any] = {}
        #: finalize("failed") finished the run: the next use resumes it (`_resume_kwargs`)
        self._failed_fit = False

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
        if self._run is not None and self._failed_fit:
            self._failed_fit = False
            self._run = flightlog.init(**self._resume_kwargs(self._run))
            self._declare(self._run)
        if self._run is None:
            if self._attach_id is not None:
                self._run = _attach(self._attach_id)
            else:
                self._run = flightlog.run or flightlog.init(**self._init_kwargs)
            self._declare(self._run)
        return self._run

    def _resume_kwargs(self, run: flightlog.Run) -> dict[str, Any]:
        """init() arguments continuing `run`, which a failed fit() finished (`finalize`): a
        script that catches the error and fits again (a retry, then test()) logs into the
        same run, as with WandbLogger; before, every later metric was dropped."""
        where = {"project": run.project, "entity": run.entity, "id": run.id, "resume": "must"}
        if run._paths is not None:  # (a disabled run has no store)
            where["dir"] = str(run._paths.root)
        return {**self._init_kwargs, **where}

    @staticmethod
    def _declare(run: flightlog.Run) -> None:
        run.define_metric("trainer/global_step")
        run.define_metric("*", step_metric="trainer/global_step")
        run._label(code="flightlog_lightning")

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

    @rank_zero_only
    def log_table(
        self,
        key: str,
        columns: list[str] | None = None,
        data: list[list[Any]] | None = None,
        dataframe: Any = None,
        step: int | None = None,
    ) -> None:
        self.log_metrics({key: flightlog.Table(columns, data, dataframe=dataframe)}, step)

    log_text = log_table  # text is a table of strings, as in WandbLogger

    @rank_zero_only
    def log_image(self, key: str, images: list[Any], step: int | None = None, **kw: Any) -> None:
        """Images (tensors, arrays, PIL images, paths); each kwarg a list, one value an image."""
        self._log_media(key, flightlog.Image, images, step, kw)

    @rank_zero_only
    def log_audio(self, key: str, audios: list[Any], step: int | None = None, **kw: Any) -> None:
        self._log_media(key, flightlog.Audio, audios, step, kw)

    @rank_zero_only
    def log_video(self, key: str, videos: list[Any], step: int | None = None, **kw: Any) -> None:
        self._log_media(key, flightlog.Video, videos, step, kw)

    def _log_media(
        self,
        key: str,
        kind: Callable[..., Any],
        items: list[Any],
        step: int | None,
        kwargs: dict[str, list[Any]],
    ) -> None:
        """`items` as one list of `kind` under `key`, item i given kwargs' i-th values."""
        if not isinstance(items, list):
            raise TypeError(f"{key!r}: expected a list of items, got {type(items).__name__}")
        for name, values in kwargs.items():
            if len(values) != len(items):
                raise ValueError(
                    f"{key!r}: {name}= has {len(values)} values for {len(items)} items: "
                    "give one per item"
                )
        media = [kind(x, **{k: v[i] for k, v in kwargs.items()}) for i, x in enumerate(items)]
        self.log_metrics({key: media}, step)  # type: ignore[dict-item]

    def watch(
        self, model: Any, log: str | None = "gradients", log_freq: int = 100, log_graph: bool = True
    ) -> None:
        self.experiment.watch(model, log=log, log_freq=log_freq, log_graph=log_graph)

    def use_artifact(self, artifact: str, artifact_type: str | None = None) -> flightlog.Artifact:
        """The artifact version, recorded as used by this run (WandbLogger's)."""
        return self.experiment.use_artifact(artifact, type=artifact_type)

    @staticmethod
    @rank_zero_only
    def download_artifact(
        artifact: str,
        save_dir: str | None = None,
        artifact_type: str | None = None,
        use_artifact: bool | None = True,
    ) -> str:
        """Copy an artifact version's files out (WandbLogger's): through the current run,
        which records the use, or from the store when there is none."""
        run = flightlog.run
        if run is not None and use_artifact:
            found = run.use_artifact(artifact, type=artifact_type)
        else:
            found = flightlog.Api().artifact(artifact, type=artifact_type)
        return found.download(root=save_dir)

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        if self._log_model == "all" or (
            self._log_model is True and checkpoint_callback.save_top_k == -1
        ):
            self._log_checkpoints(checkpoint_callback)
        elif self._log_model is True:
            self._checkpoint_callbacks[id(checkpoint_callback)] = checkpoint_callback

    def _log_checkpoints(self, checkpoint_callback: Any) -> None:
        """The callback's checkpoints not logged yet (or saved again since), oldest first."""
        run = self.experiment
        name = self._checkpoint_name or f"model-{run.id}"
        new = _scan_checkpoints(checkpoint_callback, self._logged_model_time)
        for mtime, path, score, _ in new:
            art = flightlog.Artifact(
                name, "model", metadata={"score": score, "original_filename": Path(path).name}
            )
            art.add_file(path, name="model.ckpt")
            best = path == checkpoint_callback.best_model_path
            run.log_artifact(art, aliases=["best"] if best else [])
            self._logged_model_time[path] = mtime

    @rank_zero_only
    def finalize(self, status: str) -> None:
        if self._run is not None and status == "failed":
            self._run.finish(exit_code=1)
            self._failed_fit = True
        elif status == "success" and self._run is not None:
            for callback in self._checkpoint_callbacks.values():
                self._log_checkpoints(callback)
