"""Turning what a user passes to `log()` into plain Python scalars, fast.

The common case (a flat dict whose keys and value types were seen before) is recognised by
its signature alone and returned as is. Anything else is flattened (nested dicts become
dotted keys), numpy / torch scalars are unwrapped, and a TypeError naming the offending key
is raised before anything of that call is recorded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from flightlog.store.signatures import Signature, signature

from ._histogram import Histogram, array_value
from .media import MediaSink, is_media, prepare

RESERVED = frozenset({"_step", "_timestamp", "_runtime", "_writer"})
_SCALARS = (float, int, bool, str, type(None))


def normalize(
    data: Any, known: dict[Signature, int], media: MediaSink | None = None
) -> tuple[dict[str, Any], Signature, int | None]:
    """Validate and flatten one `log()` payload: (row, its signature, its id if known).

    `known` maps the signatures (keys + value types) already validated to their ids in the
    writer's signature table: a dict whose signature is in it is returned as is, without
    looking at any key or value again. One hash of the signature is all the fast path costs.
    Media values (never on the fast path: their row type differs) are copied and handed to
    `media`, the run's media sink, for the writer to encode.
    """
    if type(data) is dict:
        sig = signature(data)
        sid = known.get(sig)
        if sid is not None:
            return data, sig, sid
    elif not isinstance(data, Mapping):
        raise TypeError(
            f"log() takes a dict of {{name: value}}, got {type(data).__name__}: "
            "wrap it, e.g. run.log({'loss': loss})"
        )
    out: dict[str, Any] = {}
    _flatten(data, "", out, media)
    for k in out:
        _check_key(k)
    sig = signature(out)
    return out, sig, known.get(sig)


def flat(data: Mapping[Any, Any]) -> dict[str, Any]:
    """`data` with nested dicts flattened to dotted keys and every value checked, as a row's
    are (no media): a summary update takes what log() takes."""
    out: dict[str, Any] = {}
    _flatten(data, "", out, None)
    return out


def _check_key(k: str) -> None:
    if not k:
        raise ValueError("log() got an empty key: give every value a name")
    if k in RESERVED:
        raise ValueError(
            f"log() key {k!r} is reserved: flightlog sets it on every row; use another name"
        )


def _flatten(
    data: Mapping[Any, Any], prefix: str, out: dict[str, Any], media: MediaSink | None
) -> None:
    for k, v in data.items():
        if not isinstance(k, str):
            raise TypeError(
                f"log() keys must be strings, got {type(k).__name__} {k!r}: use str({k!r})"
            )
        key = prefix + k
        if type(v) in _SCALARS:  # most values: no media check, no ABC check (a new
            out[key] = v  # shape's first row of 10,000 keys took ~25 µs a value)
        elif media is not None and is_media(v):  # a bad one is warned about and left out
            value = prepare(key, v, media)
            if value is not None:
                out[key] = value
        elif isinstance(v, Mapping):
            _flatten(v, key + ".", out, media)
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
            return array_value(key, v)  # a list (<= 32 numbers) or a histogram
        item = v.item()
        if type(item) in _SCALARS:
            return item
    if isinstance(v, list | tuple | Histogram):
        return array_value(key, v)
    raise TypeError(
        f"log() value for {key!r} has type {t.__name__}, which flightlog cannot store: "
        "log an int, float, bool, str or None, a numpy/torch scalar or array, a list of "
        "numbers or a flightlog.Histogram"
    )


def summarizable(v: Any) -> bool:
    """True for values a min/max/mean summary uses: ints and floats, not bools, not NaN."""
    t = type(v)
    return t is int or (t is float and not math.isnan(v))
