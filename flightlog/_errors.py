"""Every exception flightlog raises on purpose, in one hierarchy (as httpx does).

Each message names what is wrong and what to do about it.
"""

from __future__ import annotations


class Error(Exception):
    """Base class of flightlog's own errors (`flightlog.Error`, like `wandb.Error`)."""


class UsageError(Error):
    """The API was called in a way that cannot work (e.g. `log()` before `init()`)."""


class ArgumentError(UsageError, ValueError):
    """An `init()` argument, setting, FLIGHTLOG_* variable, run attribute or `log()` step has
    a value flightlog cannot store or use. Raised before anything is written."""


class ArgumentTypeError(ArgumentError, TypeError):
    """As ArgumentError, for a value of the wrong type (`init(name=42)`)."""


class ConfigError(ArgumentError):
    """A config key or value flightlog cannot store (a non-string key, a circular or huge
    value), or a key changed without `allow_val_change=True`."""


class ArtifactError(ArgumentError):
    """An artifact, alias or entry flightlog cannot store or use (a missing file, a bad name,
    an entry added twice, a change after logging). Raised before anything is written."""


class ResumeError(UsageError):
    """`resume=` asked for something the store cannot give (run missing, or already there)."""


class NotFoundError(Error, LookupError):
    """A run or project named by the caller is not in the store."""


class ArtifactNotFoundError(NotFoundError):
    """No artifact version of that name and alias or version, in the store or on the server."""


class SyncError(Error):
    """Talking to a flightlog server failed; the message says why and what to do."""


class NotLoggedInError(SyncError):
    """No API key on this machine, or the server does not know the key."""


class EntityNotFoundError(SyncError, LookupError):
    """The entity (user or team) a run is synced to does not exist on the server."""


class PermissionDeniedError(SyncError, PermissionError):
    """The key is valid but may not read or write this project."""


class ServerRejectedError(SyncError):
    """The server refused a request as invalid (a 4xx other than the three above)."""


class WrongServerError(SyncError):
    """The URL answers, but not as a flightlog server does (a web page, a proxy's login, a
    404 for /api/v1): no request there can work until the URL is fixed."""


class ServerUnavailableError(SyncError, ConnectionError):
    """The server could not be reached or failed (5xx): retried, never a permission error.

    `reason` is what went wrong without the advice (the agent logs it; the CLI prints all);
    `wait` the seconds the server's last answer asked for (Retry-After of a 429 or a 5xx,
    bounded; 0 without one): the agent, whose client does not retry, waits that long. On the
    error, not the client: requests in parallel share one client."""

    def __init__(self, message: str, reason: str = "", wait: float = 0.0) -> None:
        super().__init__(message)
        self.reason = reason or message
        self.wait = wait


class ServerStorageFullError(ServerUnavailableError):
    """The server's disk is full (HTTP 507): nothing is lost, sync again later."""


class UnsupportedError(UsageError):
    """A wandb feature flightlog does not offer (yet); the message says what to do instead."""
