"""`flightlog.Histogram`, and how arrays and lists become loggable values (as in wandb).

A sequence of up to 32 numbers is logged as a list value; a longer one (a numpy array of
any shape, a list, a tensor) becomes a Histogram of `num_bins` bins. Both are stored in the
tidy history as JSON text with their own kind, and read back as a list / a Histogram.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

MAX_LIST = 32
#: per number of counts, the struct that packs bins and counts (`journal_words`)
_WORDS: dict[int, struct.Struct] = {}


class Histogram:
    """Bins (edges, len = counts + 1) and counts, from raw values or numpy.histogram()."""

    def __init__(
        self,
        sequence: Sequence[float] | Any = None,
        np_histogram: tuple[Any, Any] | None = None,
        num_bins: int = 64,
    ) -> None:
        if np_histogram is not None:
            counts, bins = np_histogram
            self.counts = [int(c) for c in _flat(counts)]
            self.bins = [float(b) for b in _flat(bins)]
        elif sequence is not None:
            import numpy as np

            numbers = _number_array(sequence)
            flat = _flat(sequence) if numbers is None else numbers
            values = np.asarray(flat, dtype=np.float64)
            values = values[np.isfinite(values)]
            if not 1 <= num_bins <= 512:
                raise ValueError(f"num_bins must be between 1 and 512, got {num_bins}")
            counts, bins = _histogram(values, num_bins)
            self.counts = counts.astype(int).tolist()
            self.bins = bins.astype(float).tolist()
        else:
            raise ValueError("Histogram needs a sequence of values or np_histogram=(counts, bins)")
        if len(self.bins) != len(self.counts) + 1:
            raise ValueError(
                f"a histogram has one more bin edge than counts, got "
                f"{len(self.bins)} edges for {len(self.counts)} counts"
            )

    def to_json(self) -> dict[str, Any]:
        return {"_type": "histogram", "bins": self.bins, "counts": self.counts}

    def journal_words(self) -> tuple[int, bytes] | None:
        """(number of counts, bins as float64 words + counts as int64 words): how log() stores
        a histogram, packed as numbers instead of printing 129 of them (store/packed_rows.py). None
        when the words would not print back as `to_json` does: a subclass, or bins / counts
        someone set to values other than floats / ints of 64 bits."""
        bins, counts = self.bins, self.counts
        if (
            type(self) is not Histogram
            or type(bins) is not list
            or type(counts) is not list
            or len(bins) != len(counts) + 1
            or {*map(type, bins)} != {float}
            or not {*map(type, counts)} <= {int}
        ):
            return None
        n = len(counts)
        words = _WORDS.get(n)
        if words is None:  # one pack call, not two arrays; a few counts come back row after row
            words = struct.Struct(f"<{n + 1}d{n}q")
            if len(_WORDS) < 64:
                _WORDS[n] = words
        try:
            return n, words.pack(*bins, *counts)
        except struct.error:  # an int past 64 bits
            return None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Histogram) and (self.bins, self.counts) == (
            other.bins,
            other.counts,
        )

    def __repr__(self) -> str:
        return f"Histogram({len(self.counts)} bins, {sum(self.counts)} values)"


def _histogram(values: Any, num_bins: int) -> tuple[Any, Any]:
    """np.histogram, also of values whose range numpy cannot split into `num_bins` bins (many
    equal values past 2**46, or a range wider than the largest float), where it raises
    ValueError: those are binned scaled into [-1, 1], their edges scaled back."""
    import numpy as np

    try:
        with np.errstate(all="ignore"):  # a range past the largest float overflows first
            return np.histogram(values, bins=num_bins)  # type: ignore[no-any-return]
    except ValueError:
        scale = float(np.abs(values).max())
        counts, bins = np.histogram(values / scale, bins=num_bins)
        return counts, bins * scale


def _flat(values: Any) -> list[Any]:
    tolist = getattr(values, "tolist", None)  # numpy arrays, torch tensors (never imported)
    if callable(tolist):
        values = tolist()
    out: list[Any] = []
    stack = [values]
    while stack:
        v = stack.pop()
        if isinstance(v, list | tuple):
            stack.extend(reversed(v))
        else:
            out.append(v)
    return out


def _number_array(values: Any) -> Any:
    """`values` flattened (a view or copy, never Python objects) if it is a numpy array of
    ints or floats, else None. Flattening a numpy array through Python lists cost log() ~5 ms
    at 10,000 values; numpy does it in ~20 µs and gives the same numbers."""
    if type(values).__module__ != "numpy" or getattr(values, "dtype", None) is None:
        return None
    if values.dtype.kind not in "iuf":  # bools, complex, objects: checked value by value
        return None
    import numpy as np

    return np.asarray(values).ravel()  # (np.matrix stays 2-d through its own ravel)


def array_value(key: str, v: Any) -> list[float | int] | Histogram:
    """A list (<= 32 numbers) or a Histogram for an array-like value, or TypeError."""
    if isinstance(v, Histogram):
        return v
    numbers = _number_array(v)
    if numbers is not None:
        return numbers.tolist() if numbers.size <= MAX_LIST else Histogram(numbers)
    items = _flat(v)
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in items):
        bad = next(x for x in items if not isinstance(x, int | float) or isinstance(x, bool))
        raise TypeError(
            f"log() value for {key!r} is a sequence holding {type(bad).__name__} {bad!r}: "
            "only numbers make a list or a histogram"
        )
    if len(items) <= MAX_LIST:
        return items
    return Histogram(items)
