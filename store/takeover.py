"""Who may seal a writer's open segment, and how anyone but its writer does so safely.

A writer seals its own segments. Anyone else (`flightlog sync`, the agent, `doctor --repair`,
a resume) may seal one only with proof that its writer is gone for good:

- the writer recorded itself finished or failed (a leftover of a disk error), and is not
  `sealing` (finish() returned; its process still writes and seals its last rows);
- same host: its process is gone (or its pid was reused);
- another host: no heartbeat for `seal_after()` seconds (FLIGHTLOG_STALE_SECONDS, an hour by
  default). A host paused by a scheduler, a stopped process or a stuck NFS/Lustre metadata
  server looks exactly like a dead one for minutes; the *displayed* state already says
  crashed after liveness.STALE_AFTER, but nothing is sealed on that alone.

Even then the writer may come back, so the sealer first *claims* the segment: it renames
`<wid>-<seq>.arrows` to `<wid>-<seq>.claimed.arrows` (one atomic rename; readers read either)
and seals the claimed file. The writer holds its path (`HeldSegment`): after each flush's
writes and each fsync it checks, with one stat, that the path still names its own file. A
batch is captured by a sealer once a check that followed it succeeded - at once on a local
filesystem, where every process sees a write when it returns; only after an fsync on a
network filesystem, where another host sees what the writer's client flushed. A writer that
finds its segment taken writes every batch not yet known captured - less those the sealed
twin turns out to hold - into a new segment and warns once: no row is lost; a batch caught
in the instant of a claim whose sealing is still under way may be stored twice.

A claimed file left by a sealer that died (claimed more than `claim_grace()` seconds ago) is
sealed by the next sealer or `doctor --repair`.

Journals (store/journal.py) hold what a killed process committed and its segments lack; the
page cache of the writer's own host is what keeps them, so `recover_journals` turns a
journal into a sealed segment only for a writer that finished or failed, or whose process
on this host is gone: it can never write again. A writer on another host keeps its journals
(readers read them meanwhile): whatever of them its host synced, its segments, synced as
often, hold too. Recovery is idempotent (the recovered segment's name follows from the
journal, its content from the files), so concurrent sealers need no claim.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .journal import JournalDamaged, JournalSnapshot, Mark, list_journals
from .layout import RunPaths, SegmentName, claimed_segment_name, parse_segment_name
from .liveness import FAILED, FINISHED, HOSTNAME, STALE_AFTER, pid_alive
from .rows import journal_tail
from .schema import HISTORY_SCHEMA, WRITER_ID_KEY, WRITER_LABEL_KEY
from .segments import (
    OpenSegment,
    list_segments,
    open_leftovers,
    seal,
    sealed_twin,
    segment_mark,
    table_mark,
    write_sealed,
)
from .temp_leftovers import unclaimed_temps

STALE_SECONDS_ENV = "FLIGHTLOG_STALE_SECONDS"
#: default seconds without a heartbeat before another host's writer's segments are sealed
DEFAULT_SEAL_AFTER = 3600.0
#: how long a writer whose segment was claimed waits for the claimer's seal (a segment of
#: 500,000 rows seals in about a second; a loaded machine stretches that)
CLAIM_SEAL_WAIT = 30.0

_warned_env: set[str] = set()


def seal_after() -> float:
    """Seconds without a heartbeat that prove another host's writer dead (for sealing)."""
    raw = os.environ.get(STALE_SECONDS_ENV)
    if not raw:
        return DEFAULT_SEAL_AFTER
    try:
        value = float(raw)
        if value > 0:
            return value
    except ValueError:
        pass
    if raw not in _warned_env:
        _warned_env.add(raw)
        warnings.warn(
            f"flightlog: {STALE_SECONDS_ENV}={raw!r} is not a positive number of seconds; "
            f"using {DEFAULT_SEAL_AFTER:g}",
            RuntimeWarning,
            stacklevel=2,
        )
    return DEFAULT_SEAL_AFTER


def claim_grace() -> float:
    """Seconds a claimed segment is left to its claimer before another sealer takes it over
    (sealing takes seconds; a claimer silent this long is dead)."""
    return min(STALE_AFTER, seal_after())


