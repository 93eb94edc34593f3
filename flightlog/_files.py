"""`run.save(glob, base_path=None, policy="live"|"now"|"end")`: files kept with the run.

Copies (never symlinks) land in the run's files/ directory, written to a temp name and
renamed, with their sha256 recorded in run.json ("saved_files"), so they are as immutable
and content-addressed as sealed segments and sync can ship them. Copying a checkpoint can
take a while, so it happens on a background thread, never in the training thread:
  - "now": copied as the file is at the time of the call;
  - "end": copied when the run finishes;
  - "live": copied now, again whenever it changes (watchdog, imported only for this policy),
    and once more at finish.
"""

from __future__ import annotations

import glob as globlib
import os
import queue
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flightlog.store.atomic import atomic_copy
from flightlog.store.threads import start_thread

from ._errors import UsageError

POLICIES = ("live", "now", "end")
#: watchdog events that say a watched file changed ("closed": closed after writing). Not
#: "opened" or "closed_no_write": a copy reading the file makes those, and each of them
#: queued the next copy, so a live file was copied over and over for the run's life
CHANGES = frozenset({"created", "modified", "moved", "closed"})


class FileSaver:
    """Copies files into a run's files/ directory from one background thread."""

    def __init__(
        self, files_dir: Path, on_saved: Callable[[str, str], None], warn: Callable[[str], None]
    ) -> None:
        self.files_dir = files_dir
        self._on_saved = on_saved
        self._warn = warn
        self._queue: queue.Queue[tuple[Path, str] | None] = queue.Queue()
        self._at_end: dict[Path, str] = {}
        self._observer: Any = None
        self._watched: dict[Path, str] = {}
        self._queued: set[Path] = set()  # copies waiting: a change of one is not queued again
        self._lock = threading.Lock()
        self._unmatched: set[str] = set()  # the patterns said to match nothing
        self._thread = start_thread(self._loop, "flightlog-files")

    def save(self, pattern: str, base_path: str | None, policy: str) -> list[str]:
        """Register the files matching `pattern`; returns their names under files/ (none
        when nothing matches: said once per pattern, never raised - training goes on)."""
        if policy not in POLICIES:
            raise UsageError(f"unknown policy {policy!r}: use one of {', '.join(POLICIES)}")
        paths = [
            Path(p) for p in sorted(globlib.glob(pattern, recursive=True)) if Path(p).is_file()
        ]
        if not paths:  # wandb's scripts save "ckpt/*.pt" before the first checkpoint
            if pattern not in self._unmatched:
                self._unmatched.add(pattern)
                self._warn(
                    f"run.save({pattern!r}) matched no file (relative paths are taken from "
                    f"{os.getcwd()}): nothing saved; call run.save again once the files exist"
                )
            return []
        names = []
        for p in paths:
            p = _absolute(p)  # links are not resolved: the copy reads what they point to
            name = _name_under_files(p, base_path)
            names.append(name)
            if policy == "end":
                self._at_end[p] = name
            else:
                self._enqueue(p, name)
                if policy == "live":
                    self._watch(p, name)
                    self._at_end[p] = name
        return names

    def _watch(self, path: Path, name: str) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        saver = self

        class Changed(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                if event.event_type not in CHANGES:
                    return  # an open or a read: the copy's own read of the file was one
                for attr in ("src_path", "dest_path"):
                    p = getattr(event, attr, None)
                    target = _absolute(Path(os.fsdecode(p))) if p else None
                    if target is not None and target in saver._watched:
                        saver._enqueue(target, saver._watched[target])

        with self._lock:
            scheduled = any(p.parent == path.parent for p in self._watched)
            self._watched[path] = name
            if scheduled:
                return  # one watch per directory: its handler serves every file watched
            if self._observer is None:
                self._observer = Observer()
                self._observer.start()
            self._observer.schedule(Changed(), str(path.parent), recursive=False)

    def _enqueue(self, path: Path, name: str) -> None:
        """Queue a copy of `path` unless one is waiting already: a checkpoint write is many
        events, and each copy reads the file as it is when it runs."""
        with self._lock:
            if path in self._queued:
                return
            self._queued.add(path)
        self._queue.put((path, name))

    def _loop(self) -> None:
        while (item := self._queue.get()) is not None:
            with self._lock:
                self._queued.discard(item[0])  # a change from here on copies it again
            self._copy(*item)

    def _copy(self, src: Path, name: str) -> None:
        dst = self.files_dir / name
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            digest = atomic_copy(src, dst)
            shutil.copystat(src, dst, follow_symlinks=True)
        except OSError as e:
            self._warn(f"could not save {src}: {e.strerror or e}")
            return
        self._on_saved(name, digest)

    def close(self) -> None:
        """Copy the "end" and "live" files once more, then wait for every copy."""
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
        for path, name in self._at_end.items():
            if path.exists():
                self._enqueue(path, name)
        self._queue.put(None)
        self._thread.join()


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))


def _name_under_files(path: Path, base_path: str | None) -> str:
    """The file's path under files/: relative to base_path if given, else its name."""
    if base_path is not None:
        try:
            rel = path.relative_to(_absolute(Path(base_path)))
        except ValueError:
            raise UsageError(f"{path} is not under base_path {base_path!r}") from None
        return rel.as_posix()
    return path.name
