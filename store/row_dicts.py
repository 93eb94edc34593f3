"""One dict per row from columns of Python values, the cheapest way CPython allows.

`scan_history()` hands out a million dicts for a million steps: building them, and the
values in them, is most of its cost. Measured over 1M rows of 7 keys (CPU time, each dict
dropped as made, Python 3.11): a dict display `{"k0": v0, ...}` whose keys are constants of
a function called by `map` over the columns 0.21 s, the same display in a generator over
`zip(*columns)` with the keys in local names 0.23 s, `map(dict, map(zip, repeat(keys),
rows))` 0.44 s. The columns may be lazy (store/wide.py passes memoryviews of numpy arrays,
whose iterators make each value as its row is built): values made one row at a time are
freed and reused while they are hot, where a list of a column's values keeps all of them
alive at once (0.25 s for the dicts and their values, against 0.33 s from lists).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache, lru_cache
from itertools import repeat
from types import CodeType, FunctionType
from typing import Any

import numpy as np


def make_dicts(keys: Sequence[str], columns: Sequence[Iterable[Any]]) -> Iterator[dict[str, Any]]:
    """One dict per row of `columns` (an iterable of values per key in `keys`, all of the
    same length, at least one of them finite), lazily.

    Up to DISPLAY_KEYS keys, each dict is made by a function whose one statement is a dict
    display with the keys as constants, called by `map` with a row's values as arguments: no
    tuple per row, and CPython builds the dict presized in one instruction (about twice as
    fast as `dict(zip(keys, row))`, which resizes as it grows and makes a zip per row).
    Wider rows are dominated by their inserts: `dict(zip(...))` in C."""
    if not columns:  # no key: no row (map needs an iterable)
        return iter(())
    if len(keys) <= DISPLAY_KEYS:
        return map(_row_maker(tuple(keys)), *columns)
    return map(dict, map(zip, repeat(keys), zip(*columns, strict=True)))


#: rows of up to this many keys are built by a generated dict display (`_row_maker`)
DISPLAY_KEYS = 256


@lru_cache(maxsize=256)  # (a block's key sets come back block after block)
def _row_maker(keys: tuple[str, ...]) -> Callable[..., dict[str, Any]]:
    """`lambda v0, v1, ...: {keys[0]: v0, keys[1]: v1, ...}`, its keys as constants.

    The code is compiled once per number of keys with placeholder constants, which are then
    replaced by the keys themselves: the keys are data of the code object, never source."""
    code, placeholders = _display_code(len(keys))
    by_placeholder = dict(zip(placeholders, keys, strict=True))

    def swap(const: object) -> object:
        if isinstance(const, tuple):  # {...} of constant keys: one tuple of all of them
            return tuple(swap(c) for c in const)
        return by_placeholder.get(const, const) if isinstance(const, str) else const

    return FunctionType(code.replace(co_consts=tuple(map(swap, code.co_consts))), {})


@cache
def _display_code(n: int) -> tuple[CodeType, tuple[str, ...]]:
    """The code of `def make(v0, ..., v{n-1}): return {P0: v0, ...}` and its placeholder
    key constants P0... (strings no other constant of that code can be)."""
    placeholders = tuple(f"\0key{i}\0" for i in range(n))
    vs = [f"v{i}" for i in range(n)]
    display = ", ".join(f"{p!r}: {v}" for p, v in zip(placeholders, vs, strict=True))
    namespace: dict[str, Any] = {}
    exec(f"def make({', '.join(vs)}):\n    return {{{display}}}\n", namespace)  # from `n` alone
    return namespace["make"].__code__, placeholders


def key_sets(logged: np.ndarray) -> tuple[np.ndarray, list[list[int]]]:
    """For a block's (keys x rows) `logged` cells: each row's key set as an index into the
    list of key sets (each the sorted key numbers it holds). Rows are told apart by their
    cells packed into bits: up to 16 keys a number below 2**16, counted, not sorted; up to 64
    one uint64, which numpy sorts fast (it sorts the rows of a 2-D array as opaque records,
    ~100x slower: more keys than 64 only)."""
    k, m = logged.shape
    packed = np.packbits(logged, axis=0, bitorder="little")  # (ceil(k / 8), m)
    if k <= 16:
        code = packed[0].astype(np.intp)
        if k > 8:
            code |= packed[1].astype(np.intp) << 8
        sets = np.flatnonzero(np.bincount(code))
        number = np.empty(int(sets[-1]) + 1, np.intp)
        number[sets] = np.arange(len(sets))
        return number[code], [[j for j in range(k) if s >> j & 1] for s in sets.tolist()]
    if len(packed) <= 8:
        words = np.zeros((m, 8), np.uint8)
        words[:, : len(packed)] = packed.T
        codes, which = np.unique(words.view(np.uint64).reshape(m), return_inverse=True)
        bits = np.unpackbits(codes.view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
    else:
        codes, which = np.unique(packed.T, axis=0, return_inverse=True)
        bits = np.unpackbits(codes, axis=1, bitorder="little")
    return which.reshape(m), [np.flatnonzero(b[:k]).tolist() for b in bits]


def python_values(column: np.ndarray) -> Iterable[Any]:
    """A column's Python values (int, float or bool as numpy holds them), made one at a time
    as the rows are built: an iterator of a memoryview makes each value when its row's dict
    takes it, where `tolist()` would make them all at once (the module's docstring says what
    that saves). Decoded values are objects already: a list of them."""
    return column.tolist() if column.dtype == object else memoryview(column)