def _done_writing(w: dict[str, Any]) -> bool:
    """The writer recorded itself finished or failed, and its thread no longer seals."""
    return w.get("state") in (FINISHED, FAILED) and not w.get("sealing")


def writer_gone(w: dict[str, Any], now: float | None = None) -> bool:
    """Is there proof that the writer of state file `w` will never write again?"""
    if _done_writing(w):
        return True
    if w.get("host") == HOSTNAME and isinstance(w.get("pid"), int):
        return not pid_alive(w["pid"], w.get("pid_start"))
    beat = w.get("heartbeat_at")
    if not isinstance(beat, int | float):
        return True  # not a state file any writer wrote
    return (time.time() if now is None else now) - beat > seal_after()


def may_seal(
    name: SegmentName, path: Path, writers: dict[str, dict[str, Any]], now: float | None = None
) -> bool:
    """May this process seal the open segment `name` at `path`? `writers` maps writer ids to
    their state files. The one rule every sealer but the writer itself follows."""
    if name.sealed:
        return False
    now = time.time() if now is None else now
    if name.claimed:  # its claimer seals it, unless the claimer died: a rename sets ctime
        return _age(path, "st_ctime", now) > claim_grace()
    w = writers.get(name.writer)
    if w is not None:
        return writer_gone(w, now)
    # no state file (removed by hand?): the segment's own last write is the only heartbeat
    return _age(path, "st_mtime", now) > seal_after()


def _age(path: Path, field: str, now: float) -> float:
    try:
        return now - float(getattr(path.stat(), field))
    except FileNotFoundError:
        return 0.0  # sealed meanwhile: nothing to do


def seal_taken(name: SegmentName, path: Path) -> Path | None:
    """Seal another writer's segment (after `may_seal`): claim it first, so that its writer,
    should it come back, sees that it was taken. Returns the sealed file, or None if the
    segment was sealed or claimed by someone else meanwhile."""
    if not name.claimed:
        claimed = path.with_name(claimed_segment_name(name.writer, name.seq))
        try:
            os.rename(path, claimed)
        except FileNotFoundError:
            return sealed_twin(path.parent, name)
        path = claimed
    try:
        return seal(path)
    except FileNotFoundError:
        return sealed_twin(path.parent, name)


def writers_by_id(writers: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(w["writer"]): w for w in writers if w.get("writer")}


def seal_abandoned(paths: RunPaths, writers: Iterable[dict[str, Any]]) -> int:
    """Seal the open segments, history and system metrics alike, whose writers are proven gone
    (recovery before a resume), and remove the temp files of sealed copies such a writer
    was building (store/temp_leftovers.py). Returns how many were sealed; others are left
    to their writers."""
    by_id = writers_by_id(writers)
    n = 0
    for stream in ("history", "system"):
        for name, path in list_segments(paths.stream(stream)):
            if may_seal(name, path, by_id) and seal_taken(name, path) is not None:
                n += 1
        for name, path in open_leftovers(paths.stream(stream)):
            if may_seal(name, path, by_id):
                path.unlink(missing_ok=True)
        for name, path in unclaimed_temps(paths.stream(stream), RECOVERED_SEQ):
            if name.writer in by_id and writer_gone(by_id[name.writer]):  # a killed writer's
                path.unlink(missing_ok=True)
    return n + len(recover_journals(paths, by_id))


#: recovered segments are numbered RECOVERED_SEQ + their last journal's number, apart from
#: the numbers a writer gives its own segments
RECOVERED_SEQ = 500_000
#: rows (values) per recovered segment: the writer's own segments' default size
RECOVER_ROWS = 500_000


def journal_recoverable(w: dict[str, Any] | None, path: Path, now: float | None = None) -> bool:
    """May this process turn the journal at `path`, of writer state `w`, into a segment?"""
    now = time.time() if now is None else now
    if w is None:  # no state file: the journal's own last write is the only heartbeat
        return _age(path, "st_mtime", now) > seal_after()
    if _done_writing(w):
        return True
    return w.get("host") == HOSTNAME and writer_gone(w, now)


