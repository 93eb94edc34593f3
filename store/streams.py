"""Open segments: Arrow IPC streams, written batch by batch and read back batch by batch.

An open segment is an Arrow IPC *stream*: every flush appends one self-delimiting record
batch, so after a crash every complete batch is readable and a torn last batch is simply
where reading stops. Every batch carries its crc32 (store/integrity.py) and the journal mark
its rows reach (store/journal.py); readers skip a batch failing its crc with a warning naming
the file, and never return its rows.
"""

from __future__ import annotations

import os
import struct
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from .arrow_owned import read_file, writable
from .integrity import BATCH_CRC_KEY, SegmentDamaged, batch_checksum, batch_intact
from .journal import MARK_KEY, Mark, decode_mark, encode_mark
from .schema import HISTORY_SCHEMA, validate_history_table

#: uncompressed: an open segment lives until it is sealed, and its writer shares the GIL with
#: the training loop (compressing twice, here and in Parquet, made it fall behind)
_IPC_OPTIONS = ipc.IpcWriteOptions(compression=None)


class OpenSegment:
    """An append-only IPC stream file owned by one writer thread.

    Written through Arrow's native file, not a Python file object: a batch is then written
    under one release of the GIL instead of re-acquiring it for every buffer, which would
    cost up to a switch interval (5 ms) each time while the training loop is busy.
    """

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.rows = 0
        #: bytes written: where the next batch's message starts (`read_ipc_checked`'s `after`)
        self.size = 0
        self.opened = time.monotonic()
        #: the journal mark the next batch's rows reach (store/journal.py), set by its writer
        self.next_mark: Mark | None = None
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))  # never reuse
        try:
            self._file = pa.OSFile(str(path), "ab")
            self._writer = ipc.new_stream(self._file, schema, options=_IPC_OPTIONS)
        except BaseException:
            path.unlink(missing_ok=True)  # nothing of ours is in it
            raise

    def write(self, batch: pa.RecordBatch) -> None:
        """Append one batch, with its checksum and the journal mark (`next_mark`) its rows
        reach; it reaches the OS page cache before this returns."""
        md = {BATCH_CRC_KEY: batch_checksum(batch)}
        if self.next_mark is not None:
            md[MARK_KEY] = encode_mark(self.next_mark)
        self._writer.write_batch(batch, custom_metadata=md)
        self.rows += batch.num_rows
        self.size = self._file.tell()

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


def read_ipc_checked(path: Path, after: int = 0) -> tuple[pa.Table, str | None]:
    """(every intact batch of an IPC stream, why some were left out or None). `after`: only
    the batches from that byte on (an `OpenSegment.size` its writer recorded: a message's
    start), read without the bytes before it; the whole stream if it is no such place."""
    part = _from(path, after) if after else None
    if part is not None:
        opened = _checked_stream(part, path)
        if opened is not None:
            schema, batches, damage = opened
            table = pa.Table.from_batches(list(batches), schema=schema)
            if damage.note() is None:  # (else not a message's start: read it all)
                validate_segment(table, path)
                return with_mark(table, damage.mark), None
    st = os.stat(path)
    data = read_file(path)  # never Python bytes: Arrow's threads drop it (store/arrow_owned.py)
    if not data.size:
        return HISTORY_SCHEMA.empty_table(), None
    opened = _checked_stream(data, path)
    if opened is None:  # the schema message itself is torn
        return HISTORY_SCHEMA.empty_table(), None
    schema, batches, damage = opened
    table = pa.Table.from_batches(list(batches), schema=schema)
    validate_segment(table, path)
    if data.size == st.st_size:  # (else it grew meanwhile: what was read is no stat's)
        _remember_mark(_identity(path, st), damage.mark)
    return with_mark(table, damage.mark), damage.note()


#: the journal mark of IPC streams read whole, by the file's identity: an open segment only
#: grows and its name is never reused, so a size names its content. A dead writer's open
#: segment is read once to describe it, then asked its mark for each of its journals
#: (store/segments.py `read_journal_checked`): 2-4 more reads of up to 500k rows
_MARKS: dict[tuple[str, int, int, int], Mark | None] = {}
_MARKS_MAX = 4096


def _identity(path: Path, st: os.stat_result) -> tuple[str, int, int, int]:
    return str(path), st.st_ino, st.st_size, st.st_mtime_ns


def _remember_mark(key: tuple[str, int, int, int], mark: Mark | None) -> None:
    if len(_MARKS) >= _MARKS_MAX:
        _MARKS.clear()
    _MARKS[key] = mark


def ipc_mark(path: Path) -> Mark | None:
    """The journal mark an IPC stream's rows reach (its last intact batch's), read once per
    size of the file."""
    key = _identity(path, os.stat(path))
    if key in _MARKS:
        return _MARKS[key]
    table, _ = read_ipc_checked(path)
    return table_mark(table)


