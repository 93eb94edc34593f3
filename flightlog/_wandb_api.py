"""wandb's module-level functions that real scripts call besides init/log/finish: `login()`,
`termlog/termwarn/termerror`, `require()`, `watch()`, `alert()`, `log_artifact()`, ...

Each works on the current run like wandb's (see `flightlog._run_compat` for the Run side), or
is a documented harmless equivalent. Nothing here imports torch, httpx or duckdb at import.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

from . import _state
from ._errors import NotLoggedInError
from ._run import Run
from .artifacts import Artifact

_said: set[str] = set()


def _term(prefix: str, message: str, repeat: bool, silent_ok: bool = True) -> None:
    if not repeat:
        if message in _said:
            return
        _said.add(message)
    if silent_ok and os.environ.get("FLIGHTLOG_SILENT", os.environ.get("WANDB_SILENT")):
        return
    for line in str(message).splitlines() or [""]:
        print(f"flightlog:{prefix} {line}", file=sys.stderr, flush=True)


def termlog(
    string: str = "", newline: bool = True, repeat: bool = True, prefix: bool = True
) -> None:
    """A line on stderr, prefixed like flightlog's own (wandb's `termlog`)."""
    _term("", string, repeat)


def termwarn(string: str, repeat: bool = True, **_kwargs: Any) -> None:
    _term(" WARNING", string, repeat)


def termerror(string: str, repeat: bool = True, **_kwargs: Any) -> None:
    _term(" ERROR", string, repeat, silent_ok=False)


def login(
    key: str | None = None,
    relogin: bool | None = None,
    host: str | None = None,
    anonymous: str | None = None,
    timeout: int | None = None,
    verify: bool = False,
    **_kwargs: Any,
) -> bool:
    """True when this machine can sync (a key given, in FLIGHTLOG_API_KEY/WANDB_API_KEY, or
    saved by `flightlog login`). Never prompts: a training job has no one to answer. A `key`
    passed here is saved like `flightlog login` does. Offline use needs no login at all."""
    from flightlog.sync import credentials

    if key:
        base = credentials.load(base_url=host).base_url
        credentials.save(base, key)
        return True
    creds = credentials.load(base_url=host)
    if creds.logged_in:
        return True
    if verify:
        raise NotLoggedInError(creds.how_to_sign_in)
    termlog(f"{creds.how_to_sign_in}. Runs are stored offline until then", repeat=False)
    return False


def require(requirement: str | list[str] | None = None, experiment: Any = None) -> None:
    """wandb feature flags ("service", "core"): flightlog has no optional backends, so every
    one is already satisfied."""


def setup(settings: Any = None) -> None:
    """wandb's `setup()` starts its service process; flightlog has none to start."""


def teardown(exit_code: int | None = None) -> None:
    """Finish the current run, as wandb's `teardown()` does."""
    run = _state.current()
    if run is not None:
        run.finish(exit_code=exit_code)


def watch(models: Any, *args: Any, **kwargs: Any) -> None:
    """`run.watch()` on the current run (same arguments)."""
    _state.require("watch()").watch(models, *args, **kwargs)


def unwatch(models: Any = None) -> None:
    _state.require("unwatch()").unwatch(models)


def alert(
    title: str, text: str, level: str | None = None, wait_duration: float | None = None
) -> None:
    _state.require("alert()").alert(title, text, level, wait_duration)


def mark_preempting() -> None:
    _state.require("mark_preempting()").mark_preempting()


def log_artifact(
    artifact_or_path: Any,
    name: str | None = None,
    type: str | None = None,
    aliases: list[str] | None = None,
    **kwargs: Any,
) -> Artifact:
    return _state.require("log_artifact()").log_artifact(artifact_or_path, name, type, aliases)


def log_model(path: Any, name: str | None = None, aliases: list[str] | None = None) -> Artifact:
    return _state.require("log_model()").log_model(path, name, aliases)


def use_artifact(artifact_or_name: Any, *args: Any, **kwargs: Any) -> Artifact:
    return _state.require("use_artifact()").use_artifact(artifact_or_name, *args, **kwargs)


def use_model(name: str) -> str:
    return _state.require("use_model()").use_model(name)


def log_code(
    root: str | None = ".", name: str | None = None, include_fn: Any = None, exclude_fn: Any = None
) -> None:
    _state.require("log_code()").log_code(root, name, include_fn, exclude_fn)


def _attach(attach_id: str, **_kwargs: Any) -> Run:
    """The run a pickled `Run` (or Lightning's logger in a spawn worker) refers to: the
    current one if it is that run, else joined in mode="shared"."""
    root, project, run_id = attach_id.split("|")
    run = _state.current()
    if run is not None and run.id == run_id and run.project == project:
        return run
    from ._init import init

    return init(
        dir=root, project=project, id=run_id, mode="shared", resume="allow", reinit="create_new"
    )


#: init() keys wandb has and flightlog cannot honour yet: said once each (never silently)
UNSUPPORTED_INIT = {
    "sync_tensorboard": "TensorBoard event files are not read; log the values with log()",
    "monitor_gym": "gym videos are not recorded",
    "tensorboard": "TensorBoard event files are not read; log the values with log()",
    "fork_from": "forking is not supported; the run starts fresh",
    "resume_from": "rewinding is not supported; use resume='allow' to continue the run",
    "anonymous": "flightlog has no anonymous mode; runs are stored locally",
}


def apply_init_extras(run: Run, kwargs: dict[str, Any]) -> None:
    """What init() was given beyond flightlog's own arguments: `save_code=True` keeps the
    script with the run; the keys flightlog cannot honour are said once each."""
    if kwargs.get("save_code") and not run.disabled:
        run.log_code(root=None)
    for key, why in UNSUPPORTED_INIT.items():
        if kwargs.get(key) and key not in _said:
            _said.add(key)
            warnings.warn(
                f"flightlog: init({key}=...) is ignored: {why}", RuntimeWarning, stacklevel=3
            )
