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

import os
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from .atomic import fsync_dir
from .integrity import BATCH_CRC_KEY, SegmentDamaged, batch_checksum, batch_intact, check_sha256
from .journal import (
    MARK_KEY,
    JournalDamaged,
    JournalName,
    JournalSnapshot,
    Mark,
    decode_mark,
    encode_mark,
    list_journals,
    parse_journal_name,
)
from .journal import SUFFIX as JOURNAL_SUFFIX
from .layout import SegmentName, claimed_segment_name, parse_segment_name
from .rows import journal_tail
from .schema import HISTORY_SCHEMA, WRITER_ID_KEY, WRITER_LABEL_KEY, validate_history_table
from .sealing import write_sealed

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
    return with_mark(table, damage.mark), damage.note()


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
                if damage.intact(batch, md):
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
    if path.suffix == JOURNAL_SUFFIX:
        return read_journal_checked(path)
    name = parse_segment_name(path.name)
    if path.suffix != ".parquet":
        return read_ipc_checked(path)
    with open(path, "rb") as f:
        data = f.read()
    if name is not None and name.sha256:
        check_sha256(data, name.sha256, str(path))
    try:
        pf = pq.ParquetFile(pa.BufferReader(data))
        table = pf.read()
    except (pa.ArrowException, OSError) as e:
        raise SegmentDamaged(f"{path} cannot be decoded: {e}") from e
    _validate(table, path)
    return with_mark(table, decode_mark((pf.metadata.metadata or {}).get(MARK_KEY))), None


def with_mark(table: pa.Table, mark: Mark | None) -> pa.Table:
    """`table` carrying in its schema metadata the journal mark its rows reach."""
    if mark is None:
        return table
    return table.replace_schema_metadata(
        {**(table.schema.metadata or {}), MARK_KEY: encode_mark(mark)}
    )


def table_mark(table: pa.Table) -> Mark | None:
    return decode_mark((table.schema.metadata or {}).get(MARK_KEY))


def _stream_batches(path: Path) -> tuple[pa.Schema, Iterator[pa.RecordBatch], _Damage] | None:
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
    damage = None
    if opened is None:  # empty, or the schema itself is torn: nothing was ever written
        schema, batches = HISTORY_SCHEMA, iter(())
    else:
        schema, batches, damage = opened
    keep = {
        k: v for k, v in (schema.metadata or {}).items() if k in (WRITER_ID_KEY, WRITER_LABEL_KEY)
    }
    final = write_sealed(
        open_path.parent,
        name,
        HISTORY_SCHEMA.with_metadata(keep),
        (b.replace_schema_metadata(keep) for b in batches),
        lambda: damage.mark if damage is not None else None,
    )
    open_path.unlink(missing_ok=True)
    fsync_dir(open_path.parent)
    return final


def segment_mark(path: Path) -> Mark | None:
    """The journal mark a segment's rows reach (a sealed file's footer, an open one's
    batches); None for segments written before journals, or unreadable ones."""
    try:
        if path.suffix == ".parquet":
            md = pq.read_metadata(path).metadata or {}
            return decode_mark(md.get(MARK_KEY))
        return table_mark(read_ipc_checked(path)[0])
    except (OSError, pa.ArrowException, ValueError):
        return None


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
    """Every readable segment's rows, then each writer's journal rows no segment holds yet
    (a writer killed before its thread wrote them, or still running); a corrupt file is
    skipped with a warning naming it.

    Exactly once, also while writers write: journals are read first, segments after. A row
    the segments hold is cut from the journal by their highest mark; a journal removed
    before it was read had all its rows in segments fsynced before, read after; rows
    committed after a journal was read are in no part of this read, or, if the writer
    thread wrote them meanwhile, only in the segments: the read is a prefix of each
    writer's rows, in order."""
    snapshots = read_journals(history_dir)
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
    covered: dict[str, Mark] = {}
    for name, table in out:
        mark = table_mark(table)
        if mark is not None and (name.writer not in covered or mark > covered[name.writer]):
            covered[name.writer] = mark
    for jname, snap in snapshots:
        try:
            tail = journal_tail(snap, covered.get(jname.writer))
        except JournalDamaged as e:
            warnings.warn(f"flightlog: skipping rows of {e}", stacklevel=2)
            continue
        if tail is not None:
            out.append((SegmentName(jname.writer, jname.jseq, None, False), tail))
    return out


def read_journal_checked(path: Path) -> tuple[pa.Table, str | None]:
    """(the rows of one journal that its writer's segments lack, why some were left out);
    for readers that take files one by one (the index). Raises JournalDamaged."""
    jname = parse_journal_name(path.name)
    writer = jname.writer if jname is not None else None
    snap = JournalSnapshot.read(path)
    marks = [segment_mark(p) for n, p in list_segments(path.parent) if n.writer == writer]
    covered = max((m for m in marks if m is not None), default=None)
    tail = journal_tail(snap, covered)
    return (tail if tail is not None else HISTORY_SCHEMA.empty_table()), snap.note


def read_journals(history_dir: Path) -> list[tuple[JournalName, JournalSnapshot]]:
    """A snapshot of every journal's committed rows."""
    out = []
    for jname, path in list_journals(history_dir):
        try:
            snap = JournalSnapshot.read(path)
        except FileNotFoundError:
            continue  # removed once fsynced segments held its rows: read after this
        except (OSError, JournalDamaged) as e:
            warnings.warn(f"flightlog: skipping unreadable journal {path}: {e}", stacklevel=2)
            continue
        if snap.note:
            warnings.warn(f"flightlog: {snap.note}", stacklevel=2)
        out.append((jname, snap))
    return out