def _from(path: Path, after: int) -> pa.Buffer | None:
    """The stream's schema message followed by its bytes from `after` on, in memory Arrow
    allocated (store/arrow_owned.py); None when `after` is not past the schema or past the
    end. Only the pages of the schema and of the tail are read (a memory map)."""
    try:
        whole = pa.memory_map(str(path)).read_buffer()
    except (OSError, pa.ArrowException):
        return None  # (gone, or empty: read as a whole file is)
    reader = pa.BufferReader(whole)
    try:
        ipc.MessageReader.open_stream(reader).read_next_message()
    except (pa.ArrowException, OSError, StopIteration):
        return None
    head = reader.tell()
    if not head <= after <= whole.size:
        return None
    buf, view = writable(head + whole.size - after)
    data = memoryview(whole).cast("B")
    view[:head], view[head:] = data[:head], data[after:]
    return buf


def validate_segment(table: pa.Table, path: Path) -> None:
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
        #: the journal mark of the last intact batch read (not damage: carried along)
        self.mark: Mark | None = None

    def intact(self, batch: pa.RecordBatch, md: pa.KeyValueMetadata | None) -> bool:
        if not batch_intact(batch, md):
            return False
        mark = decode_mark(md.get(MARK_KEY)) if md else None
        if mark is not None:
            self.mark = mark if self.mark is None else max(self.mark, mark)
        return True

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
            if damage.intact(batch, md):
                yield batch
            else:
                damage.batches.append(n)
            n += 1

    return reader.schema, batches(), damage


def _torn_tail(tail: memoryview) -> bool:
    """Is `tail` one message cut short, as a writer killed (or still writing) leaves it: its
    header asks for more bytes than there are? Bytes that are no message header, or a whole
    message that still cannot be read, are damage. (A rule by size, "no longer than the
    largest batch", took a large last batch after small ones for damage.)"""
    if len(tail) < 8:
        return True
    marker, size = struct.unpack_from("<Ii", tail, 0)
    if marker != 0xFFFFFFFF or size <= 0:
        return False
    if 8 + size > len(tail):
        return True
    try:
        return 8 + size + _body_length(tail[8 : 8 + size]) > len(tail)
    except struct.error:
        return False


def _body_length(meta: memoryview) -> int:
    """bodyLength of an IPC message's flatbuffer metadata (the Message table's 4th field)."""
    root = struct.unpack_from("<I", meta, 0)[0]
    vtable = root - struct.unpack_from("<i", meta, root)[0]
    vtable_size = struct.unpack_from("<H", meta, vtable)[0]
    field = 4 + 2 * 3
    at = struct.unpack_from("<H", meta, vtable + field)[0] if field < vtable_size else 0
    return struct.unpack_from("<q", meta, root + at)[0] if at else 0


def _salvage(source: pa.Buffer, start: int, damage: _Damage) -> Iterator[pa.RecordBatch]:
    """Batches from number `start` on, each decoded alone: a message that is whole but cannot
    be decoded is damage (skipped, noted). A message that cannot even be framed ends the
    stream: quietly when what is left is no longer than a batch (the torn tail a killed
    writer leaves), noted as damage when it is longer."""
    src = pa.BufferReader(source)
    messages = ipc.MessageReader.open_stream(src)
    head = messages.read_next_message().serialize().to_pybytes()  # the schema: read before
    n, pos = 0, src.tell()
    while True:
        try:
            msg = messages.read_next_message()
        except StopIteration:
            return
        except (pa.ArrowException, OSError):
            if not _torn_tail(memoryview(source)[pos:]):
                damage.unread_bytes = source.size - pos
            return
        pos = src.tell()
        if n >= start:
            try:
                alone = head + msg.serialize().to_pybytes()
                batch, md = ipc.open_stream(alone).read_next_batch_with_custom_metadata()
            except (pa.ArrowException, OSError, StopIteration):
                damage.batches.append(n)
            else:
                if damage.intact(batch, md):
                    yield batch
                else:
                    damage.batches.append(n)
        n += 1


def with_mark(table: pa.Table, mark: Mark | None) -> pa.Table:
    """`table` carrying in its schema metadata the journal mark its rows reach."""
    if mark is None:
        return table
    return table.replace_schema_metadata(
        {**(table.schema.metadata or {}), MARK_KEY: encode_mark(mark)}
    )


def table_mark(table: pa.Table) -> Mark | None:
    return decode_mark((table.schema.metadata or {}).get(MARK_KEY))


def stream_batches(path: Path) -> tuple[pa.Schema, Iterator[pa.RecordBatch], _Damage] | None:
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

    return schema, checked(), damage
