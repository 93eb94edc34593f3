"""Every exception flightlog raises on purpose, in one hierarchy (as httpx does).

Each message names what is wrong and what to do about it.
"""

from __future__ import annotations


class Error(Exception):
    """Base class of flightlog's own errors (`flightlog.Error`, like `wandb.Error`)."""


class UsageError(Error):
    """The API was called in a way that cannot work (e.g. `log()` before `init()`)."""


class ConfigError(UsageError, ValueError):
    """A config key was changed without `allow_val_change=True`."""


class ResumeError(UsageError):
    """`resume=` asked for something the store cannot give (run missing, or already there)."""


class NotFoundError(Error, LookupError):
    """A run or project named by the caller is not in the store."""
