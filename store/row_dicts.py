"""One dict per row from columns of Python values, the cheapest way CPython allows.

`scan_history()` hands out a million dicts for a million steps: building them is most of its
cost (store/wide.py converts the values a column at a time; this module only pairs them with
their keys). Measured over 1M rows of 7 keys (CPU time, each dict dropped as made): a dict
display `{k0: v0, ...}` in a generator 0.22 s, `map(dict, map(zip, repeat(keys), rows))`
0.43 s, the same display in a list comprehension (every dict alive at once) 0.46 s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from itertools import repeat
from typing import Any


def make_dicts(keys: list[str], columns: list[list[Any]]) -> Iterator[dict[str, Any]]:
    """One dict per row of `columns` (a list of values per key in `keys`), lazily.

    Up to DISPLAY_KEYS keys, each dict is a dict display `{k0: v0, k1: v1, ...}` of a
    function made for that number of keys: CPython builds it presized, in one instruction,
    about twice as fast as `dict(zip(keys, row))` (which resizes as it grows and makes a zip
    per row). Wider rows are dominated by their inserts: `dict(zip(...))` in C."""
    rows = zip(*columns, strict=True)
    if len(keys) <= DISPLAY_KEYS:
        return _row_maker(len(keys))(keys, rows)
    return map(dict, map(zip, repeat(keys), rows))


#: rows of up to this many keys are built by a generated dict display (`_row_maker`)
DISPLAY_KEYS = 256


@cache
def _row_maker(n: int) -> Callable[[list[str], Iterator[tuple[Any, ...]]], Iterator[dict]]:
    """A function giving, for `n` keys and an iterator of n-tuples, a generator of dicts built
    by a dict display. Its source holds only names made of numbers (k0, v0, ...): the keys
    are its argument, never code."""
    ks = [f"k{i}" for i in range(n)]
    vs = [f"v{i}" for i in range(n)]
    display = ", ".join(f"{k}: {v}" for k, v in zip(ks, vs, strict=True))
    source = (
        f"def make(keys, rows):\n    [{', '.join(ks)}] = keys\n"  # list targets: n may be 0
        f"    return ({{{display}}} for [{', '.join(vs)}] in rows)\n"
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # generated from `n` alone
    return namespace["make"]
