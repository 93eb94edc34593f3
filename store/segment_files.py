"""Segment files one at a time: open Arrow IPC streams (store/streams.py), sealed Parquet
files and journals - reading one, sealing one, listing a directory's, finding a sealed twin.
Reading them together, every row once, is store/segments.py (which re-exports these).

Sealing streams an open segment's batches into one Parquet file (large row groups, one in
memory at a time, store/sealing.py), written to a temp name, fsynced, and renamed to a name
carrying its sha256; only then is the IPC file removed. A reader that sees both (a crash
between rename and unlink) uses the Parquet file.

Every batch carries its crc32, every sealed file's name its sha256 (store/integrity.py):
readers skip what fails them with a warning naming the file, and never return its rows.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Collection, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .arrow_owned import read_file
from .atomic import fsync_dir
from .integrity import SegmentDamaged, check_sha256
from .journal import MARK_KEY, JournalSnapshot, Mark, decode_mark, parse_journal_name
from .journal import SUFFIX as JOURNAL_SUFFIX
from .key_pruning import only_columns, only_keys, plain_key_schema, read_parquet_keys
from .layout import SegmentName, claimed_segment_name, parse_segment_name
from .rows import journal_tail
from .schema import HISTORY_SCHEMA, WRITER_ID_KEY, WRITER_LABEL_KEY
from .sealing import write_sealed
from .streams import ipc_mark, read_ipc_checked, stream_batches, validate_segment, with_mark


def read_segment(
    path: Path,
    keys: Collection[str] | None = None,
    dictionary_keys: bool = False,
    after: int = 0,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """A segment's rows (open or sealed). Raises SegmentDamaged (a ValueError) on a sealed
    file that fails its sha256 or cannot be decoded; warns about damaged IPC batches.

    `keys`: only the rows of these keys (a sealed file decodes only the row groups that may
    hold them); `dictionary_keys`: a sealed file's `key` column as a dictionary; `after`: an
    open one's batches from that byte on (store/streams.py `read_ipc_checked`); `columns`:
    only these (a sealed file decodes no other; the checks are the same)."""
    table, damage = read_segment_checked(path, keys, dictionary_keys, after, columns)
    if damage:
        warnings.warn(f"flightlog: {damage}", stacklevel=2)
    return table


def read_segment_checked(
    path: Path,
    keys: Collection[str] | None = None,
    dictionary_keys: bool = False,
    after: int = 0,
    columns: Sequence[str] | None = None,
) -> tuple[pa.Table, str | None]:
    """(a segment's intact rows, why some rows were left out or None); raises
    SegmentDamaged for a sealed file that is unusable as a whole. `keys`, `dictionary_keys`,
    `after`, `columns`: as for `read_segment`."""
    if path.suffix == JOURNAL_SUFFIX:
        table, note = read_journal_checked(path)
        return only_columns(only_keys(table, keys), columns), note
    name = parse_segment_name(path.name)
    if path.suffix != ".parquet":
        table, note = read_ipc_checked(path, after)
        return only_columns(only_keys(table, keys), columns), note
    data = read_file(path)  # never Python bytes: Arrow's threads drop it (store/arrow_owned.py)
    if name is not None and name.sha256:
        check_sha256(data, name.sha256, str(path))
    try:
        pf = pq.ParquetFile(
            pa.BufferReader(data), read_dictionary=["key"] if dictionary_keys else None
        )
        table = read_parquet_keys(pf, keys, columns)
    except (pa.ArrowException, OSError) as e:
        raise SegmentDamaged(f"{path} cannot be decoded: {e}") from e
    validate_segment(plain_key_schema(pf.schema_arrow).empty_table(), path)
    return with_mark(table, decode_mark((pf.metadata.metadata or {}).get(MARK_KEY))), None


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
    opened = stream_batches(open_path) if open_path.stat().st_size else None
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
            st = os.stat(path)
            return _footer_mark(str(path), st.st_size, st.st_mtime_ns)
        return ipc_mark(path)
    except (OSError, pa.ArrowException, ValueError):
        return None


@functools.lru_cache(maxsize=4096)
def _footer_mark(path: str, size: int, mtime_ns: int) -> Mark | None:
    """A sealed file's mark, from its footer: read once per file as it is (the index
    describes each of a killed writer's journals, and each looks its writer's marks up)."""
    md = pq.read_metadata(path).metadata or {}
    return decode_mark(md.get(MARK_KEY))


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
        if prev is None or _better(parsed, Path(e.path), *prev):
            by_stem[parsed.stem] = (parsed, Path(e.path))
    return [by_stem[k] for k in sorted(by_stem)]


def _better(name: SegmentName, path: Path, prev: SegmentName, prev_path: Path) -> bool:
    """Is `path` the file to read of a segment `prev_path` is also a file of? Sealed over
    open; of two sealed, the one with more rows (`sealed_rows`)."""
    if name.sealed != prev.sealed:
        return name.sealed
    return name.sealed and sealed_rows(path) > sealed_rows(prev_path)


def sealed_rows(path: Path) -> int:
    """Rows of a sealed segment, from its footer (-1 if unreadable). Two sealed files of one
    writer and number are two seals of one segment at different lengths, its rows growing
    by appends (a store copied while a run trained, sealed there, then copied again after
    the run sealed it itself): the longer holds the other's rows and more."""
    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, pa.ArrowException):
        return -1


