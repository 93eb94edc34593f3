"""Reordering history rows with numpy alone, for the writer thread.

The writer thread sorts each batch of rows it seals by key (store/sealing.py). pyarrow's own
sort and take live in pyarrow.compute, whose import (~0.1-0.5 s, with pandas when installed)
would stall `log()` in the training thread behind the GIL and the import lock, and which
`import flightlog` must not load (tests/test_import_cost.py). The columns of the history
schema are few and simple (fixed-width numbers, strings), so numpy does it from their buffers.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

#: bytes of a key compared when sorting: keys sharing longer prefixes (and their length)
#: stay together in their logged order, which only makes their row groups' ranges wider
_KEY_PREFIX = 64


def key_order(keys: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(a stable order of the rows sorting `keys` bytewise, each sorted row's group number):
    equal keys get one group and keep their order (their steps stay in order)."""
    offsets, data = _string_buffers(keys)
    starts, lengths = offsets[:-1], np.diff(offsets)
    words = max(1, (min(_KEY_PREFIX, int(lengths.max(initial=0))) + 7) // 8)
    padded = np.zeros(len(data) + 8 * words, np.uint8)  # every 8-byte read stays inside
    padded[: len(data)] = data
    columns = [_word(padded, starts + 8 * i, lengths - 8 * i) for i in range(words)]
    order = np.lexsort((lengths, *columns[::-1]))  # the first word is the primary key
    new = np.zeros(len(order), bool)
    for col in (lengths, *columns):
        ordered = col[order]
        new[1:] |= ordered[1:] != ordered[:-1]
    new[0] = True
    return order, np.cumsum(new) - 1


def _word(padded: np.ndarray, at: np.ndarray, left: np.ndarray) -> np.ndarray:
    """The 8 bytes at each of `at` as a big-endian uint64, bytes past the string's end
    (`left` bytes of it remain) zeroed: one gather per byte over the rows, no (rows x 8)
    matrices (several times faster)."""
    word = np.zeros(len(at), np.uint64)
    for b in range(8):
        word |= padded[at + b].astype(np.uint64) << np.uint64(56 - 8 * b)
    keep = np.clip(left, 0, 8)
    shift = np.minimum((8 - keep) * 8, 63).astype(np.uint64)  # 64 (nothing kept): masked
    return np.where(keep > 0, (word >> shift) << shift, np.uint64(0))


def take(batch: pa.RecordBatch, order: np.ndarray) -> pa.RecordBatch:
    """The rows of `batch` in `order` (fixed-width and string columns, as the history
    schema has)."""
    columns = [_take(col, order) for col in batch.columns]
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)


def _take(col: pa.Array, order: np.ndarray) -> pa.Array:
    if col.null_count == len(col):  # `text` of numbers: nothing to move
        return pa.nulls(len(order), col.type)
    validity = _validity(col)
    valid = None if validity is None else validity[order]
    buffers: list[pa.Buffer | None]
    if pa.types.is_string(col.type):
        offsets, data = _string_buffers(col)
        lengths = np.diff(offsets)[order]
        new_offsets = np.zeros(len(order) + 1, np.int32)
        np.cumsum(lengths, out=new_offsets[1:])
        total = int(new_offsets[-1])
        src = np.repeat(offsets[:-1][order] - new_offsets[:-1], lengths) + np.arange(total)
        buffers = [pa.py_buffer(new_offsets), pa.py_buffer(data[src] if total else b"")]
    else:
        if col.type.bit_width % 8:
            raise TypeError(f"cannot reorder a {col.type} column")
        width = col.type.bit_width // 8
        raw = np.frombuffer(col.buffers()[1], np.dtype(f"V{width}"))
        buffers = [
            pa.py_buffer(np.ascontiguousarray(raw[col.offset : col.offset + len(col)][order]))
        ]
    null_count = 0 if valid is None else int(len(order) - valid.sum())
    bitmap = None if not null_count else pa.py_buffer(np.packbits(valid, bitorder="little"))  # type: ignore[arg-type]
    return pa.Array.from_buffers(col.type, len(order), [bitmap, *buffers], null_count=null_count)


def _validity(col: pa.Array) -> np.ndarray | None:
    """Each slot's validity (None when no slot is null)."""
    if not col.null_count:
        return None
    bits = np.frombuffer(col.buffers()[0], np.uint8)
    return np.unpackbits(bits, bitorder="little")[col.offset : col.offset + len(col)].astype(bool)


def _string_buffers(col: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(the n + 1 offsets of the strings, into the data buffer; that buffer's bytes)."""
    offsets = np.frombuffer(col.buffers()[1], np.int32)[col.offset : col.offset + len(col) + 1]
    data_buf = col.buffers()[2]
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.empty(0, np.uint8)
    return offsets.astype(np.int64), data
