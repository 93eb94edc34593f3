"""The rules every value entering a run obeys, checked before anything is written.

A bad value must fail in the call that passed it, with one error naming the value, where it
came from (`init(name=...)`, `settings['flush_interval']`, `FLIGHTLOG_NAME`) and the fix -
never later as an OverflowError in `log()`, a run.json that breaks listing the store, a writer
thread spinning a core, or a run directory left behind by a half-done `init()`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any

from flightlog.store import check_name, check_run_id
from flightlog.store.text import CONTROL

from ._config import as_mapping, checked
from ._errors import ArgumentError, ArgumentTypeError

#: the largest step accepted: exact as a float (charts, JSON readers) and far enough below
#: int64's limit (history's step column) that counting on from it can never overflow
MAX_STEP = 2**53

#: (lowest, highest) accepted for each numeric setting, and why the bounds exist
_NUMBERS: dict[str, tuple[type, float, float, str]] = {
    "flush_interval": (float, 0.01, 60.0, "seconds between writes to disk"),
    "fsync_interval": (float, 0.0, 3600.0, "seconds between fsyncs"),
    "heartbeat_interval": (float, 0.01, 30.0, "readers take a writer silent for 60 s as gone"),
    "segment_seconds": (float, 0.01, 1e7, "a segment is sealed at that age"),
    "stats_interval": (float, 0.0, 86400.0, "0 turns system metrics off"),
    "segment_rows": (int, 1, 10**9, "rows per segment file"),
    "max_buffered_rows": (int, 1, 10**9, "rows held in memory while the disk is failing"),
    "console_max_bytes": (int, 0, 2**40, "bytes of console output kept"),
    "media_max_bytes": (int, 0, 2**50, "bytes of media files a run stores"),
    "media_max_files": (int, 0, 10**9, "media files a run stores"),
}

#: text settings: longest accepted length, and whether line breaks are allowed
_TEXTS: dict[str, tuple[int, bool]] = {
    "name": (256, False),
    "group": (256, False),
    "job_type": (128, False),
    "label": (128, False),
    "notes": (1_000_000, True),
    "api_key": (1024, False),
    "base_url": (2048, False),
    "mode": (32, False),
    "console": (32, False),
}
_TAG_MAX = 64
_BOOLS = ("silent", "disable_git")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def check_text(value: Any, what: str, *, max_len: int = 256, lines: bool = False) -> str:
    """A non-empty string of at most `max_len` characters without control characters
    (with `lines`, free text: line breaks, tabs and emptiness allowed)."""
    if not isinstance(value, str):
        raise ArgumentTypeError(
            f"{what} must be a string, got {type(value).__name__} {value!r}: pass str(...)"
        )
    if not value.strip() and not lines:
        raise ArgumentError(f"{what} must not be empty: give it some text or leave it unset")
    if len(value) > max_len:
        raise ArgumentError(
            f"{what} is {len(value):,} characters long; the limit is {max_len:,}: shorten it"
        )
    bad = CONTROL.search(value.replace("\n", "").replace("\t", "") if lines else value)
    if bad:
        raise ArgumentError(
            f"{what} {value[:80]!r} contains the control character {bad.group()!r}: "
            "remove it (terminals would act on it when the run is shown)"
        )
    return value


def check_tags(value: Any, what: str = "tags") -> tuple[str, ...]:
    """A list, tuple or set of tag strings (each 1-64 characters, no control characters)."""
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise ArgumentTypeError(
            f"{what} must be a list of strings, got {type(value).__name__} {value!r}: "
            f"e.g. tags=[{str(value)!r}]"
        )
    return tuple(check_text(t, f"tag {t!r} in {what}", max_len=_TAG_MAX) for t in value)


def check_number(value: Any, key: str, what: str) -> float | int:
    """A finite int/float within the bounds `_NUMBERS` gives for `key`."""
    kind, lo, hi, why = _NUMBERS[key]
    number = value
    if isinstance(value, str):  # from the environment
        try:
            number = float(value.strip())
        except ValueError:
            pass
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise ArgumentTypeError(
            f"{what}={value!r} is not {'an integer' if kind is int else 'a number of seconds'} "
            f"({why})"
        )
    if not math.isfinite(number) or not lo <= number <= hi:
        raise ArgumentError(f"{what}={value!r} is out of range: use {lo:g} to {hi:g} ({why})")
    if kind is int and not float(number).is_integer():
        raise ArgumentError(f"{what}={value!r} must be a whole number ({why})")
    return kind(number)


def check_bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise ArgumentTypeError(f"{what} must be True or False, got {value!r}")


def check_entity(value: Any, what: str) -> str:
    """The server's entity rule (sync.accounts), so a run that stores locally also syncs."""
    from flightlog.sync.accounts import check_entity as server_rule

    try:
        return server_rule(value)
    except ValueError as e:
        raise _as_argument_error(e, what, value) from None


