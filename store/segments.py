"""Segment files: open Arrow IPC streams, sealed Parquet files, and reading either.

An open segment is an Arrow IPC *stream*: every flush appends one self-delimiting record
batch, so after a crash every complete batch is readable and a torn last batch is simply
where reading stops. Sealing streams the batches into one Parquet file (large row groups,
one in memory at a time), written to a temp name, fsynced, and renamed to a name carrying its
sha256; only then is the IPC file removed. A reader that sees
both (a crash between rename and unlink) uses the Parquet file.

Every batch carries its crc32, every sealed file's name its sha256 (store/integrity.py):
readers skip what fails them with a warning naming the file, and never return its rows.
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
from .integrity import BATCH_CRC_KEY, SegmentDamaged, batch_checksum, batch_intact, check_sha256
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
        """Append one batch, with its checksum; it reaches the OS page cache before this
        returns."""
        self._writer.write_batch(batch, custom_metadata={BATCH_CRC_KEY: batch_checksum(batch)})
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
    """Every intact batch of an IPC stream; a torn tail or an empty file is not an error.
    A damaged batch is skipped with a warning naming the file."""
    table, damage = read_ipc_checked(path)
    if damage:
        warnings.warn(f"flightlog: {damage}", stacklevel=2)
    return table


def read_ipc_checked(path: Path) -> tuple[pa.Table, str | None]:
    """(every intact batch of an IPC stream, why some were left out or None)."""
    with open(path, "rb") as f:
        data = pa.py_buffer(f.read())
    if not data.size:
        return HISTORY_SCHEMA.empty_table(), None
    opened = _checked_stream(data, path)
    if opened is None:  # the schema message itself is torn
        return HISTORY_SCHEMA.empty_table(), None
    schema, batches, damage = opened
    table = pa.Table.from_batches(list(batches), schema=schema)
    _validate(table, path)
    return table, damage.note()


def _validate(table: pa.Table, path: Path) -> None:
    try:
        validate_history_table(table)
    except ValueError as e:  # a damaged schema decodes to garbage names or types
        raise SegmentDamaged(f"{path} cannot be read as a history segment: {e}") from e


class _Damage:
    """What of one stream was left out so far (filled while the stream is read)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.batches: list[int] = []
        self.unread_bytes = 0  # a tail too long to be a batch cut short by a crash

    def note(self) -> str | None:
        parts = []
        if self.batches:
            which = ", ".join(str(i + 1) for i in self.batches[:5])
            more = "..." if len(self.batches) > 5 else ""
            parts.append(
                f"{len(self.batches)} record batch(es) (number {which}{more}) failed their "
                "checksum or could not be decoded and are skipped"
            )
        if self.unread_bytes:
            parts.append(f"its last {self.unread_bytes} bytes cannot be read")
        return f"segment {self.path} is damaged: " + "; ".join(parts) if parts else None


def _checked_stream(
    source: pa.Buffer, path: Path
) -> tuple[pa.Schema, Iterator[pa.RecordBatch], _Damage] | None:
    """The schema and the intact batches of a stream, read lazily.

    A batch whose checksum fails is skipped and reading goes on (the framing is intact). A
    batch that cannot be decoded stops Arrow's stream reader: the rest is then read message
    by message, each batch decoded on its own, so one bad batch costs only its own rows.
    """
    try:
        reader = ipc.open_stream(source)
    except (pa.ArrowException, OSError):
        return None
    damage = _Damage(path)

    def batches() -> Iterator[pa.RecordBatch]:
        n = 0
        while True:
            try:
                batch, md = reader.read_next_batch_with_custom_metadata()
            except StopIteration:
                return
            except (pa.ArrowException, OSError):
                yield from _salvage(source, n, damage)
                return
            if batch_intact(batch, md):
                yield batch
            else:
                damage.batches.append(n)
            n += 1

    return reader.schema, batches(), damage


def _salvage(source: pa.Buffer, start: int, damage: _Damage) -> Iterator[pa.RecordBatch]:
    """Batches from number `start` on, each decoded alone: a message that is whole but cannot
    be decoded is damage (skipped, noted). A message that cannot even be framed ends the
    stream: quietly when what is left is no longer than a batch (the torn tail a killed
    writer leaves), noted as damage when it is longer."""
    src = pa.BufferReader(source)
    messages = ipc.MessageReader.open_stream(src)
    head = messages.read_next_message().serialize().to_pybytes()  # the schema: read before
    n, pos, largest = 0, src.tell(), 0
    while True:
        try:
            msg = messages.read_next_message()
        except StopIteration:
            return
        except (pa.ArrowException, OSError):
            if source.size - pos > 2 * largest:
                damage.unread_bytes = source.size - pos
            return
        largest, pos = max(largest, src.tell() - pos), src.tell()
        if n >= start:
            try:
                alone = head + msg.serialize().to_pybytes()
                batch, md = ipc.open_stream(alone).read_next_batch_with_custom_metadata()
            except (pa.ArrowException, OSError, StopIteration):
                damage.batches.append(n)
            else:
                if batch_intact(batch, md):
                    yield batch
                else:
                    damage.batches.append(n)
        n += 1


def read_segment(path: Path) -> pa.Table:
    """A segment's rows (open or sealed). Raises SegmentDamaged (a ValueError) on a sealed
    file that fails its sha256 or cannot be decoded; warns about damaged IPC batches."""
    table, damage = read_segment_checked(path)
    if damage:
        warnings.warn(f"flightlog: {damage}", stacklevel=2)
    return table


def read_segment_checked(path: Path) -> tuple[pa.Table, str | None]:
    """(a segment's intact rows, why some rows were left out or None); raises
    SegmentDamaged for a sealed file that is unusable as a whole."""
    name = parse_segment_name(path.name)
    if path.suffix != ".parquet":
        return read_ipc_checked(path)
    with open(path, "rb") as f:
        data = f.read()
    if name is not None and name.sha256:
        check_sha256(data, name.sha256, str(path))
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as e:
        raise SegmentDamaged(f"{path} cannot be decoded: {e}") from e
    _validate(table, path)
    return table, None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _stream_batches(path: Path) -> tuple[pa.Schema, Iterator[pa.RecordBatch]] | None:
    """The schema and intact batches of an IPC segment, read lazily from a memory map; a
    damaged batch is left out with a warning naming the file (it is never sealed in)."""
    opened = _checked_stream(pa.memory_map(str(path)).read_buffer(), path)
    if opened is None:
        return None
    schema, batches, damage = opened

    def checked() -> Iterator[pa.RecordBatch]:
        yield from batches
        if damage.batches:
            warnings.warn(f"flightlog: {damage.note()}", stacklevel=2)

    return schema, checked()


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
        except FileNotFoundError:
            continue  # removed since the listing (its run deleted): not part of this read
        except SegmentDamaged as e:
            warnings.warn(f"flightlog: skipping segment {e}", stacklevel=2)
        except (pa.ArrowException, OSError, ValueError) as e:
            warnings.warn(f"flightlog: skipping unreadable segment {path}: {e}", stacklevel=2)
    return out
