"""A writer's journals: `log()` appends to the newest, the writer thread converts the rest.

The training thread appends under the run's lock (`append`); the writer thread takes the
rows committed since its last look (`take`) as tidy record batches, each with its journal
mark, keeps a spare journal ready so that `log()` rarely creates one itself (`prepare`), and
removes the journals whose rows written segments hold (`release`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .fault_ahead import FaultAhead
from .journal import (
    DEFINE,
    PACKED,
    ROWS_CAP,
    WORDS_CAP,
    JournalFile,
    Mark,
    append_fast,
    append_split,
    commit_pending,
    define_json,
    journal_name,
    list_journals,
)
from .packed_rows import NEEDS_PACKED, journal_blob, split_histograms
from .rows import journal_batches, records_view
from .signatures import SignatureTable, signature

#: values converted per `take` at most (~3k rows of 10 values, about a ms of work): the
#: writer holds the GIL in short stretches, and a close() arriving meanwhile is taken up soon
TAKE_VALUES = 1 << 15
#: seconds the writer sleeps after printing histograms for PRINT_SLICE, and after the last
#: ones of a batch (store/packed_rows.py): long enough for a log() waiting for the
#: GIL to wake and take it (time.sleep(0) returns before a waiting thread wakes, and the
#: writer takes the GIL back)
PAUSE = 1e-4
#: seconds between tries of a journal file after one could not be created (a full disk)
FILE_RETRY_SECONDS = 1.0


def _pause() -> None:
    """Hand the GIL to a log() waiting for it (see PAUSE)."""
    time.sleep(PAUSE)


class RowsSkipped(ValueError):
    """Committed rows that could not be converted (a journal damaged in memory or on disk:
    never expected). They are not tried again: the writer goes on with the next rows, and
    the marks of later batches cover them, so readers skip them too."""

    def __init__(self, rows: int, path: Path | None, cause: Exception) -> None:
        where = path if path is not None else "the in-memory journal"
        super().__init__(f"{rows:,} logged rows in {where} could not be converted ({cause!r})")
        self.rows = rows


class RowLog:
    """The journals of one writer, oldest first; the last one takes `log()`'s rows."""

    def __init__(
        self,
        history: Path,
        writer_id: str,
        label: str,
        lock: threading.RLock,
        warn: Callable[[str], None],
        on_rotate: Callable[[], None] | None = None,
    ) -> None:
        """`on_rotate` is called (by log()) when log() goes on in the spare: the writer
        thread wakes to make the next one (see `rotate`)."""
        self.history = history
        self._on_rotate = on_rotate
        self.writer_id = writer_id
        self.label = label
        self.signatures = SignatureTable()
        #: DEFINE rows by signature id (`_definition`)
        self._defines: dict[int, bytes] = {}
        self._lock = lock
        self._warn = warn
        self._create_lock = threading.Lock()
        self._spare: JournalFile | None = None
        #: spares too small for the row that needed one: the writer thread removes them (it
        #: may be faulting in their pages meanwhile: `prepare`)
        self._unused: list[JournalFile] = []
        #: journals with rows not converted yet (the last one is log()'s)
        self._journals: deque[JournalFile] = deque()
        #: rows of `_journals[0]` converted so far, and where the next one's data starts
        self._read = (0, 0)
        #: data words converted so far, in every journal (log()'s rate: store/hot_loop.py)
        self.converted = 0
        #: fully converted journals, with their last mark, waiting for an fsync
        self._retired: list[tuple[JournalFile, Mark]] = []
        self._widest = 0
        self._ahead = FaultAhead()
        #: journals are made in memory only (the last file could not be created), since when
        self._memory_only = False
        self._memory_since = 0.0
        #: the outage under way was warned of (reset once a journal file is made again)
        self._said_memory = False
        #: journal files `settle` removes (see `close`)
        self._to_remove: list[Path] = []
        #: the number of the last journal created (or whose creation was tried)
        self._jseq = 0
        self.journal = self._new(0)
        self._journals.append(self.journal)

    # -- the training thread (under the run's lock) -----------------------------------------
    def append(self, step: int, t: float, row: dict[str, Any], sid: int) -> None:
        """Commit one row to the journal (see store/journal.py for why it survives a kill)."""
        j = self.journal
        sigs = self.signatures
        if sigs.fast_ok(sid, row):
            words = len(row)
            if not j.fits(words):
                j = self.rotate(words)
            if sid not in j.defined:
                j = self._define(j, sid, self._definition(sid), words)
            append_fast(j, step, t, sid, sigs.packers[sid], row.values(), words)
        elif (split := split_histograms(row)) is None or not self._append_split(step, t, *split):
            code, data = journal_blob(row)
            words = len(data) // 8 + 1
            if not j.fits(words):
                j = self.rotate(words)
            if code == PACKED and PACKED not in j.defined:  # what older versions refuse
                j = self._define(j, PACKED, NEEDS_PACKED, words)
            j.append_blob(step, t, code, data)

    def _append_split(self, step: int, t: float, plain: dict[str, Any], data: bytes) -> bool:
        """Append a row of numbers then histograms as two journal rows (one commit); False
        if its numbers cannot take the fast path (an int not exact as a float64)."""
        sigs = self.signatures
        sig = signature(plain)
        sid = sigs.ids.get(sig)
        if sid is None:
            sid = sigs.register(sig)
        if not sigs.fast_ok(sid, plain):
            return False
        words = len(plain)
        room = words + len(data) // 8
        j = self.journal
        if not (sid in j.defined and PACKED in j.defined and j.fits(room, rows=2)):
            define = self._definition(sid)
            # room for both DEFINE rows too, so that no rotation comes between them
            room += len(define) // 8 + len(NEEDS_PACKED) // 8 + 2
            if not j.fits(room, rows=4):
                j = self.rotate(room)
            for code, text in ((sid, define), (PACKED, NEEDS_PACKED)):
                if code not in j.defined:
                    j.append_blob(0, 0.0, DEFINE, text)
                    j.defined.add(code)
        append_split(j, step, t, sid, sigs.packers[sid], plain.values(), words, data)
        return True

    def _definition(self, sid: int) -> bytes:
        """The DEFINE row of signature `sid`, made once: each journal holds it again, and
        printing the JSON of a 10,000-key signature cost log() ~1.3 ms at every rotation."""
        data = self._defines.get(sid)
        if data is None:
            data = self._defines[sid] = define_json(sid, *self.signatures.definition(sid))
        return data

    def _define(self, j: JournalFile, sid: int, data: bytes, words: int) -> JournalFile:
        """Write DEFINE row `data` (of signature `sid`, or PACKED's mark) once per journal,
        in the journal that then takes the row of `words` words."""
        if not j.fits(len(data) // 8 + 1 + words):
            j = self.rotate(len(data) // 8 + 1 + words)
        j.append_blob(0, 0.0, DEFINE, data)
        j.defined.add(sid)
        return j

    def rotate(self, words: int = 0) -> JournalFile:
        """Go on in the next journal: the spare if it fits, else a new one (rare)."""
        with self._create_lock:
            new, self._spare = self._spare, None
            if new is None or not new.fits(words + 1) or (new.path is None and self._file_again()):
                if new is not None:  # too small for this row, or in memory: stays empty
                    self._unused.append(new)
                new = self._new(words)
            commit_pending(self.journal)  # a commit store a KeyboardInterrupt cut short:
            # readers would see the next journal's rows without this one's last row
            self._journals.append(new)
            self.journal = new  # one store: log() goes on there
        if self._on_rotate is not None:
            self._on_rotate()  # the writer thread makes the next spare now
        return new

    def _new(self, words: int) -> JournalFile:
        """The next journal, under the next number. The number is taken before anything that
        a KeyboardInterrupt in log() can cut short, so a creation cut short is never tried
        again under the same name (that file holds no row: `close` removes it); trying it
        again found the file there and left every later row in memory only."""
        self._jseq += 1
        jseq = self._jseq
        self._widest = max(self._widest, words)
        cap = max(WORDS_CAP, 64 * self._widest, 2 * words + 1024)
        meta = {"writer": self.writer_id, "label": self.label, "jseq": jseq}
        if not self._memory_only:
            try:
                self.history.mkdir(parents=True, exist_ok=True)
                path = self.history / journal_name(self.writer_id, jseq)
                made = JournalFile(path, jseq, meta, ROWS_CAP, cap)
            except OSError as e:
                self._memory_only, self._memory_since = True, time.monotonic()
                if not self._said_memory:  # once an outage, not at each try a second
                    self._said_memory = True
                    self._warn(
                        f"cannot create a journal in {self.history} ({e.strerror or e}): rows "
                        "are kept in memory until they are written, so a kill -9 may lose the "
                        "last ones; a journal file is tried again every second"
                    )
            else:
                self._said_memory = False
                return made
        return JournalFile(None, jseq, meta, ROWS_CAP, cap)

    def _discard(self, j: JournalFile) -> None:
        j.close()
        if j.path is not None:
            j.path.unlink(missing_ok=True)

    # -- the writer thread ------------------------------------------------------------------
    def prepare(self) -> None:
        """Fault in the pages log() writes next, and have a spare journal ready for when
        log()'s is full (creating one takes ~1 ms): both off the training thread."""
        while self._unused:
            self._discard(self._unused.pop())
        with self._create_lock:
            again = self._file_again()
            if self._spare is None or again:
                if self._spare is not None:  # in memory, never written: let go
                    self._unused.append(self._spare)
                self._spare = self._new(self._widest)
        self._ahead.fault_in(self.journal, lambda: self._spare)

    def _file_again(self) -> bool:
        """Try a journal file again, once a second after one could not be created: the disk
        may have room again, and log()'s rows go back into files at its next rotation (a
        process-long switch to memory lost every later row to a kill -9)."""
        if not self._memory_only or time.monotonic() - self._memory_since < FILE_RETRY_SECONDS:
            return False
        self._memory_only = False
        return True

    def take(self, schema: pa.Schema, out: deque[tuple[pa.RecordBatch, Mark]]) -> None:
        """Append to `out` the rows committed since the last call, as tidy batches with their
        marks; about TAKE_VALUES values at most, so that one tick stays short: `pending_values`
        says what is left. Each batch goes to `out` as it is made: rows that fail to convert
        are not tried again, and a batch made before them (perhaps of a journal already
        retired) must not be dropped with them, or a later batch's mark would cover rows that
        no segment holds. It pauses as PAUSE says, closing too: the training thread goes on
        (with the next run of a sweep) while the writer closes after finish() returned."""
        self._ahead.fault_in(self.journal, lambda: self._spare)
        budget = TAKE_VALUES
        while True:
            with self._lock:
                j = self._journals[0]
                # log()'s journal, even if a rotation cut short already queued the next one
                last = j is self.journal
                n, end = j.pos
                table = self.signatures.snapshot()
            done, start = self._read
            if done < n:
                records = records_view(j.mm, j.roff + 32 * done, n - done).copy()
                cut = int(np.searchsorted(records["end"], start + budget, side="right"))
                if cut < len(records):  # the rest waits for the next call
                    records = records[: max(cut, 1)]
                    n, end, last = done + len(records), int(records["end"][-1]), True
                budget -= end - start
                self.converted += end - start
                view = memoryview(j.mm)[j.voff : j.voff + 8 * end]
                words = np.frombuffer(view, np.float64)
                self._read = (n, end)  # rows that fail to convert are not tried again
                reached = 0
                batches = journal_batches(records, words, view, start, table, schema, _pause)
                try:
                    for batch, r in batches:
                        out.append((batch, (j.jseq, done + r)))
                        reached = r
                except (ValueError, KeyError, TypeError, IndexError) as e:
                    rows = int((records["sid"][reached:] != DEFINE).sum())
                    raise RowsSkipped(rows, j.path, e) from e
                finally:
                    del words
                    view.release()
            if last or budget <= 0:
                return
            with self._lock:
                self._journals.popleft()
            self._retired.append((j, (j.jseq, n)))
            self._read = (0, 0)

    def pending_values(self) -> int:
        """Data words committed and not converted yet (about one per value)."""
        with self._lock:
            ends = [j.pos[1] for j in self._journals]
        return sum(ends) - self._read[1]

    def on_disk(self) -> bool:
        """Is every row in a journal file (none held in memory only after a disk error)?"""
        with self._lock:
            return all(j.path is not None for j in self._journals)

    def kept_in_files(self) -> bool:
        """After `close`: does a journal file still hold rows? Rows of journals kept in
        memory only (no file could be created) are gone with the process."""
        kept = [*self._journals, *(j for j, _ in self._retired)]
        return any(j.path is not None for j in kept)

    def sync(self) -> None:
        """msync every journal still holding rows (power-loss safety, every fsync interval)."""
        for j in [r[0] for r in self._retired] + list(self._journals):
            if j.path is not None:
                try:
                    j.sync()
                except (OSError, ValueError):
                    pass  # closed meanwhile, or the disk fails: segments report it

    def release(self, mark: Mark | None) -> None:
        """Segments written (in the page cache, so safe from a kill -9) hold every row up to
        `mark`: remove the journals they cover. A power loss still loses at most the fsync
        interval: segments are fsynced as often as journals are msynced."""
        if mark is None:
            return
        keep = []
        for j, last in self._retired:
            if last <= mark:
                self._discard(j)
            else:
                keep.append((j, last))
        self._retired = keep

    def close(self, mark: Mark | None) -> None:
        """At the writer's close, after everything taken was written and fsynced up to
        `mark`: close every journal that holds no row beyond it, for `settle` to remove with
        the files of journal creations a KeyboardInterrupt cut short (the others stay for
        readers, and for store/takeover.py to seal: `kept_in_files`)."""
        with self._lock:
            commit_pending(self.journal)
        self.release(mark)
        kept: deque[JournalFile] = deque()
        gone = []
        for j in self._journals:
            if j.pos[0] == 0 or (mark is not None and (j.jseq, j.pos[0]) <= mark):
                gone.append(j)
            else:
                kept.append(j)
        self._journals = kept
        with self._create_lock:
            if self._spare is not None:
                gone.append(self._spare)
                self._spare = None
            gone += self._unused
            self._unused = []
        for j in gone:
            j.close()
        held = {j.path for j in kept} | {j.path for j, _ in self._retired}
        self._to_remove = [
            path
            for name, path in list_journals(self.history)
            if name.writer == self.writer_id and path not in held
        ]

    def settle(self) -> None:
        """The slow half of `close` (ms per MiB of dirty pages), done after the seal: remove
        the journals closed, msync the ones kept."""
        for path in self._to_remove:
            path.unlink(missing_ok=True)
        self.sync()
