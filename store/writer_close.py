"""How a writer ends: `finish()` records the run finished, and the writer thread, after it,
writes and seals the last rows.

What `finish()` waits for is what a kill -9 right after it must find: every committed row
whole in the journals (the page cache keeps them), run.json's pending changes, and the
writer's state file saying finished, with `sealing` set while this process still writes
(`_record_finished`). Sealers leave the files of a sealing writer whose process lives
alone (store/takeover.py `writer_gone`); readers read its journals meanwhile, and once its
process is gone (killed before the seal), anyone may seal them. Converting the last rows
and sealing the segment (ms of CPU), the fsyncs and removing the files the sealed segment
holds run on the writer thread after `finish()` returned, and the interpreter waits for
them at exit
(store/threads.py `wait_at_exit`). The thread goes on only once finish() has stopped the
console copy and the sampler (`close`'s `then`): each file operation of the caller releases
the GIL, and a busy writer thread would keep it for ms each time. (Media held in memory are
the exception: the thread stores them first, as the record must name them.)

The state file is written by the writer thread (heartbeats) and by `close` (the record):
states are taken in order under the run's lock and a state older than one written is
dropped, so an old heartbeat never lands after the record.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .atomic import atomic_write_json
from .journal import commit_pending
from .threads import wait_at_exit

if TYPE_CHECKING:
    from .writer import RunWriter

#: seconds the writer thread, stopped, waits for close()'s caller to be done before it goes on
GO_ON_WAIT = 1.0


class WriterClose:
    """The closing members of `RunWriter` (see the module's docstring)."""

    def close(self: RunWriter, then: Callable[[], object] | None = None) -> None:
        """Record the writer finished, and leave writing and sealing its last rows to its
        thread (which the interpreter waits for at exit), unless the caller is not the main
        thread (SIGTERM's helper thread, which ends the process next): then wait for all.
        `then` (what finish() does next) runs before the thread goes on (module docstring).

        No tick in flight is waited for; media set aside in memory are, as the thread stores
        them first. A KeyboardInterrupt can cut a wait short, never the work: the thread
        does it and a later close() waits again. A disk error is warned about, never raised."""
        t = self._thread
        main = threading.main_thread()
        if t is None or not t.is_alive() or t is threading.current_thread():
            self._stop.set()  # no thread will write again: everything here and now
            if then is not None:
                then()
            self._close_quietly()
        elif threading.current_thread() is not main or not main.is_alive():  # exiting
            self._stop.set()
            self._wake.set()
            if then is not None:
                then()
            self._go_on.set()
            t.join()
        else:
            self._stop.set()  # a tick in flight ends at its next batch; no thread is woken
            wait_at_exit(self._done)  # yet: it would take the GIL from this one for ms
            try:
                if self._media:  # the thread stores them first, then records
                    self._go_on.set()
                    self._wake.set()
                    self._recorded.wait()
                else:
                    self._record_once()
                if then is not None:
                    then()
            finally:
                self._go_on.set()
                self._wake.set()

    def _close_quietly(self: RunWriter) -> None:
        """`_close` once: a second closer (SIGTERM's helper thread while finish() closes on
        the caller's thread, the writer thread never started) waits for the first and finds
        the writer closed; two at once tore the journal's map from under each other."""
        with self._close_lock:
            if self._closed:
                return
            try:
                self._close()
            except (OSError, ValueError, pa.ArrowException) as e:
                self._warn(f"could not finish writing {self.paths.dir}: {e!r}")

    def _close(self: RunWriter) -> None:
        """Write what log() committed, seal, and record the writer finished. A backlog of
        more than DEFER_VALUES values (a loop that outran this thread) stays in its journals,
        msynced, instead of keeping the process's exit waiting; never one held in memory
        only."""
        self._closing = True
        self._tick(force=True, closing=True)  # media first; the seal below makes it durable
        for hook in self.sync_hooks:  # the blobs first, then the seal that makes rows durable
            hook()
        self._close_segment()
        self._sealer.join()
        left = sum(b.num_rows for b, _ in self._queue)  # converted, never written
        self._rows.close(self._written)
        # not fsynced: a power loss right after leaves an earlier state (finished and
        # sealing, or a heartbeat: crashed); its history is sealed and fsynced
        self._sealing = False
        self.write_state(durable=False)
        self._closed = True
        self._settle()
        if left > 0:
            where = "they are lost: no journal file holds them"
            if self._rows.kept_in_files():  # not said of rows a memory-only journal held
                where = (
                    "they are kept in its journal, which `flightlog doctor --repair`, "
                    "`flightlog sync` or a resume turns into a segment"
                    + ("" if self._rows.on_disk() else ", but for those kept in memory only")
                )
            self._warn(
                f"{left:,} values could not be written to {self.paths.dir} "
                f"({self._failing or 'disk error'}); {where}"
            )

    def _settle(self: RunWriter) -> None:
        """Remove the files whose rows are sealed (dropping their pages costs ms per MiB)
        and msync the journals kept."""
        self._sealer.remove_leftovers()
        self._rows.settle()

    def _record_once(self: RunWriter) -> None:
        """`_record_finished`, by whichever of close()'s caller and the thread comes first:
        the thread records itself when the caller takes longer than GO_ON_WAIT (a run.json
        write on a stalled NFS host), and a second record after the seal would set `sealing`
        again for the rest of the process's life."""
        with self._record_lock:
            if not self._recorded.is_set():
                self._record_finished()
                self._recorded.set()

    def _record_finished(self: RunWriter) -> None:
        """What finish() waits for (`close`): every committed row whole in the journals,
        run.json's pending changes written, and the state file saying finished, `sealing`
        while this thread goes on. Not msynced: a power loss loses at most the fsync
        interval, as while the run ran (the thread's seal, ms later, fsyncs every row)."""
        with self._lock:
            commit_pending(self._rows.journal)  # a commit a KeyboardInterrupt cut short
        self._write_meta()  # run.json's changes (a resume's, config set late) are not rows
        self._sealing = True
        self.write_state(durable=False)

    def _finish_closing(self: RunWriter) -> None:
        """The writer thread's end, once its loop saw `close()`'s stop."""
        self._go_on.wait(GO_ON_WAIT)  # close() records, then its `then`; bounded: no hang
        if not self._recorded.is_set():  # media to store first, or a close() cut short
            with self._tick_lock:
                self._media.store(self._lock, self._rows.append)
                self._record_once()
        self._close_quietly()
        while self._flush_waiters:
            self._flush_waiters.popleft().set()

    def write_state(self: RunWriter, durable: bool = True) -> None:
        """Rewrite this writer's state file (heartbeat, step, summary) now, with where its
        stored rows stood before its summary was taken (`stored_upto`: the rows a reader
        folds into the summary if this process is killed are after it)."""
        upto = self._segment.stored_upto
        with self._lock:  # states taken in order, written in that order (`_state_lock`)
            state = self._state()
            if upto is not None:
                state["stored_upto"] = {"segment": upto[0], "byte": upto[1]}
            if self._sealing:  # store/takeover.py leaves this process's files to it meanwhile
                state["sealing"] = True
            self._states_taken += 1
            seq = self._states_taken
        with self._state_lock:  # a heartbeat taken before finish() must not land after it
            if seq > self._state_written:
                self._state_written = seq
                self._write_file(self.paths.writer_state(self.writer_id), state, durable)

    def _write_file(self: RunWriter, path: Path, obj: dict[str, Any], durable: bool = True) -> None:
        try:
            atomic_write_json(path, obj, durable=durable)
        except OSError as e:
            self._disk_problem(f"cannot write {path}: {e.strerror or e}")
