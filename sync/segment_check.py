"""Checking an uploaded segment file before it is stored, with bounded memory.

A Parquet file can promise far more than it weighs: 411 KB of zstd can hold 20 million
constant rows (~800 MB decoded). So nothing is decoded before the footer has been read and
bounded - footer size, rows, row groups, columns, declared uncompressed size - and the
schema checked, and every page header read (`parquet_pages.py`): the buffers pyarrow will
allocate are then known and bounded, even if the footer lies. Then the values are checked a
batch at a time, with `key` and `text` read as dictionaries so that a long string repeated a
million times is looked at once and never expanded; the decoded size of the text is summed
from the dictionary and bounded too. A segment that passes decodes into at most
`SegmentLimits` worth of memory, which is what every later reader of the server's store
relies on.

The footer is parsed once (the values' reader is handed its metadata) and the whole check
reads from memory when the server holds the bytes anyway (a segment under a MB of a batch
body), or when the file is small (up to IN_MEMORY: read whole, one copy from the page
cache): pyarrow opening a file - twice, for the footer and for the values - and mapping it
for the page headers cost 0.2-0.5 ms a 0.7 MB segment (its decoding ~1.3).

Those bytes are always in memory Arrow allocated (store/arrow_owned.py): the batch routes
receive a segment's frame into it (bodies.py), a file is read into it, and bytes handed in
are copied into it. Arrow must never hold a buffer over a Python object here: the last
thread to let such a buffer go takes the GIL to free it, and an Arrow thread that does so
while the interpreter exits aborts the process (exit 134, as the readers did). The check
decodes on its own thread (`use_threads=False`), which lets its buffers go holding the GIL;
Arrow's memory keeps the server safe from that abort whatever reads the bytes, threaded or
not.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flightlog.store.arrow_owned import Bytes, owned, read_file
from flightlog.store.schema import (
    BOOL,
    FLOAT,
    HISTORY_SCHEMA,
    WRITER_ID_KEY,
    validate_history_table,
    validate_history_values,
)

from .limits import MB, SegmentLimits
from .parquet_pages import BadPage, chunk_pages
from .refused import Refused

#: a history footer is a few KB; anything near this is not one of ours
MAX_FOOTER = 1 * MB
#: one page, decompressed (pyarrow writes pages of 1 MB)
MAX_PAGE = 64 * MB
#: rows decoded at a time while the values are checked (~4 MB of fixed-width columns): a
#: writer's row group (131,072 rows) in one batch, not two
BATCH_ROWS = 128 * 1024
#: a segment file up to this size is checked from its bytes, read whole (what a check holds
#: besides its batch; checks run limits.concurrent_checks at a time)
IN_MEMORY = 4 * MB
#: pyarrow's bounds on decoding the footer (its defaults allow 100 MB strings)
_THRIFT = {"thrift_string_size_limit": MAX_FOOTER, "thrift_container_size_limit": 64 * 1024}


def _too_big(what: str, got: int, limit: int, unit: str, flag: str) -> Refused:
    how = f" (`flightlog server {flag}`)" if flag else ""
    return Refused(
        f"the segment {what} {got:,} {unit}, over the server's limit of {limit:,}{how}: "
        "ask the server's admin to raise the limit, or seal smaller segments",
        "segment_too_large",
        413,
    )


def _footer(head: bytes, tail: bytes, size: int) -> None:
    """The PAR1 magic at both ends and a footer length within bounds, or Refused."""
    if size < 12 or head != b"PAR1":
        raise Refused("the body is not a Parquet file (no PAR1 magic)", "not_parquet")
    if tail[4:] != b"PAR1":
        raise Refused("the body is not a Parquet file (no PAR1 footer)", "not_parquet")
    length = int.from_bytes(tail[:4], "little")
    if length > MAX_FOOTER or length > size - 12:
        raise Refused(
            f"the Parquet footer claims {length:,} bytes; a history segment's is a few KB",
            "not_parquet",
        )


@contextmanager
def _pages_of(source: Path | memoryview) -> Iterator[memoryview | mmap.mmap]:
    """The file's bytes to read page headers from: `source` itself, or the file mapped
    (only the headers are touched, not the pages)."""
    if isinstance(source, memoryview):
        yield source
        return
    with open(source, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        yield data


def check_segment_file(source: Path | Bytes, writer: str, limits: SegmentLimits) -> None:
    """Refused unless `source` (a file, or its bytes: an Arrow buffer `arrow_owned` made,
    or bytes, copied into one) is a history segment of `writer` within `limits`."""
    opened: Path | pa.BufferReader
    if isinstance(source, Path):
        size = source.stat().st_size
        if size <= IN_MEMORY:
            source = read_file(source)  # one read, into Arrow's memory
        else:
            with open(source, "rb") as f:
                head = f.read(4)
                f.seek(max(size - 8, 0))
                _footer(head, f.read(8), size)
            opened = source
    if not isinstance(source, Path):
        buf = owned(source)
        source = memoryview(buf).cast("B")
        _footer(bytes(source[:4]), bytes(source[-8:]), len(source))
        opened = pa.BufferReader(buf)
    try:
        pf = pq.ParquetFile(opened, **_THRIFT)
        md = pf.metadata
    except Exception as e:  # pyarrow raises several types for garbage
        raise Refused(f"the body is not a Parquet file: {e}", "not_parquet") from None
    with pf:
        if md.num_columns != len(HISTORY_SCHEMA):
            raise Refused(
                f"the segment has {md.num_columns} columns, a history segment has "
                f"{len(HISTORY_SCHEMA)}",
                "wrong_schema",
            )
        schema = pf.schema_arrow
        try:
            validate_history_table(schema.empty_table())
        except ValueError as e:
            raise Refused(str(e), "wrong_schema") from None
        wid = (schema.metadata or {}).get(WRITER_ID_KEY)
        if wid is not None and wid.decode(errors="replace") != writer:
            raise Refused(
                f"the segment was written by writer {wid.decode(errors='replace')!r}, "
                f"not {writer!r} as its name says",
                "wrong_schema",
            )
        if md.num_rows > limits.rows:
            raise _too_big("declares", md.num_rows, limits.rows, "rows", "--max-segment-rows")
        if md.num_row_groups > limits.row_groups:
            raise _too_big(
                "has", md.num_row_groups, limits.row_groups, "row groups", "--max-row-groups"
            )
        declared = 0
        for i in range(md.num_row_groups):
            rg = md.row_group(i)
            size = max(
                rg.total_byte_size,
                sum(rg.column(j).total_uncompressed_size for j in range(rg.num_columns)),
            )
            if size > limits.row_group:
                raise _too_big(
                    f"has a row group ({i}) that declares",
                    size,
                    limits.row_group,
                    "bytes uncompressed",
                    "--max-row-group-mb",
                )
            declared += size
        if declared > limits.uncompressed:
            raise _too_big(
                "declares", declared, limits.uncompressed, "bytes uncompressed", "--max-segment-mb"
            )
        with _pages_of(source) as data:
            _check_pages(data, md)
        _check_values(opened, md, limits)


def _check_pages(data: memoryview | mmap.mmap, md: pq.FileMetaData) -> None:
    """Every page header within its column chunk's declared size and MAX_PAGE: what pyarrow
    will allocate to decompress a page is then bounded before it decodes any."""
    for i in range(md.num_row_groups):
        rg = md.row_group(i)
        for j in range(rg.num_columns):
            c = rg.column(j)
            total = 0
            try:
                for uncompressed, _ in chunk_pages(data, c):
                    if uncompressed > MAX_PAGE:
                        raise _too_big(
                            "has a page that declares", uncompressed, MAX_PAGE, "bytes", ""
                        )
                    total += uncompressed
            except BadPage as e:
                raise Refused(f"not a valid Parquet file: {e}", "not_parquet") from None
            if total > c.total_uncompressed_size:
                raise Refused(
                    f"the pages of column {c.path_in_schema!r} declare {total:,} bytes, "
                    f"its footer {c.total_uncompressed_size:,}: not a valid Parquet file",
                    "not_parquet",
                )


def _check_values(
    opened: Path | pa.BufferReader, md: pq.FileMetaData, limits: SegmentLimits
) -> None:
    try:  # the footer read once: `metadata=`
        with pq.ParquetFile(opened, metadata=md, read_dictionary=["key", "text"]) as pf:
            _check_batches(pf, md.num_rows, limits)
    except Refused:
        raise
    except (OSError, pa.ArrowException) as e:
        raise Refused(f"the body is not a readable Parquet file: {e}", "not_parquet") from None
    except ValueError as e:
        raise Refused(f"invalid segment contents: {e}", "invalid_values") from None


def _check_batches(pf: pq.ParquetFile, declared_rows: int, limits: SegmentLimits) -> None:
    """One batch in memory at a time; the strings stay dictionaries. The decoded size of
    the text is bounded first by each dictionary's longest string times its rows (a few
    compute calls on a dictionary of tens of keys); only once that bound passes the limit
    is it summed exactly (`_text_before`, then batch by batch), so a segment is refused
    exactly when, and where, the exact sum passes the limit."""
    rows = bound = 0
    text: int | None = None  # the exact sum, once the bound no longer settles it
    for batch in pf.iter_batches(batch_size=BATCH_ROWS, use_threads=False):
        rows += batch.num_rows
        if rows > declared_rows:
            raise Refused("the segment holds more rows than its footer says", "not_parquet")
        if text is None:
            bound += sum(_longest(batch.column(name)) for name in ("key", "text"))
            if bound > limits.text:
                text = _text_before(pf, rows - batch.num_rows)
        if text is not None:
            text += sum(_decoded_bytes(batch.column(name)) for name in ("key", "text"))
            if text > limits.text:
                raise _too_big("decodes to", text, limits.text, "bytes of text", "--max-segment-mb")
        if not _numbers_only(batch):
            validate_history_values(batch)


def _text_before(pf: pq.ParquetFile, rows: int) -> int:
    """The exact decoded size of the text of the segment's first `rows` rows (read again,
    `key` and `text` alone)."""
    total = 0
    for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=["key", "text"], use_threads=False):
        if rows <= 0:
            break
        part = batch.slice(0, rows)
        rows -= part.num_rows
        total += sum(_decoded_bytes(part.column(name)) for name in ("key", "text"))
    return total


def _longest(col: pa.Array) -> int:
    """At least the bytes the column's strings take once decoded: its longest string
    (of the dictionary) times its values."""
    present = len(col) - col.null_count
    if not present:
        return 0
    strings = col.dictionary if isinstance(col, pa.DictionaryArray) else col
    return present * int(pc.max(pc.binary_length(strings)).as_py() or 0)


def _numbers_only(batch: pa.RecordBatch) -> bool:
    """Every row a float, int or bool with its value, no text, nothing null: such a batch
    cannot fail `validate_history_values` (the usual segment), and one min_max says so where
    that takes ~20 compute calls."""
    if not batch.num_rows:
        return True
    text, value = batch.column("text"), batch.column("value")
    if text.null_count != len(text) or value.null_count:
        return False
    if any(batch.column(name).null_count for name in ("step", "time", "key", "kind")):
        return False
    span = pc.min_max(batch.column("kind"))
    return span["min"].as_py() >= FLOAT and span["max"].as_py() <= BOOL


def _decoded_bytes(col: pa.Array) -> int:
    """Bytes the column's strings take once decoded, summed without decoding them."""
    if col.null_count == len(col):
        return 0
    if isinstance(col, pa.DictionaryArray):
        lengths = pc.binary_length(col.dictionary)
        return int(pc.sum(pc.take(lengths, col.indices)).as_py() or 0)
    return int(pc.sum(pc.binary_length(col)).as_py() or 0)
