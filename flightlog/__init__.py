"""flightlog: an offline-first experiment tracker with the wandb.init() API.

    import flightlog as wandb
    run = wandb.init(project="demo", config={"lr": 1e-3})
    for step in range(100):
        wandb.log({"loss": 1 / (step + 1)})
    run.finish()

This module is the public face; importing it loads only the write path (pyarrow), never
duckdb, textual, httpx or watchdog, so `import flightlog` costs what `import pyarrow` does
(and the `flightlog` command, not even that: `_the_command`).
"""

# ruff: noqa: F405 - the write path's names come from `from ._public import *`
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from . import _state
from ._errors import ConfigError, Error, ResumeError, UsageError


def _the_command() -> bool:
    """Whether this process is the `flightlog` command: its console script, or `python -m
    flightlog.cli`. It imports what each command needs, and lists runs without pyarrow and
    numpy (~150-250 ms of a ~300 ms `flightlog runs`), so the write path's names below load
    at their first use in it; any other importer (a training script) gets them with
    `import flightlog`, so its init() and first log() import nothing."""
    argv = getattr(sys, "orig_argv", None) or []
    script = os.path.basename((getattr(sys, "argv", None) and sys.argv[0]) or "")
    module = argv[argv.index("-m") + 1] if "-m" in argv[:-1] else None
    return module == "flightlog.cli" or script in ("flightlog", "flightlog.exe")


if TYPE_CHECKING or not _the_command():
    from ._public import *  # noqa: F403

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
    if name in __all__:  # (the command: the write path's, on first use)
        from . import _public

        value = globals()[name] = getattr(_public, name)
        return value
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
