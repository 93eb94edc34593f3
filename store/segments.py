"""Segment files: open Arrow IPC streams, sealed Parquet files, and reading either.

An open segment is an Arrow IPC *stream*: every flush appends one self-delimiting record
batch, so after a crash every complete batch is readable and a torn last batch is simply
where reading stops. Sealing streams the batches into one Parquet file (large row groups,
one in memory at a time), written to a temp name, fsynced, and renamed to a name carrying its
sha256; only then is the IPC file removed. A reader that sees
both (a crash between rename and unlink) uses the Parquet file.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from .atomic import fsync_dir
from .layout import SegmentName, claimed_segment_name, parse_segment_name, sealed_segment_name
from .schema import HISTORY_SCHEMA, WRITER_ID_KEY, WRITER_LABEL_KEY, validate_history_table

_IPC_OPTIONS = ipc.IpcWriteOptions(compression="zstd")
#: rows per Parquet row group: large for compression and scans, bounded for memory
ROW_GROUP = 128 * 1024
_PARQUET_OPTIONS = dict(
    compression="zstd",
    use_dictionary=["key", "text", "kind"],
    column_encoding={
        "step": "DELTA_BINARY_PACKED",
        "time": "DELTA_BINARY_PACKED",
        "value": "BYTE_STREAM_SPLIT",
    },
    write_statistics=True,
)


class OpenSegment:
    """An append-only IPC stream file owned by one writer thread.

    Written through Arrow's native file, not a Python file object: a batch is then written
    under one release of the GIL instead of re-acquiring it for every buffer, which would
    cost up to a switch interval (5 ms) each time while the training loop is busy.
    """

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.rows = 0
        self.opened = time.monotonic()
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))  # never reuse
        try:
            self._file = pa.OSFile(str(path), "ab")
            self._writer = ipc.new_stream(self._file, schema, options=_IPC_OPTIONS)
        except BaseException:
            path.unlink(missing_ok=True)  # nothing of ours is in it
            raise

    def write(self, batch: pa.RecordBatch) -> None:
        """Append one batch; it reaches the OS page cache before this returns."""
        self._writer.write_batch(batch)
        self.rows += batch.num_rows

    def fsync(self) -> None:
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """End the stream and close the file (best effort: a failing disk may refuse both)."""
        try:
            self._writer.close()
        finally:
            self._file.close()


def read_ipc_segment(path: Path) -> pa.Table:
    """Every complete batch of an IPC stream; a torn tail or an empty file is not an error."""
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        return HISTORY_SCHEMA.empty_table()
    batches: list[pa.RecordBatch] = []
    try:
        reader = ipc.open_stream(pa.py_buffer(data))
    except (pa.ArrowInvalid, OSError):
        return HISTORY_SCHEMA.empty_table()  # the schema message itself is torn
    schema = reader.schema
    while True:
        try:
            batches.append(reader.read_next_batch())
        except StopIteration:
            break
        except (pa.ArrowInvalid, OSError):
            break  # torn tail: the writer died mid-batch
    table = pa.Table.from_batches(batches, schema=schema)
    validate_history_table(table)
    return table


def read_segment(path: Path) -> pa.Table:
    """A segment's rows (open or sealed). Raises on a corrupt sealed file."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        validate_history_table(table)
        return table
    return read_ipc_segment(path)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _stream_batches(path: Path) -> tuple[pa.Schema, Iterator[pa.RecordBatch]] | None:
    """The schema and complete batches of an IPC segment, read lazily from a memory map."""
    source = pa.memory_map(str(path))
    try:
        reader = ipc.open_stream(source)
    except (pa.ArrowInvalid, OSError):
        return None

    def batches() -> Iterator[pa.RecordBatch]:
        while True:
            try:
                yield reader.read_next_batch()
            except StopIteration:
                return
            except (pa.ArrowInvalid, OSError):
                return  # torn tail

    return reader.schema, batches()


