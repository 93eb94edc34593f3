"""Segment files: open Arrow IPC streams, sealed Parquet files, and reading either.

An open segment is an Arrow IPC *stream*: every flush appends one self-delimiting record
batch, so after a crash every complete batch is readable and a torn last batch is simply
where reading stops. Sealing rewrites the batches into one Parquet file (sorted by key so a
query for one metric reads one run of row groups), written to a temp name, fsynced, and
renamed to a name carrying its sha256; only then is the IPC file removed. A reader that sees
both (a crash between rename and unlink) uses the Parquet file.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from .atomic import fsync_dir
from .layout import SegmentName, parse_segment_name, sealed_segment_name
from .schema import HISTORY_SCHEMA, WRITER_ID_KEY, WRITER_LABEL_KEY, validate_history_table

_IPC_OPTIONS = ipc.IpcWriteOptions(compression="zstd")
_PARQUET_OPTIONS = dict(
    compression="zstd",
    use_dictionary=["key", "text", "kind"],
    column_encoding={
        "step": "DELTA_BINARY_PACKED",
        "time": "DELTA_BINARY_PACKED",
        "value": "BYTE_STREAM_SPLIT",
    },
    row_group_size=1 << 20,
    write_statistics=True,
)


class OpenSegment:
    """An append-only IPC stream file owned by one writer thread."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.rows = 0
        self._file = open(path, "xb", buffering=0)  # noqa: SIM115 - closed in close()
        try:
            self._writer = ipc.new_stream(self._file, schema, options=_IPC_OPTIONS)
        except BaseException:
            self._file.close()
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


def segment_writer_label(path: Path) -> str | None:
    """The writer label stored in a segment's schema metadata."""
    try:
        if path.suffix == ".parquet":
            meta = pq.read_schema(path).metadata or {}
        else:
            with open(path, "rb") as f:
                meta = ipc.open_stream(f).schema.metadata or {}
    except (pa.ArrowInvalid, OSError):
        return None
    label = meta.get(WRITER_LABEL_KEY)
    return label.decode() if label else None


def _sorted_by_key(table: pa.Table) -> pa.Table:
    """Stable sort by key (via dictionary codes: much cheaper than sorting strings)."""
    if table.num_rows == 0:
        return table
    codes = pc.dictionary_encode(table.column("key")).combine_chunks().indices
    order = np.argsort(codes.to_numpy(zero_copy_only=False), kind="stable")
    return table.take(pa.array(order))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def seal(open_path: Path) -> Path:
    """Turn an IPC segment into its sealed Parquet twin and remove the IPC file.

    Idempotent: sealing a segment whose Parquet twin already exists just removes the IPC file.
    Returns the sealed path.
    """
    name = parse_segment_name(open_path.name)
    if name is None or name.sealed:
        raise ValueError(f"not an open segment: {open_path}")
    existing = sealed_twin(open_path.parent, name)
    if existing is not None:
        open_path.unlink(missing_ok=True)
        return existing
    table = read_ipc_segment(open_path)
    meta = {}
    with open(open_path, "rb") as f:
        try:
            meta = ipc.open_stream(f).schema.metadata or {}
        except (pa.ArrowInvalid, OSError):
            pass
    keep = {k: v for k, v in meta.items() if k in (WRITER_ID_KEY, WRITER_LABEL_KEY)}
    table = _sorted_by_key(table).replace_schema_metadata(keep)
    tmp = open_path.with_name(f".{name.stem}.{secrets.token_hex(4)}.parquet.tmp")
    try:
        pq.write_table(table, tmp, **_PARQUET_OPTIONS)
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


def read_segments(history_dir: Path) -> list[tuple[SegmentName, pa.Table]]:
    """Every readable segment's rows; a corrupt file is skipped with a warning naming it."""
    out = []
    for name, path in list_segments(history_dir):
        try:
            out.append((name, read_segment(path)))
        except (pa.ArrowInvalid, OSError, ValueError) as e:
            warnings.warn(f"flightlog: skipping unreadable segment {path}: {e}", stacklevel=2)
    return out