def recover_journals(paths: RunPaths, writers: dict[str, dict[str, Any]]) -> list[Path]:
    """Turn the journal rows that no segment holds, of writers that can never write again,
    into sealed segments of about RECOVER_ROWS rows each, then remove their journals.
    Returns the segments.

    A piece is sealed before the next journal is read, so memory stays bounded whatever the
    backlog (a hot loop's finish() can leave millions of steps in journals: one table of
    them took 1.15 GB for 1.9M steps of 10 keys). A sealer killed between pieces leaves the
    journals: the next one starts after the last piece's mark, and as pieces end at the same
    journals whoever seals them, concurrent sealers write the same files.

    A damaged journal is skipped, as readers skip it (warned of), and left in place for
    `flightlog doctor` to report and quarantine: raised, it stopped a resume's init(), a
    `flightlog sync` and the sync agent over one file, and the other journals' rows were
    never sealed."""
    history = paths.history
    by_writer: dict[str, list[Path]] = {}
    for jname, path in list_journals(history):
        if journal_recoverable(writers.get(jname.writer), path):
            by_writer.setdefault(jname.writer, []).append(path)
    out = []
    for wid, journals in by_writer.items():
        marks = [segment_mark(p) for n, p in list_segments(history) if n.writer == wid]
        covered = max((m for m in marks if m is not None), default=None)
        tails: list[pa.Table] = []
        rows = 0
        damaged = set()
        for path in journals:
            try:
                tail = journal_tail(JournalSnapshot.read(path), covered)
            except FileNotFoundError:
                break  # another sealer recovered them all: it removes journals last
            except JournalDamaged as e:
                warnings.warn(f"flightlog: skipping rows of {e}", stacklevel=2)
                damaged.add(path)
                tail = None
            if tail is not None:
                tails.append(tail)
                rows += tail.num_rows
            if tails and (rows >= RECOVER_ROWS or path == journals[-1]):
                out.append(_write_recovered(history, wid, path, tails))
                tails, rows = [], 0
        else:
            for path in journals:
                if path not in damaged:
                    path.unlink(missing_ok=True)
    return out


class HeldSegment:
    """A writer's open segment, with its lease: the identity of the file it created.

    `check` (after writing) and `fsync` return False once a sealer has claimed the file;
    `unproven` then holds every batch the sealer may have missed, for the writer to write into
    a new segment. One stat each: a writer checks once per flush."""

    def __init__(self, segment: OpenSegment) -> None:
        self.segment = segment
        st = os.stat(segment.path)
        self._id = (st.st_dev, st.st_ino)
        #: a write is visible to every other process as soon as it returns (local disk)
        self._visible_on_write = is_local_filesystem(segment.path)
        self.unproven: list[tuple[pa.RecordBatch, Mark | None]] = []

    @property
    def path(self) -> Path:
        return self.segment.path

    def held(self) -> bool:
        """Does the path still name our file (one stat)? A stat failing for another reason
        says nothing: the write path reports disk errors."""
        try:
            st = os.stat(self.segment.path)
        except FileNotFoundError:
            return False
        except OSError:
            return True
        return (st.st_dev, st.st_ino) == self._id

    def write(self, batch: pa.RecordBatch, mark: Mark | None = None) -> None:
        """Append `batch` (with its journal mark); it stays in `unproven` until a `check` or
        `fsync` proves it."""
        self.segment.next_mark = mark
        self.segment.write(batch)
        self.unproven.append((batch, mark))

    def check(self) -> bool:
        """After writes: False if the segment was taken (see `unproven`)."""
        if not self.held():
            return False
        if self._visible_on_write:
            self.unproven.clear()
        return True

    def fsync(self) -> bool:
        """fsync; False if the segment turned out to be taken (see `unproven`)."""
        self.segment.fsync()
        if not self.held():
            return False
        self.unproven.clear()
        return True

    def abandon(self) -> list[tuple[pa.RecordBatch, Mark | None]]:
        """Stop using the segment; returns the batches not proven to be in it (or its
        sealer's hands)."""
        try:
            self.segment.close()
        except OSError:
            pass  # taken, or torn by a disk error: nothing more goes into this file
        pending, self.unproven = self.unproven, []
        return pending

    def hand_over(self) -> list[tuple[pa.RecordBatch, Mark | None]]:
        """Close a taken segment (its claimer seals it); returns the batches to write again:
        those not proven captured, less those its sealed twin holds (a sealer keeps a prefix
        of whole batches; the twin is waited for while the claimer seals), so a writer back
        from a long pause stores no row twice."""
        written = self.segment.rows
        pending = self.abandon()
        name = parse_segment_name(self.path.name)
        twin = self._twin_when_sealed(name) if name is not None else None
        if twin is None:
            return pending
        try:
            captured = pq.read_metadata(twin).num_rows
        except (OSError, pa.ArrowException):
            return pending
        skip = captured - (written - sum(b.num_rows for b, _ in pending))
        while pending and skip >= pending[0][0].num_rows:
            skip -= pending.pop(0)[0].num_rows
        return pending

    def _twin_when_sealed(self, name: SegmentName) -> Path | None:
        """The claimer's sealed file. A claimer renames the segment, then seals it
        (`seal_taken`): while the claimed file is there, the twin is on its way, and what it
        holds is known only once it is written (without it every unproven batch is written
        again, and held twice). Waited for up to CLAIM_SEAL_WAIT seconds: a claimer that
        died mid-seal leaves its claimed file, and its batches are then written again."""
        claimed = self.path.with_name(claimed_segment_name(name.writer, name.seq))
        deadline = time.monotonic() + CLAIM_SEAL_WAIT
        while (twin := sealed_twin(self.path.parent, name)) is None:
            if not claimed.exists() or time.monotonic() > deadline:
                return sealed_twin(self.path.parent, name)  # (sealed since the first look?)
            time.sleep(0.01)
        return twin