def check_dir(value: Any, what: str) -> str | os.PathLike[str]:
    if not isinstance(value, str | os.PathLike):
        raise ArgumentTypeError(
            f"{what} must be a path (str or pathlib.Path), got {type(value).__name__} {value!r}"
        )
    text = os.fspath(value)
    if not isinstance(text, str) or not text or "\0" in text:
        raise ArgumentError(f"{what}={value!r} is not a usable directory path")
    return value


def _as_argument_error(e: ValueError, what: str, value: Any) -> ArgumentError:
    kind = ArgumentTypeError if not isinstance(value, str) else ArgumentError
    return kind(f"{what}: {e}")


def _store_rule(rule: Callable[[str], str]) -> Callable[[Any, str], str]:
    def check(value: Any, what: str) -> str:
        try:
            return rule(value)
        except ValueError as e:
            raise _as_argument_error(e, what, value) from None

    return check


_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "project": _store_rule(lambda v: check_name(v, "project")),
    "id": _store_rule(check_run_id),
    "entity": check_entity,
    "tags": check_tags,
    "dir": check_dir,
}


def check_setting(key: str, value: Any, what: str) -> Any:
    """One setting (or run attribute such as `run.name`) checked by its rule."""
    if key in _CHECKS:
        return _CHECKS[key](value, what)
    if key in _TEXTS:
        max_len, lines = _TEXTS[key]
        return check_text(value, what, max_len=max_len, lines=lines)
    if key in _NUMBERS:
        return check_number(value, key, what)
    if key in _BOOLS:
        return check_bool(value, what)
    if key in ("resume", "reinit") and not isinstance(value, str | bool):
        raise ArgumentTypeError(
            f"{what} must be a string or True/False, got {type(value).__name__} {value!r}"
        )
    return value


def check_settings(values: dict[str, Any], origin: Mapping[str, str]) -> dict[str, Any]:
    """Every merged setting checked and normalised; `origin` names where each came from.
    An empty string means unset (`init(name=args.name)` with argparse's default of "")."""
    return {
        k: None if v is None or v == "" else check_setting(k, v, origin.get(k) or f"{k}=")
        for k, v in values.items()
    }


def check_step(step: Any) -> int:
    """A `log(step=...)` value as an int in 0..MAX_STEP (integral floats and numpy ints too)."""
    integral = isinstance(step, int | float) or hasattr(step, "__index__")  # numpy ints
    if isinstance(step, bool) or not integral:
        raise ArgumentTypeError(
            f"step must be an int, got {type(step).__name__} {step!r}: pass int(step)"
        )
    if isinstance(step, float) and not step.is_integer():
        raise ArgumentError(
            f"step must be a whole number, got {step!r}: pass an int (e.g. round(step))"
        )
    as_int = int(step)
    if not 0 <= as_int <= MAX_STEP:
        raise ArgumentError(
            f"step must be an integer from 0 to 2**53, got {step!r}: "
            "count steps from 0 (leave step out to have flightlog count them)"
        )
    return as_int


def checked_config(config: Any, include: Any = None, exclude: Any = None) -> dict[str, Any]:
    """init()'s `config=` (filtered by config_include_keys / config_exclude_keys) as entries
    ready to store: a circular, tuple-keyed or huge config fails here, not after mkdir."""
    cfg = as_mapping(config)
    for keys, what in ((include, "config_include_keys"), (exclude, "config_exclude_keys")):
        if keys is not None and (
            isinstance(keys, str) or not isinstance(keys, list | tuple | set | frozenset)
        ):
            raise ArgumentTypeError(f"{what} must be a list of key names, got {keys!r}")
    if include:
        cfg = {k: v for k, v in cfg.items() if k in include}
    if exclude:
        cfg = {k: v for k, v in cfg.items() if k not in exclude}
    return checked(cfg)
