"""Console capture: stdout and stderr teed into the run's files/output.log.

What the user sees is unchanged (every write goes to the real stream first). The copy is
kept as lines: a carriage return restarts the current line, so a tqdm bar is stored as its
final state, not as thousands of fragments. Writes from every thread pass through the same
tee. A background thread (started by `start()`, off init()'s path: until then the lines wait
in memory) appends finished lines to the file every 0.2 s and fsyncs every second, so kill -9
loses at most about a second; the unfinished last line is written at finish. The file is
capped (a note says so when the cap is reached). Output written by C code or subprocesses
straight to the file descriptors is not seen (as with wandb's "wrap").
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from flightlog.store.atomic import fsync_and_close
from flightlog.store.threads import start_thread

FLUSH_EVERY = 0.2
FSYNC_EVERY = 1.0
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class _Tee:
    """Stands in for sys.stdout / sys.stderr: the real stream, plus a copy to the capture."""

    def __init__(self, real: TextIO, capture: ConsoleCapture, name: str) -> None:
        self._real = real
        self._capture = capture
        self._name = name

    def write(self, text: str) -> int:
        n = self._real.write(text)
        self._capture.feed(self._name, text)
        return n

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding, buffer...
        return getattr(self._real, name)


class ConsoleCapture:
    """Tees the process's stdout and stderr into `path` from its creation until `stop()`;
    `start()` opens the file and starts writing to it."""

    def __init__(
        self,
        path: Path,
        max_bytes: int = DEFAULT_MAX_BYTES,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        #: says, once, that the copy could not be written (a full disk): never raised
        self._warn = warn
        self._lost = False
        # re-entrant: a signal handler that finishes the run may interrupt feed() holding it
        self._lock = threading.RLock()
        self._partial: dict[str, str] = {"stdout": "", "stderr": ""}
        self._lines: list[str] = []
        #: characters in `_lines`: they wait for the thread (memory stays bounded by the cap
        #: even if it never starts)
        self._waiting = 0
        self._written = 0
        self._capped = False
        self._stop = threading.Event()
        #: held while lines are written to the file, by the thread or by `stop()`, which
        #: so need not wait for the thread to end (a busy machine may not run it for ms)
        self._io = threading.RLock()
        self._file: BinaryIO | None = None
        self._closed = False
        self._last_fsync = time.monotonic()
        self._real = (sys.stdout, sys.stderr)
        sys.stdout = _Tee(sys.stdout, self, "stdout")  # type: ignore[assignment]
        sys.stderr = _Tee(sys.stderr, self, "stderr")  # type: ignore[assignment]

    def start(self) -> None:
        """Create the file and start the thread that appends to it."""
        with self._io:
            if self._closed:
                return  # stopped first (a run finished before its background start)
            self._open()
        start_thread(self._loop, "flightlog-console")

    def _open(self) -> BinaryIO | None:
        if self._file is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "ab")  # noqa: SIM115 - closed in stop()
            except OSError as e:
                self._failed(e)
        return self._file

    def _failed(self, e: OSError) -> None:
        """A full or failing disk costs the console copy, never the training: said once."""
        if not self._lost:
            self._lost = True
            if self._warn is not None:
                self._warn(
                    f"the console copy {self.path} could not be written ({e.strerror or e}): "
                    "the output is shown, but not all of it is saved"
                )

    def feed(self, stream: str, text: str) -> None:
        with self._lock:
            if self._capped:
                return
            buf = self._partial[stream] + text
            *done, rest = buf.split("\n")
            for line in done:
                if self._written + self._waiting > self.max_bytes:
                    break  # past the cap already: the next flush writes the cap's note
                kept = line[line.rfind("\r") + 1 :] + "\n"
                self._lines.append(kept)
                self._waiting += len(kept)
            # a carriage return restarts the line: keep only what follows the last one
            self._partial[stream] = rest[rest.rfind("\r") + 1 :] if "\r" in rest else rest

    def _loop(self) -> None:
        while not self._stop.wait(FLUSH_EVERY):
            self._flush()

    def _flush(self) -> None:
        """The thread's periodic write. Its fsync runs outside `_io` (on a duplicate of the
        descriptor, which stays valid if `stop()` closes the file meanwhile), so that
        `stop()` waits for a write, never for the disk."""
        with self._io:
            fd = None if self._closed else self._write_lines(final=False)
        if fd is not None:
            fsync_and_close(fd)

    def _write_lines(self, final: bool) -> int | None:
        """Write the finished lines (`final`: the unfinished ones too, fsynced); returns a
        duplicate descriptor to fsync when the periodic fsync is due."""
        with self._lock:
            lines, self._lines, self._waiting = self._lines, [], 0
            if final:
                lines += [p + "\n" for p in self._partial.values() if p.strip()]
                self._partial = {"stdout": "", "stderr": ""}
        if not lines:
            return None
        data = "".join(lines).encode("utf-8", errors="replace")
        if self._written + len(data) > self.max_bytes:
            data = data[: max(0, self.max_bytes - self._written)]
            data += (
                f"\n[flightlog: output.log reached its {self.max_bytes:,}-byte cap; "
                "later output is shown but not saved]\n"
            ).encode()
            with self._lock:
                self._capped = True
        f = self._open()
        if f is None:
            return None
        try:
            f.write(data)
            f.flush()
            self._written += len(data)
            if final:
                os.fsync(f.fileno())
            elif time.monotonic() - self._last_fsync >= FSYNC_EVERY:
                self._last_fsync = time.monotonic()
                return os.dup(f.fileno())
        except ValueError:  # closed by a stop() that interrupted this
            pass
        except OSError as e:
            self._failed(e)
        return None

    def stop(self) -> None:
        """Restore the real streams and write what is left, the unfinished lines too."""
        self._restore_streams()
        self._stop.set()  # the thread ends at its next wake-up; nothing waits for it
        with self._io:
            if not self._closed:  # a stop() cut short by Ctrl-C runs again
                self._write_lines(final=True)
                f = self._open()  # created even when nothing was printed
                self._closed = True
                if f is not None:
                    try:
                        f.close()  # (flushes what a failed write left in its buffer)
                    except OSError as e:
                        self._failed(e)

    def detach(self) -> None:
        """In a forked child: its print() goes to the real streams only. No thread writes a
        copy there (the parent writes the file), and a thread of the parent that held the
        lock at the fork would never release it: every print() would hang."""
        self._restore_streams()
        self._lines = []
        self._closed = True

    def _restore_streams(self) -> None:
        if isinstance(sys.stdout, _Tee) and sys.stdout._capture is self:
            sys.stdout = self._real[0]
        if isinstance(sys.stderr, _Tee) and sys.stderr._capture is self:
            sys.stderr = self._real[1]
