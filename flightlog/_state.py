"""The process's current run (`flightlog.run`), as wandb keeps `wandb.run`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import UsageError

if TYPE_CHECKING:
    from ._run import Run

_current: Run | None = None


def current() -> Run | None:
    """The current run, or None when there is none or it has finished."""
    run = _current
    return run if run is not None and not run._finished else None


def set_current(run: Run) -> None:
    global _current
    _current = run


def for_log() -> Run:
    """The run `flightlog.log()` goes to: the current one, or one that a signal finished
    while the script was still logging (its log() drops rows quietly as the process ends)."""
    run = _current
    if run is not None and (not run._finished or run.terminated):
        return run
    return require("log()")


def require(what: str) -> Run:
    run = current()
    if run is None:
        raise UsageError(f"call flightlog.init() before flightlog.{what}")
    return run


class PreInit:
    """Stands in for `flightlog.config` / `flightlog.summary` before `init()`."""

    def __init__(self, what: str) -> None:
        object.__setattr__(self, "_what", what)

    def _fail(self, *_: Any, **__: Any) -> Any:
        raise UsageError(f"call flightlog.init() before using flightlog.{self._what}")

    __getattr__ = __getitem__ = __setitem__ = __setattr__ = __iter__ = __len__ = _fail

    def __repr__(self) -> str:
        return f"<flightlog.{self._what}: no run; call flightlog.init() first>"
