"""Arrow arrays built from numpy buffers (and integer arrays read back), for the writer thread.

`pa.array()` imports pandas (and pyarrow.compute) the first time it is called when pandas is
installed: ~0.5 s of imports under the GIL and the import lock, which stalled `log()` in the
training thread for as long. `Array.from_buffers` wraps the same memory without that (and
without a copy).
"""

from __future__ import annotations

from collections.abc import Sequence

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
