"""Writing sealed segments: Parquet sorted by key, fsynced, named by their sha256.

`write_sealed` turns a stream of batches into a sealed file in one go (sealing an IPC
segment, recovering a journal). `IncrementalSeal` builds the sealed twin of the segment a
writer is filling while it fills it, ROW_GROUP rows at a time: closing the segment then
costs its last rows, not the whole file, which keeps `finish()` short.

Each ROW_GROUP rows are sorted by (key, step) and written as row groups cut at key
boundaries (`key_groups`), so a row group's `key` statistics name a narrow range of keys
and `history(keys=[...])` (store/key_pruning.py), DuckDB's `key IN (...)` and pyarrow's
`filters=` skip the others. Segments sealed before that hold every key in every row group;
readers read both alike (no reader relies on the order of rows in a file).

The sort runs in Arrow's C++ kernels, which release the GIL: the writer thread sorting a
row group (a few ms) must not keep `log()` in the training thread waiting. They are called
through `pyarrow._compute` (the kernels alone, ~4 ms to import), not `pyarrow.compute`,
whose Python wrappers cost ~0.1 s to build and which `import flightlog` must not load.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow._compute as kernels  # type: ignore[import-not-found]
import pyarrow.parquet as pq

from .arrow_build import numbers, primitive
from .atomic import fsync_dir
from .journal import MARK_KEY, Mark, encode_mark
from .layout import SegmentName, sealed_segment_name
from .temp_leftovers import temp_path

#: rows per Parquet row group: large for compression and scans, bounded for memory
ROW_GROUP = 64 * 1024  # also what a finish() arriving mid-encode may wait for
#: least rows per Parquet row group of a key range (`key_groups`): smaller skips more rows
#: when a few keys are read, larger costs less metadata and compresses better. A third of
#: ROW_GROUP keeps a segment at most 4 groups per ROW_GROUP rows: a 4M-row segment (the most
#: a server takes, sync/limits.py) has at most 245 row groups, under its limit of 256
KEY_GROUP = ROW_GROUP // 3
#: Each page costs its reader (the server checks every one) a page header to parse and, if zstd,
#: ~15-35 us of CPU whatever its size: pyarrow makes a fresh zstd context per page, and making one
#: runs `cpuid`, which a hypervisor may trap. LZ4 (LZ4_RAW) pages cost ~0.5 us each and decode
#: faster. So zstd only where it pays for itself: `value`, the bulk of a segment (zstd keeps it
#: ~1.5% of the file smaller than LZ4). `step` and `time` are delta-encoded already; LZ4 packs
#: `step` as small as zstd does, `time` 1.1% of the file larger (and 8% of the check's CPU less).
#: `text` is all null in most segments (def-levels alone: zstd made its two pages 66 bytes from 48):
#: LZ4, or zstd where it holds strings (`parquet_options`). `key` and `kind` are dictionary indices
#: of rows sorted by key, runs of a few values that any codec makes larger: stored as they are.
#: Sealed segments of the 1,000-run benchmark store: 5 zstd pages instead of 25, the server's check
#: 12-14% less CPU, 1.1% more bytes (7.12 bytes per scalar instead of 7.04, the same rows and row
#: groups); earlier segments (every column zstd but `key` and `kind`) read alike. A data page holds
#: a column chunk's rows up to the data page size (1 MB), not 20,000 rows (pyarrow 22's new limit,
#: settable from pyarrow 23: `max_rows_per_page`; earlier ones had none): a segment of that store
#: has 35 pages instead of 75.
_PARQUET_OPTIONS: dict[str, Any] = dict(
    compression={
        "step": "lz4",
        "time": "lz4",
        "key": "none",
        "value": "zstd",
        "kind": "none",
        "text": "lz4",
    },
    use_dictionary=["key", "text", "kind"],
    column_encoding={
        "step": "DELTA_BINARY_PACKED",
        "time": "DELTA_BINARY_PACKED",
        "value": "BYTE_STREAM_SPLIT",
    },
    write_statistics=True,
)
if int(pa.__version__.split(".")[0]) >= 23:
    _PARQUET_OPTIONS["max_rows_per_page"] = 1 << 30  # the page size alone cuts pages


def parquet_options(first: pa.Table | None) -> dict[str, Any]:
    """The writer's options for a segment whose first row group is `first`: `text` in zstd
    when it holds strings (histograms' JSON: LZ4 made it twice as large), else in LZ4 (all
    null: def-levels alone, for which a zstd context per page cost more than the page)."""
    if first is None or first.column("text").null_count == first.num_rows:
        return _PARQUET_OPTIONS
    return {**_PARQUET_OPTIONS, "compression": {**_PARQUET_OPTIONS["compression"], "text": "zstd"}}


def key_groups(table: pa.Table, min_rows: int = KEY_GROUP) -> list[pa.RecordBatch]:
    """`table` sorted by (key, step) and cut at key boundaries into row groups of at least
    `min_rows` rows (but the last): each group's `key` statistics then name a narrow range
    of keys, which readers use to skip the others (store/key_pruning.py).

    The sort is stable and the rows of a key are already in step order, so sorting by the
    key alone keeps each key's steps in order. Keys are ranked once per distinct key (their
    dictionary, sorted bytewise), then the rows are sorted by rank: the sort, the take and
    the encoding run in Arrow's kernels with the GIL released; numpy only gathers ranks."""
    if table.num_rows == 0:
        return []
    batch = table.combine_chunks().to_batches()[0]
    encoded = kernels.call_function("dictionary_encode", [batch.column("key")])
    by_key = numbers(kernels.call_function("array_sort_indices", [encoded.dictionary]))
    rank = np.empty(len(by_key), np.int32)
    rank[by_key] = np.arange(len(by_key), dtype=np.int32)
    ranks = rank[numbers(encoded.indices)]
    order = kernels.call_function("array_sort_indices", [primitive(ranks, pa.int32())])  # stable
    batch = kernels.call_function("take", [batch, order])
    group = ranks[numbers(order)]
    bounds = np.flatnonzero(group[1:] != group[:-1]) + 1
    cuts, start = [0], 0
    while (i := int(np.searchsorted(bounds, start + min_rows))) < len(bounds):
        start = int(bounds[i])
        cuts.append(start)
    cuts.append(batch.num_rows)
    return [batch.slice(a, b - a) for a, b in pairwise(cuts)]