def open_leftovers(history_dir: Path) -> list[tuple[SegmentName, Path]]:
    """Open segment files whose sealed twin exists: left by a sealer killed between renaming
    the sealed file into place and removing the IPC file. The twin holds every row, so the
    file is removed by whoever may seal the segment (`list_segments` hides it)."""
    try:
        entries = os.listdir(history_dir)
    except FileNotFoundError:
        return []
    stems = {n.stem for e in entries if (n := parse_segment_name(e)) is not None and n.sealed}
    return [
        (n, history_dir / e)
        for e in sorted(entries)
        if (n := parse_segment_name(e)) is not None and not n.sealed and n.stem in stems
    ]


def read_live_segment(
    name: SegmentName,
    path: Path,
    keys: Collection[str] | None = None,
    dictionary_keys: bool = False,
    after: int = 0,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """Read a listed segment; an open one sealed since it was listed is read from its twin.

    Sealing renames the Parquet file into place and then removes the IPC file, so a reader
    that listed the directory just before may find the IPC file gone: the rows are in the
    sealed twin by then. `keys`, `dictionary_keys`, `after`, `columns`: as for
    `read_segment` (the sealed twin is read whole)."""
    opts = (keys, dictionary_keys)
    try:
        return read_segment(path, *opts, after, columns)
    except FileNotFoundError:
        if name.sealed:
            raise
    if not name.claimed:  # claimed since it was listed: renamed, then sealed (takeover.py)
        try:
            claimed = path.with_name(claimed_segment_name(name.writer, name.seq))
            return read_segment(claimed, *opts, after, columns)  # (the same bytes, renamed)
        except FileNotFoundError:
            pass
    twin = sealed_twin(path.parent, name)
    if twin is None:
        raise FileNotFoundError(f"segment {path} vanished and has no sealed twin")
    return read_segment(twin, *opts, columns=columns)


def journal_covered(path: Path) -> Mark | None:
    """The highest mark of the segments of a journal's writer (None: none has one): its
    rows up to there are theirs. Listed after the journal was read (store/segments.py)."""
    jname = parse_journal_name(path.name)
    writer = jname.writer if jname is not None else None
    marks = [segment_mark(p) for n, p in list_segments(path.parent) if n.writer == writer]
    return max((m for m in marks if m is not None), default=None)


def read_journal_checked(path: Path) -> tuple[pa.Table, str | None]:
    """(the rows of one journal that its writer's segments lack, why some were left out);
    for readers that take files one by one (the index). Raises JournalDamaged."""
    snap = JournalSnapshot.read(path)
    tail = journal_tail(snap, journal_covered(path))
    return (tail if tail is not None else HISTORY_SCHEMA.empty_table()), snap.note