def _write_parquet(path: Path, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> None:
    """Stream batches into row groups of ROW_GROUP rows: memory holds one row group."""
    with pq.ParquetWriter(path, schema, **_PARQUET_OPTIONS) as w:
        pending: list[pa.RecordBatch] = []
        rows = 0
        for b in batches:
            pending.append(b)
            rows += b.num_rows
            if rows >= ROW_GROUP:
                w.write_table(pa.Table.from_batches(pending), row_group_size=rows)
                pending, rows = [], 0
        if pending:
            w.write_table(pa.Table.from_batches(pending), row_group_size=rows)


def seal(open_path: Path) -> Path:
    """Turn an IPC segment into its sealed Parquet twin and remove the IPC file.

    Idempotent: sealing a segment whose Parquet twin already exists just removes the IPC file.
    Returns the sealed path. Only the segment's writer calls this on its own segment; anyone
    else goes through store/takeover.py (`may_seal`, then `seal_taken`, which claims the
    segment by renaming it to its `.claimed.arrows` name and then seals that file).
    """
    name = parse_segment_name(open_path.name)
    if name is None or name.sealed:
        raise ValueError(f"not an open segment: {open_path}")
    existing = sealed_twin(open_path.parent, name)
    if existing is not None:
        open_path.unlink(missing_ok=True)
        return existing
    opened = _stream_batches(open_path) if open_path.stat().st_size else None
    if opened is None:  # empty, or the schema itself is torn: nothing was ever written
        schema, batches = HISTORY_SCHEMA, iter(())
    else:
        schema, batches = opened
    keep = {
        k: v for k, v in (schema.metadata or {}).items() if k in (WRITER_ID_KEY, WRITER_LABEL_KEY)
    }
    schema = HISTORY_SCHEMA.with_metadata(keep)
    tmp = open_path.with_name(f".{name.stem}.{secrets.token_hex(4)}.parquet.tmp")
    try:
        _write_parquet(tmp, schema, (b.replace_schema_metadata(keep) for b in batches))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        digest = sha256_file(tmp)
        final = open_path.with_name(sealed_segment_name(name.writer, name.seq, digest))
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(open_path.parent)
    open_path.unlink(missing_ok=True)
    fsync_dir(open_path.parent)
    return final


def sealed_twin(history_dir: Path, name: SegmentName) -> Path | None:
    """The sealed file for the segment `name`, if one exists."""
    prefix = name.stem + "-"
    for p in history_dir.glob(prefix + "*.parquet"):
        parsed = parse_segment_name(p.name)
        if parsed is not None and parsed.sealed:
            return p
    return None


def list_segments(history_dir: Path) -> list[tuple[SegmentName, Path]]:
    """The live segments of a history directory, sealed preferred over an open duplicate."""
    by_stem: dict[str, tuple[SegmentName, Path]] = {}
    try:
        entries = list(os.scandir(history_dir))
    except FileNotFoundError:
        return []
    for e in entries:
        parsed = parse_segment_name(e.name)
        if parsed is None:
            continue
        prev = by_stem.get(parsed.stem)
        if prev is None or (parsed.sealed and not prev[0].sealed):
            by_stem[parsed.stem] = (parsed, Path(e.path))
    return [by_stem[k] for k in sorted(by_stem)]


def read_live_segment(name: SegmentName, path: Path) -> pa.Table:
    """Read a listed segment; an open one sealed since it was listed is read from its twin.

    Sealing renames the Parquet file into place and then removes the IPC file, so a reader
    that listed the directory just before may find the IPC file gone: the rows are in the
    sealed twin by then."""
    try:
        return read_segment(path)
    except FileNotFoundError:
        if name.sealed:
            raise
    if not name.claimed:  # claimed since it was listed: renamed, then sealed (takeover.py)
        try:
            return read_segment(path.with_name(claimed_segment_name(name.writer, name.seq)))
        except FileNotFoundError:
            pass
    twin = sealed_twin(path.parent, name)
    if twin is None:
        raise FileNotFoundError(f"segment {path} vanished and has no sealed twin")
    return read_segment(twin)


def read_segments(history_dir: Path) -> list[tuple[SegmentName, pa.Table]]:
    """Every readable segment's rows; a corrupt file is skipped with a warning naming it."""
    out = []
    for name, path in list_segments(history_dir):
        try:
            out.append((name, read_live_segment(name, path)))
        except (pa.ArrowInvalid, OSError, ValueError) as e:
            warnings.warn(f"flightlog: skipping unreadable segment {path}: {e}", stacklevel=2)
    return out
