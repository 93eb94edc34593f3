"""Reading a stream's segment files together (store/segment_files.py reads one, and is
re-exported here): every readable segment's rows, then each writer's journal rows no
segment holds yet (`read_segments`, `iter_segments`), each row exactly once, also while
writers write; a damaged file is skipped with a warning naming it (store/integrity.py).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path

import pyarrow as pa

from .integrity import SegmentDamaged
from .journal import JournalDamaged, JournalName, JournalSnapshot, Mark, list_journals
from .journal_facts import journal_lasts, words_after
from .key_pruning import only_columns, only_keys
from .layout import SegmentName
from .rows import journal_tail
from .schema import WRITER_ID_KEY, WRITER_LABEL_KEY
from .sealing import write_sealed as write_sealed
from .segment_files import list_segments, read_live_segment, segment_mark
from .segment_files import open_leftovers as open_leftovers
from .segment_files import read_journal_checked as read_journal_checked
from .segment_files import read_segment as read_segment
from .segment_files import read_segment_checked as read_segment_checked
from .segment_files import seal as seal
from .segment_files import sealed_rows as sealed_rows
from .segment_files import sealed_twin as sealed_twin
from .streams import OpenSegment as OpenSegment
from .streams import read_ipc_segment as read_ipc_segment
from .streams import table_mark


def read_segments(
    history_dir: Path,
    keys: Collection[str] | None = None,
    dictionary_keys: bool = False,
    read_elsewhere: Collection[str] = (),
    start: Mapping[str, tuple[int, int]] | None = None,
    columns: Sequence[str] | None = None,
    after_steps: Mapping[str, int] | None = None,
    lasts: bool = False,
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
    segment of that number is read from that byte on. `after_steps`: writer -> step: of its
    journal rows, those before the first of a higher step are not decoded (the caller drops
    every row of no higher step: a killed writer's rows after its heartbeat); `lasts`: of
    those, only the rows a summary of last values needs (store/journal_facts.py
    `journal_lasts`)."""
    snapshots = read_journals(history_dir, after_steps)
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
    tails = _journal_tails(snapshots, covered, keys, columns, after_steps, lasts)
    return out + list(tails)


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
    after_steps: Mapping[str, int] | None = None,
    lasts: bool = False,
) -> Iterator[tuple[SegmentName, pa.Table]]:
    """Each journal's rows past its writer's highest mark in `covered` (damaged: warned of);
    `keys`, `columns`: as for `read_segment`; `after_steps`, `lasts`: as for `read_segments`."""
    for jname, snap in snapshots:
        try:
            after = (after_steps or {}).get(jname.writer)
            mark = covered.get(jname.writer)
            if lasts and after is not None:
                tail = journal_lasts(snap, mark, after)
            else:
                tail = journal_tail(snap, mark, after)
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


def read_journals(
    history_dir: Path, after_steps: Mapping[str, int] | None = None
) -> list[tuple[JournalName, JournalSnapshot]]:
    """A snapshot of every journal's committed rows, oldest first, read newest first.

    The snapshots are taken one after the other while `log()` may go on: read oldest first,
    a journal's snapshot could miss the rows committed after it, up to its end, while the
    next journal (the writer's spare, listed before `log()` reached it) was read with rows
    past them, a hole. Read newest first, a journal with rows means the ones before it were
    full when it was read, so they are read whole: each writer's snapshots are a prefix.
    `after_steps`: writer -> step: of its journals, only the data of the rows from the first
    of a higher step on is read (store/journal_facts.py `words_after`)."""
    out = []
    for jname, path in reversed(list_journals(history_dir)):
        try:
            after = (after_steps or {}).get(jname.writer)
            # (two calls: readers' tests wrap `read` with a function of the path alone)
            snap = (
                JournalSnapshot.read(path)
                if after is None
                else JournalSnapshot.read(path, words_after(after))
            )
        except FileNotFoundError:
            continue  # removed once fsynced segments held its rows: read after this
        except (OSError, JournalDamaged) as e:
            warnings.warn(f"flightlog: skipping unreadable journal {path}: {e}", stacklevel=2)
            continue
        if snap.note:
            warnings.warn(f"flightlog: {snap.note}", stacklevel=2)
        out.append((jname, snap))
    return out[::-1]
