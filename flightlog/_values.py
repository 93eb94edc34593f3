"""Turning what a user passes to `log()` into plain Python scalars, fast.

The common case (a flat dict of str -> float/int) is checked with one type test per value and
returned as is. Anything else goes through `_normalize_slow`, which flattens nested dicts to
dotted keys and converts numpy / torch scalars, and raises TypeError naming the offending key
before anything of that call is recorded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

RESERVED = frozenset({"_step", "_timestamp", "_runtime", "_writer"})
_SCALARS = (float, int, bool, str, type(None))


def normalize(data: Any, known_keys: set[str]) -> dict[str, Any]:
    """Validate and flatten one `log()` payload; `known_keys` caches keys already checked."""
    if type(data) is dict:
        for k, v in data.items():
            t = type(v)
            if (t is float or t is int) and k in known_keys:
                continue
            break
        else:
            return data
    elif not isinstance(data, Mapping):
        raise TypeError(
            f"log() takes a dict of {{name: value}}, got {type(data).__name__}: "
            "wrap it, e.g. run.log({'loss': loss})"
        )
    out: dict[str, Any] = {}
    _flatten(data, "", out)
    for k in out:
        if k not in known_keys:
            _check_key(k)
            known_keys.add(k)
    return out


def _check_key(k: str) -> None:
    if not k:
        raise ValueError("log() got an empty key: give every value a name")
    if k in RESERVED:
        raise ValueError(
            f"log() key {k!r} is reserved: flightlog sets it on every row; use another name"
        )


def _flatten(data: Mapping[Any, Any], prefix: str, out: dict[str, Any]) -> None:
    for k, v in data.items():
        if not isinstance(k, str):
            raise TypeError(
                f"log() keys must be strings, got {type(k).__name__} {k!r}: use str({k!r})"
            )
        key = prefix + k
        if isinstance(v, Mapping):
            _flatten(v, key + ".", out)
        else:
            out[key] = to_scalar(key, v)


def to_scalar(key: str, v: Any) -> Any:
    """A plain int/float/bool/str/None for `v`, or TypeError naming `key` and the type."""
    t = type(v)
    if t in _SCALARS:
        return v
    for base in _SCALARS[:4]:  # subclasses: IntEnum, str Enum, numpy.float64 (a float)...
        if isinstance(v, base):
            return base(v)
    mod = t.__module__
    if mod == "numpy" or mod.startswith(("numpy.", "torch")):
        shape = getattr(v, "shape", None)
        if shape is not None and tuple(shape) != ():
            raise TypeError(
                f"log() value for {key!r} is a {t.__name__} of shape {tuple(shape)}: log a "
                f"scalar (e.g. {{{key!r}: x.mean().item()}}) or one key per element"
            )
        item = v.item()
        if type(item) in _SCALARS:
            return item
    raise TypeError(
        f"log() value for {key!r} has type {t.__name__}, which flightlog cannot store: "
        "log an int, float, bool, str or None (or a numpy/torch scalar)"
    )


def summarizable(v: Any) -> bool:
    """True for values a min/max/mean summary uses: ints and floats, not bools, not NaN."""
    t = type(v)
    return t is int or (t is float and not math.isnan(v))
