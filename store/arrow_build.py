"""Arrow arrays built from numpy buffers (and integer arrays read back), for the writer thread.

`pa.array()` imports pandas (and pyarrow.compute) the first time it is called when pandas is
installed: ~0.5 s of imports under the GIL and the import lock, which stalled `log()` in the
training thread for as long. `Array.from_buffers` wraps the same memory without that (and
without a copy).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa


def primitive(values: np.ndarray, type_: pa.DataType, nulls: np.ndarray | None = None) -> pa.Array:
    """A fixed-width array of `values` (their dtype must match `type_`'s width); `nulls`
    marks the null slots."""
    values = np.ascontiguousarray(values)
    validity, null_count = None, 0
    if nulls is not None and nulls.any():
        validity = pa.py_buffer(np.packbits(~nulls, bitorder="little"))
        null_count = int(nulls.sum())
    return pa.Array.from_buffers(
        type_, len(values), [validity, pa.py_buffer(values)], null_count=null_count
    )


def strings(items: Sequence[str | None]) -> pa.Array:
    """A string array of `items` (None: null)."""
    encoded = [b"" if s is None else s.encode() for s in items]
    offsets = np.zeros(len(encoded) + 1, np.int32)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    nulls = np.fromiter((s is None for s in items), bool, len(items))
    validity = pa.py_buffer(np.packbits(~nulls, bitorder="little")) if nulls.any() else None
    return pa.Array.from_buffers(
        pa.string(),
        len(encoded),
        [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))],
        null_count=int(nulls.sum()),
    )


def all_null_strings(n: int) -> pa.Array:
    """`n` null strings."""
    return pa.Array.from_buffers(
        pa.string(),
        n,
        [
            pa.py_buffer(np.zeros((n + 7) // 8, np.uint8)),
            pa.py_buffer(np.zeros(n + 1, np.int32)),
            pa.py_buffer(b""),
        ],
        null_count=n,
    )


def numbers(array: pa.Array) -> np.ndarray:
    """The values of a fixed-width `array` without nulls (sort indices, dictionary indices),
    as a numpy view of its buffer: `to_numpy()` and `np.asarray()` import pandas too."""
    width = array.type.bit_width // 8
    dtype = np.dtype(f"{'u' if pa.types.is_unsigned_integer(array.type) else 'i'}{width}")
    return np.frombuffer(array.buffers()[1], dtype, len(array), array.offset * width)


def gather_strings(dictionary: pa.Array, codes: np.ndarray) -> pa.Array:
    """`dictionary[codes]` as a plain string array, built from its buffers with numpy."""
    offsets_buf, data_buf = dictionary.buffers()[1:3]
    offs = np.frombuffer(offsets_buf, np.int32)[
        dictionary.offset : dictionary.offset + len(dictionary) + 1
    ]
    blob = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    lens = (offs[1:] - offs[:-1])[codes]
    out_offs = np.zeros(len(codes) + 1, np.int32)  # a batch holds far less than 2 GiB
    np.cumsum(lens, out=out_offs[1:])
    n = int(out_offs[-1])
    src = np.repeat(offs[:-1][codes] - out_offs[:-1], lens) + np.arange(n)
    return pa.Array.from_buffers(
        pa.string(), len(codes), [None, pa.py_buffer(out_offs), pa.py_buffer(blob[src])]
    )


def tiled_strings(one: pa.Array, times: int) -> pa.Array:
    """The strings of `one` (a fresh array: offsets from 0) repeated `times` times."""
    offs = np.frombuffer(one.buffers()[1], np.int32)[: len(one) + 1]
    width = int(offs[-1])
    data = one.buffers()[2]
    blob = np.frombuffer(data, np.uint8)[:width] if data is not None else np.zeros(0, np.uint8)
    out_offs = np.empty(times * len(one) + 1, np.int32)  # a batch holds far less than 2 GiB
    starts = np.arange(times, dtype=np.int32)[:, None] * width + offs[:-1]
    out_offs[:-1] = starts.ravel()
    out_offs[-1] = times * width
    return pa.Array.from_buffers(
        pa.string(),
        times * len(one),
        [None, pa.py_buffer(out_offs), pa.py_buffer(np.tile(blob, times))],
    )


def after_nulls(n: int, items: list[str | None], order: np.ndarray) -> pa.Array:
    """`n` nulls followed by `items`, permuted by `order` (a stable sort that keeps `items` in
    their order): built from buffers, so only `items` become Python objects."""
    encoded = [b"" if t is None else t.encode() for t in items]
    lens = np.zeros(n + len(items), np.int32)
    lens[n:] = [len(b) for b in encoded]
    valid = np.zeros(n + len(items), bool)
    valid[n:] = [t is not None for t in items]
    lens, valid = lens[order], valid[order]
    offsets = np.zeros(len(lens) + 1, np.int32)
    np.cumsum(lens, out=offsets[1:])
    return _string_array(valid, offsets, b"".join(encoded))


def _string_array(valid: np.ndarray, offsets: np.ndarray, data: Any) -> pa.Array:
    """A string array from its validity (bools), offsets (int32) and bytes."""
    nulls = int(len(valid) - valid.sum())
    validity = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    return pa.Array.from_buffers(
        pa.string(), len(valid), [validity, pa.py_buffer(offsets), pa.py_buffer(data)], nulls
    )


def spread(base: np.ndarray, items: Sequence[Any], ins: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """`base` with `items` put at the positions `ins` of the result (`keep`: the others)."""
    out = np.empty(len(keep), base.dtype)
    out[keep] = base
    out[ins] = items
    return out


def inserted_strings(
    one: pa.Array | None, times: int, ins: np.ndarray, keep: np.ndarray, items: list[str | None]
) -> pa.Array:
    """The strings of `one` (a fresh array: offsets from 0) repeated `times` times, or
    `times` nulls if None, with `items` put at the positions `ins` (see `spread`)."""
    if one is None:
        lens, blob = np.zeros(times, np.int32), np.zeros(0, np.uint8)
    else:
        offs = np.frombuffer(one.buffers()[1], np.int32)[: len(one) + 1]
        data = one.buffers()[2]
        one_blob = np.frombuffer(data, np.uint8)[: int(offs[-1])] if data is not None else None
        lens = np.tile(np.diff(offs), times)
        blob = np.tile(one_blob, times) if one_blob is not None else np.zeros(0, np.uint8)
    valid = spread(np.full(len(lens), one is not None), [s is not None for s in items], ins, keep)
    encoded = [b"" if s is None else s.encode() for s in items]
    item_lens = np.fromiter(map(len, encoded), np.int32, len(encoded))
    offsets = np.zeros(len(keep) + 1, np.int32)  # a batch holds far less than 2 GiB
    np.cumsum(spread(lens, item_lens, ins, keep), out=offsets[1:])
    added = np.frombuffer(b"".join(encoded), np.uint8)
    within = np.arange(len(added)) - np.repeat(np.cumsum(item_lens) - item_lens, item_lens)
    at = np.repeat(offsets[ins], item_lens) + within  # the items' bytes in the result
    kept = np.ones(int(offsets[-1]), bool)
    kept[at] = False
    return _string_array(valid, offsets, spread(blob, added, at, kept))