_taken_lock = threading.Lock()
_taken_warned: set[str] = set()


def warn_taken(writer_id: str, path: Path, warn: Callable[[str], None]) -> None:
    """Say once per writer (its history and system streams alike) that a segment of it was
    sealed by another process and that it goes on in a new one."""
    with _taken_lock:
        if writer_id in _taken_warned:
            return
        _taken_warned.add(writer_id)
    warn(
        f"{path.name} was sealed by another process while this one was not heard from "
        f"(paused or unreachable for longer than {STALE_SECONDS_ENV} allows there); writing "
        "continues in a new segment and no row is lost"
    )


#: filesystems whose page cache every process reading them shares (the rest: assume network)
_LOCAL_FILESYSTEMS = frozenset(
    "ext2 ext3 ext4 xfs btrfs zfs f2fs bcachefs tmpfs ramfs overlay jfs reiserfs vfat exfat "
    "ntfs ntfs3 hfsplus apfs".split()
)


def is_local_filesystem(path: Path) -> bool:
    """Is `path` on a local filesystem (by /proc/self/mountinfo)? Unknown means no: a writer
    then keeps its batches until an fsync is confirmed, which costs memory, never rows."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return False
    target = os.path.realpath(path)
    best, fstype = -1, ""
    for line in lines:
        pre, _, post = line.partition(" - ")
        fields = pre.split()
        if len(fields) < 5 or not post:
            continue
        mount = fields[4].replace("\\040", " ")
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) > best:
            best, fstype = len(mount), post.split()[0]
    return fstype in _LOCAL_FILESYSTEMS


def _write_recovered(history: Path, wid: str, last: Path, tails: list[pa.Table]) -> Path:
    """One sealed segment of journal tails, keeping the last one's mark."""
    schema = tails[-1].schema
    mark = table_mark(tails[-1])
    keep = {
        k: v for k, v in (schema.metadata or {}).items() if k in (WRITER_ID_KEY, WRITER_LABEL_KEY)
    }
    seq = RECOVERED_SEQ + int(last.name.removesuffix(".journal").rsplit("-j", 1)[1])
    batches = (b.replace_schema_metadata(keep) for t in tails for b in t.to_batches())
    name = SegmentName(wid, seq, None, False)
    return write_sealed(history, name, HISTORY_SCHEMA.with_metadata(keep), batches, lambda: mark)
