"""flightlog: an offline-first experiment tracker with the wandb.init() API.

    import flightlog as wandb
    run = wandb.init(project="demo", config={"lr": 1e-3})
    for step in range(100):
        wandb.log({"loss": 1 / (step + 1)})
    run.finish()

This module is the public face; importing it loads only the write path (pyarrow), never
duckdb, textual, httpx or watchdog, so `import flightlog` costs what `import pyarrow` does.
"""

from __future__ import annotations

from typing import Any

from . import _state
from ._errors import ConfigError, Error, ResumeError, UsageError
from ._histogram import Histogram
from ._init import init
from ._run import Run
from ._run_compat import AlertLevel
from ._summary import MetricDef
from ._wandb_api import (
    alert,
    log_artifact,
    log_code,
    log_model,
    login,
    mark_preempting,
    require,
    setup,
    teardown,
    termerror,
    termlog,
    termwarn,
    unwatch,
    use_artifact,
    use_model,
    watch,
)
from ._wandb_settings import Settings
from .artifacts import Artifact
from .media import Audio, Html, Image, Molecule, Object3D, Plotly, Table, Video, plot

__version__ = "0.1.0"

__all__ = [
    "AlertLevel",
    "Api",
    "Artifact",
    "Audio",
    "ConfigError",
    "Error",
    "Histogram",
    "Html",
    "Image",
    "MetricDef",
    "Molecule",
    "Object3D",
    "Plotly",
    "ResumeError",
    "Run",
    "Settings",
    "Table",
    "UsageError",
    "Video",
    "__version__",
    "alert",
    "define_metric",
    "finish",
    "init",
    "log",
    "log_artifact",
    "log_code",
    "log_model",
    "login",
    "mark_preempting",
    "plot",
    "require",
    "save",
    "setup",
    "teardown",
    "termerror",
    "termlog",
    "termwarn",
    "unwatch",
    "use_artifact",
    "use_model",
    "watch",
]


def log(data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    """`run.log()` on the current run (see `Run.log`)."""
    _state.for_log().log(data, step=step, commit=commit)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the current run, if there is one."""
    run = _state.current()
    if run is not None:
        run.finish(exit_code=exit_code, quiet=quiet)


def define_metric(name: str, **kwargs: Any) -> MetricDef:
    """`run.define_metric()` on the current run."""
    return _state.require("define_metric()").define_metric(name, **kwargs)


def save(
    glob_str: str | None = None, base_path: str | None = None, policy: str = "live"
) -> list[str]:
    """`run.save()` on the current run: metadata now, or copies of files (see Run.save)."""
    return _state.require("save()").save(glob_str, base_path, policy)


def __getattr__(name: str) -> Any:
    if name == "Api":  # reading loads numpy and pyarrow.compute: not for a training script
        from ._api import Api

        return Api
    # wandb.run / wandb.config / wandb.summary follow the current run
    if name == "run":
        return _state.current()
    if name in ("config", "summary"):
        run = _state.current()
        return getattr(run, name) if run is not None else _state.PreInit(name)
    from ._wandb_alias import WANDB_NAMES, wandb_name

    if name in WANDB_NAMES:  # wandb.util.generate_id(), wandb.errors.CommError, ...
        return wandb_name(name)
    raise AttributeError(f"module 'flightlog' has no attribute {name!r}")