class IncrementalSeal:
    """A sealed segment being written batch by batch into a temp file (`.<stem>.*.tmp`, which
    `doctor` moves aside if the process dies first; the IPC segment stays the truth)."""

    def __init__(self, directory: Path, name: SegmentName, schema: pa.Schema) -> None:
        self.directory = directory
        self.name = name
        self.tmp = temp_path(directory, name)
        self._schema = schema
        #: made with the first rows written (`parquet_options`); until then no file exists
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.RecordBatch] = []
        self._rows = 0
        #: sha256 of the file's first `_hashed` bytes: Parquet only appends, so each row
        #: group is hashed (and flushed to disk) as it is written, not all at `finish`
        self._sha = hashlib.sha256()
        self._hashed = 0

    def add(self, batch: pa.RecordBatch, durable: bool = True) -> None:
        """Add a batch; each ROW_GROUP rows are written, and fdatasynced if `durable` (not
        when `finish` follows at once: its fsync covers them)."""
        self._pending.append(batch.replace_schema_metadata(self._schema.metadata))
        self._rows += batch.num_rows
        if self._rows >= ROW_GROUP:
            self._flush()
            self._catch_up(durable)

    def _catch_up(self, durable: bool) -> None:
        """Hash what the file has gained since the last call and, if `durable`, fdatasync
        it: finish() then pays for its last row group only."""
        with open(self.tmp, "rb") as f:
            f.seek(self._hashed)
            while chunk := f.read(1 << 20):
                self._sha.update(chunk)
                self._hashed += len(chunk)
            if durable:
                os.fdatasync(f.fileno())

    def _flush(self) -> None:
        if self._pending:
            table = pa.Table.from_batches(self._pending, schema=self._schema)
            writer = self._open(table)
            for group in key_groups(table):
                writer.write_batch(group, row_group_size=group.num_rows)
            self._pending, self._rows = [], 0

    def _open(self, first: pa.Table | None) -> pq.ParquetWriter:
        """The file's writer, made with the options its `first` rows call for. Whoever
        catches an error here removes the temp file (`abandon`, `finish`): a full disk makes
        the file and fails on its header, and the writer retries every few ms."""
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.tmp, self._schema, **parquet_options(first))
        return self._writer

    def finish(self, mark: Mark | None) -> Path:
        """Write the rest, fsync, and rename to the content-addressed name."""
        try:
            self._flush()
            writer = self._open(None)  # (no rows: an empty file)
            if mark is not None:
                writer.add_key_value_metadata({MARK_KEY: encode_mark(mark)})
            writer.close()
            self._catch_up(durable=False)
            with open(self.tmp, "rb+") as f:
                os.fsync(f.fileno())
            digest = self._sha.hexdigest()
            final = self.directory / sealed_segment_name(self.name.writer, self.name.seq, digest)
            os.replace(self.tmp, final)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise
        fsync_dir(self.directory)
        return final

    def abandon(self) -> None:
        try:
            if self._writer is not None:
                self._writer.close()
        except (OSError, pa.ArrowException):
            pass
        self.tmp.unlink(missing_ok=True)


def write_sealed(
    directory: Path,
    name: SegmentName,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    mark: Callable[[], Mark | None],
) -> Path:
    """Write a sealed segment of `batches` in one go (memory holds one row group); it keeps
    the journal mark `mark()` gives once every batch is written."""
    seal = IncrementalSeal(directory, name, schema)
    try:
        for b in batches:
            seal.add(b)
    except BaseException:
        seal.abandon()
        raise
    return seal.finish(mark())
