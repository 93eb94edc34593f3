"""Segment files: open Arrow IPC streams (store/streams.py), sealed Parquet files, journals,
and reading them together.

Sealing streams an open segment's batches into one Parquet file (large row groups, one in
memory at a time, store/sealing.py), written to a temp name, fsynced, and renamed to a name
carrying its sha256; only then is the IPC file removed. A reader that sees both (a crash
between rename and unlink) uses the Parquet file. A writer's journal rows that no segment
holds yet come after its segments (`read_segments`).

Every batch carries its crc32, every sealed file's name its sha256 (store/integrity.py):
readers skip what fails them with a warning naming the file, and never return its rows.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .arrow_owned import read_file
from .atomic import fsync_dir
from .integrity import SegmentDamaged, check_sha256
from .journal import (
    MARK_KEY,
    JournalDamaged,
    JournalName,
    JournalSnapshot,
    Mark,
    decode_mark,
    list_journals,
    parse_journal_name,
)
from .journal import SUFFIX as JOURNAL_SUFFIX
from .key_pruning import only_columns, only_keys, plain_key_schema, read_parquet_keys
from .layout import SegmentName, claimed_segment_name, parse_segment_name
from .rows import journal_tail
from .schema import HISTORY_SCHEMA, WRITER_ID_KEY, WRITER_LABEL_KEY
from .sealing import write_sealed
from .streams import OpenSegment as OpenSegment
from .streams import (
    ipc_mark,
    read_ipc_checked,
    stream_batches,
    table_mark,
    validate_segment,
    with_mark,
)
from .streams import read_ipc_segment as read_ipc_segment


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
            md = pq.read_metadata(path).metadata or {}
            return decode_mark(md.get(MARK_KEY))
        return ipc_mark(path)
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


def read_segments(
    history_dir: Path,
    keys: Collection[str] | None = None,
    dictionary_keys: bool = False,
    read_elsewhere: Collection[str] = (),
    start: Mapping[str, tuple[int, int]] | None = None,
    columns: Sequence[str] | None = None,
) -> list[tuple[SegmentName, pa.Table]]:
    """Every readable segment's rows, then each writer's journal rows no segment holds yet
    (a writer killed before its thread wrote them, or still running); a corrupt file is
    skipped with a warning naming it.

    Exactly once, also while writers write: journals are read first (each writer's newest
    first: `read_journals`), segments after (`_listed_with_sealed_meanwhile`). A row
    the segments hold is cut from the journal by their highest mark; a journal removed
    before it was read had all its rows in segments fsynced before, read after; rows
    committed after a journal was read are in no part of this read, or, if the writer
    thread wrote them meanwhile, only in the segments: the read is a prefix of each
    writer's rows, in order. `keys`, `dictionary_keys`, `columns`: as for `read_segment`.

    `read_elsewhere`: the stems of sealed segments the caller reads itself (DuckDB, from the
    index): left out, yet their marks cut the journals, so that these are cut by what the
    whole read holds, whatever was sealed since the caller listed them.

    `start`: writer -> (segment number, byte) its rows are read from (a killed writer's
    rows after its heartbeat, store/summary_tail.py): its segments numbered before are left
    out (sealed ones' marks, from their footers, still cut its journals), and its open
    segment of that number is read from that byte on."""
    snapshots = read_journals(history_dir)
    out = []
    covered: dict[str, Mark] = {}
    listed = []
    for name, path in _listed_with_sealed_meanwhile(history_dir):
        first = (start or {}).get(name.writer)
        before = first is not None and name.seq < first[0]
        if name.sealed and (name.stem in read_elsewhere or before):
            _cover(covered, name.writer, segment_mark(path))
        elif not before:
            after = first[1] if first is not None and first[0] == name.seq else 0
            listed.append((name, path, after))
    from .two_threads import each  # readers only: the write path imports this module

    # two files at a time (store/two_threads.py): decoding releases the GIL
    nbytes = sum(max(0, _size(p) - after) for _, p, after in listed) if len(listed) > 1 else 0
    read = each(
        lambda s: _read_listed(s[0], s[1], keys, dictionary_keys, s[2], columns), listed, nbytes
    )
    for (name, _, _), (table, problem) in zip(listed, read, strict=True):
        if problem is not None:
            warnings.warn(problem, stacklevel=2)
        elif table is not None:
            out.append((name, table))
    for name, table in out:
        _cover(covered, name.writer, table_mark(table))
    return out + list(_journal_tails(snapshots, covered, keys, columns))


def iter_segments(
    history_dir: Path,
    keys: Collection[str] | None = None,
    dictionary_keys: bool = False,
    columns: Sequence[str] | None = None,
) -> Iterator[tuple[SegmentName, pa.Table]]:
    """`read_segments`' parts one at a time, each read when the previous one is done with:
    a reader that folds them (a resume's summary, store/history_fold.py; a run's counts
    per key, store/history_keys.py) holds one segment's rows, not the run's, however long
    the run. Exactly once as read_segments is: the journals are read first, and each cut
    by the segments' marks at the end. `keys`, `dictionary_keys`, `columns`: as for
    `read_segment`."""
    snapshots = read_journals(history_dir)
    covered: dict[str, Mark] = {}
    for name, path in _listed_with_sealed_meanwhile(history_dir):
        table, problem = _read_listed(name, path, keys, dictionary_keys, 0, columns)
        if problem is not None:
            warnings.warn(problem, stacklevel=2)
        elif table is not None:
            _cover(covered, name.writer, table_mark(table))
            yield name, table
            del table  # not held while the next one is read
    yield from _journal_tails(snapshots, covered, keys, columns)


def writer_label(name: SegmentName, table: pa.Table) -> str:
    """The writer a segment's rows are shown under (its label, else its id): the `writer`
    of a run's long rows (store/reader.py `_long`), whose rows are one a writer and step
    (store/history_keys.py counts them so)."""
    md = table.schema.metadata or {}
    label = md.get(WRITER_LABEL_KEY) or md.get(WRITER_ID_KEY) or name.writer.encode()
    return label.decode()


def _journal_tails(
    snapshots: list[tuple[JournalName, JournalSnapshot]],
    covered: dict[str, Mark],
    keys: Collection[str] | None,
    columns: Sequence[str] | None,
) -> Iterator[tuple[SegmentName, pa.Table]]:
    """Each journal's rows past its writer's highest mark in `covered` (damaged: warned of);
    `keys`, `columns`: as for `read_segment`."""
    for jname, snap in snapshots:
        try:
            tail = journal_tail(snap, covered.get(jname.writer))
        except JournalDamaged as e:
            warnings.warn(f"flightlog: skipping rows of {e}", stacklevel=2)
            continue
        if tail is not None:
            name = SegmentName(jname.writer, jname.jseq, None, False)
            yield name, only_columns(only_keys(tail, keys), columns)


def _read_listed(
    name: SegmentName,
    path: Path,
    keys: Collection[str] | None,
    dictionary_keys: bool,
    after: int = 0,
    columns: Sequence[str] | None = None,
) -> tuple[pa.Table | None, str | None]:
    """(a listed segment's rows, None), (None, why it is skipped), or (None, None) when it
    was removed since the listing (its run deleted: not part of this read)."""
    try:
        return read_live_segment(name, path, keys, dictionary_keys, after, columns), None
    except FileNotFoundError:
        return None, None
    except SegmentDamaged as e:
        return None, f"flightlog: skipping segment {e}"
    except (pa.ArrowException, OSError, ValueError) as e:
        return None, f"flightlog: skipping unreadable segment {path}: {e}"


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _cover(covered: dict[str, Mark], writer: str, mark: Mark | None) -> None:
    """Raise `writer`'s highest mark held by segments to `mark`."""
    if mark is not None and (writer not in covered or mark > covered[writer]):
        covered[writer] = mark


def _listed_with_sealed_meanwhile(history_dir: Path) -> list[tuple[SegmentName, Path]]:
    """`list_segments`, plus the segments it showed under neither name: readdir need not
    show a file renamed into place or removed while it runs, so a segment sealed then is
    missing while its writer's next segment, with a later mark, is there (its rows would be
    cut from the journal and read nowhere). A second listing shows its sealed file; only
    segments older than a listed one of their writer are taken from it (a newer one may
    have been started after an open segment listed was read: not part of this read)."""
    first = list_segments(history_dir)
    newest: dict[str, int] = {}
    for n, _ in first:
        newest[n.writer] = max(newest.get(n.writer, n.seq), n.seq)
    stems = {n.stem for n, _ in first}
    missed = [
        (n, p)
        for n, p in list_segments(history_dir)
        if n.stem not in stems and n.seq < newest.get(n.writer, -1)
    ]
    return sorted(first + missed, key=lambda s: s[0].stem) if missed else first


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
    """A snapshot of every journal's committed rows, oldest first, read newest first.

    The snapshots are taken one after the other while `log()` may go on: read oldest first,
    a journal's snapshot could miss the rows committed after it, up to its end, while the
    next journal (the writer's spare, listed before `log()` reached it) was read with rows
    past them, a hole. Read newest first, a journal with rows means the ones before it were
    full when it was read, so they are read whole: each writer's snapshots are a prefix."""
    out = []
    for jname, path in reversed(list_journals(history_dir)):
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
    return out[::-1]
