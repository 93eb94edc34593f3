"""Journal rows that are not of a signature (GENERIC, PACKED), and how their values go
between the rows of one signature (store/rows.py).

A training loop's batch is mostly rows of one signature with, now and then, a row holding a
histogram or a string. Their values used to be merged by sorting every value of the batch
and gathering every key's bytes again: ~5x the numpy work of a batch of one signature. Here
the signature's columns repeat, and the few other values are put in place (`spread`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from .arrow_build import gather_strings, inserted_strings, spread
from .journal import PACKED
from .packed_rows import PRINT_SLICE, tidy_values

if TYPE_CHECKING:
    from .signatures import Table

#: (steps, times, keys, values, nulls, kinds, texts) of a batch
Columns = tuple[
    np.ndarray, np.ndarray, pa.Array, np.ndarray, np.ndarray | None, np.ndarray, pa.Array
]


def generic_values(
    rec: np.ndarray,
    starts: np.ndarray,
    generic: np.ndarray,
    data: bytes | memoryview,
    pause: Callable[[], None] | None,
) -> tuple[list[int], list[str], list[Any], list[int], list[str | None]]:
    """(rows, keys, values, kinds, texts) of the GENERIC and PACKED rows `generic`, in order:
    the only values that become Python objects. `pause` once PRINT_SLICE of printing PACKED
    rows has passed since the last one, and after the last ones (the numpy work that follows
    is a stretch of its own)."""
    sids = rec["sid"]
    g_rows, g_keys, g_vals, g_kinds, g_texts = [], [], [], [], []
    clock = time.perf_counter
    since = clock()  # the last pause
    printed = False  # PACKED rows since the last pause
    for i in generic.tolist():
        if pause is not None and sids[i] == PACKED:
            if printed and clock() - since >= PRINT_SLICE:
                pause()
                since = clock()
            printed = True
        blob = bytes(data[8 * int(starts[i]) : 8 * int(rec["end"][i])])
        for k, v, kind, text in tidy_values(int(sids[i]), blob):
            g_rows.append(i)
            g_keys.append(k)
            g_vals.append(v)
            g_kinds.append(kind)
            g_texts.append(text)
    if printed and pause is not None:
        pause()
    return g_rows, g_keys, g_vals, g_kinds, g_texts


def inserted_columns(
    rec: np.ndarray,
    fstarts: np.ndarray,
    fast: np.ndarray,
    words: np.ndarray,
    generic: tuple[np.ndarray, list[str], list[Any], list[int], list[str | None]],
    table: Table,
) -> Columns:
    """The columns (as store/rows.py's `_batch` takes them) of rows of one signature with
    others between them (a histogram every N steps): the signature's columns repeat, and
    the others' values are put after the rows before theirs, in their order."""
    offsets, lengths, flat_codes, flat_kinds, key_dict = table
    g_rows, g_keys, g_vals, g_kinds, g_texts = generic
    sid, f = int(rec["sid"][fast[0]]), len(fast)
    o, n = int(offsets[sid]), int(lengths[sid])
    ins = n * np.searchsorted(fast, g_rows) + np.arange(len(g_rows))  # after the rows before
    keep = np.ones(f * n + len(g_rows), bool)
    keep[ins] = False
    keys = inserted_strings(gather_strings(key_dict, flat_codes[o : o + n]), f, ins, keep, g_keys)
    values = words[(fstarts[:, None] + np.arange(n)).ravel()]
    values = spread(values, [0.0 if v is None else v for v in g_vals], ins, keep)
    nulls = spread(np.zeros(f * n, bool), [v is None for v in g_vals], ins, keep)
    kinds = spread(np.tile(flat_kinds[o : o + n], f), g_kinds, ins, keep)
    steps = spread(np.repeat(rec["step"][fast], n), rec["step"][g_rows], ins, keep)
    times = spread(np.repeat(rec["time"][fast], n), rec["time"][g_rows], ins, keep)
    texts = inserted_strings(None, f * n, ins, keep, g_texts)
    return steps, times, keys, values, nulls, kinds, texts
