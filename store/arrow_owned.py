"""Files read into memory that Arrow owns, for Arrow's own threads to decode.

`pq.ParquetFile(...).read()` decodes on Arrow's thread pool (C++ threads), and a decode task
still holds its column reader, and through it the source buffer, for a moment after the read
has returned: the last reference to the source may be dropped on a pool thread. A buffer made
from Python bytes (`pa.BufferReader(f.read())`, `pa.py_buffer`) wraps a Python object, and
freeing it takes the GIL. A pool thread that asks for the GIL before the interpreter
finalizes and gets it after (a short script that reads a history and exits on a loaded
machine: the pool thread lost its CPU right after it handed the rows over, and the main
thread held the GIL into its exit) is ended by the interpreter with pthread_exit, whose
unwinding through the buffer's noexcept destructor calls std::terminate: "terminate called
without an active exception", exit code 134 (6 exits in 850 under load; a core dump showed
arrow::py::PyBuffer::~PyBuffer under a parquet decode task). A buffer Arrow allocated itself
is freed without the GIL, on any thread, at any time: reads that hand a whole file to Arrow
read it with `read_file`, and the server receives the segments it checks into such memory
(`owned`, `writable`).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

#: what a reader may be handed: bytes are copied into Arrow's memory (`owned`)
Bytes = pa.Buffer | bytes | bytearray | memoryview


def read_file(path: Path | str) -> pa.Buffer:
    """The whole file, in memory Arrow allocated (no Python object inside). It hashes and
    slices like bytes (the buffer protocol); a missing file raises FileNotFoundError."""
    with pa.OSFile(str(path)) as f:
        return f.read_buffer()


def writable(size: int) -> tuple[pa.Buffer, memoryview]:
    """A new buffer of `size` bytes in memory Arrow allocated, and a view to fill it through
    (unsigned bytes: a slice assignment of bytes or memoryviews copies them in)."""
    buf = pa.allocate_buffer(size)
    return buf, memoryview(buf).cast("B")


def owned(data: Bytes) -> pa.Buffer:
    """`data` in memory Arrow allocated: bytes copied in once; an Arrow buffer as it is
    (Arrow cannot tell one over a Python object apart: hand over only buffers `read_file` or
    `writable` made)."""
    if isinstance(data, pa.Buffer):
        return data
    buf, view = writable(len(data))
    view[:] = data
    return buf
