"""What a run says about itself: its summary and its run.json.

The summary is computed when read (`_summary_dict`: the last value or the defined aggregate
of each key, then what the script set); run.json changes are collected as a patch
(`_meta_if_dirty`) that the writer thread merges into the file, because other processes of a
shared run change it too. `save()` lives here because, without arguments, it persists that
patch now. `Run` inherits these; `flightlog._summary.Summary` and the run's `Config` (through
`_config_changed`) call them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from flightlog.store.runmeta import MetaPatch

from ._files import FileSaver
from ._summary import MISSING
from ._values import flat

if TYPE_CHECKING:
    from ._run import Run


class RunMeta:
    """The summary and run.json members of `Run` (see the module's docstring)."""

    def _summary_dict(self: Run) -> dict[str, Any]:
        with self._lock:  # log() waits on it: a 10,000-key run's copy is C, its loop rules
            out = {**self._stored, **self._last} if self._stored else dict(self._last)
            for k in list(out) if self._aggs.defs else ():
                rule = self._aggs.rule(k)
                if rule == "last":
                    continue
                v = MISSING if rule == "none" else self._aggs.value(k, rule)
                if v is MISSING:
                    del out[k]
                else:
                    out[k] = v
            if self._last_time is not None:
                out["_step"] = self._last_step
                out["_timestamp"] = self._last_time
                out["_runtime"] = self._last_time - self.start_time
            out.update(self._overrides)
            return out

    def _summary_carried(self: Run, summary: dict[str, Any]) -> list[str]:
        """The keys of `summary` this process carried from the earlier job's (a resume's
        `_stored`) and has neither logged nor set since: in a requeued shared job another
        rank may log them, and its value, not this stale one, is the run's
        (store/summary_merge.py). Under the run's lock (the writer state's)."""
        if not self._stored:
            return []
        return sorted(
            k
            for k in self._stored
            if k in summary and k not in self._last and k not in self._overrides
        )

    def _changed_after_finish(self: Run, what: str) -> None:
        """A summary or config change after finish() is not stored (the writer is closed):
        said once, at the user's line, as log() after finish is, never raised."""
        if self._finished and self._writer is not None and not self.terminated:
            self._warn_once(
                f"{what} after finish",
                f"run {self.id} is finished; this {what} change is not stored: make it "
                "before run.finish()",
                depth=2,
            )

    def _set_summary(self: Run, data: dict[str, Any]) -> None:
        clean = flat(data)
        self._changed_after_finish("summary")
        with self._lock:
            self._overrides.update(clean)

    def _del_summary(self: Run, key: str) -> None:
        with self._lock:
            found = self._overrides.pop(key, None) is not None
            found = self._last.pop(key, None) is not None or found
            found = self._stored.pop(key, None) is not None or found
        if not found:
            raise KeyError(key)

    def _set_meta(self: Run, key: str, value: Any) -> None:
        with self._lock:
            self._meta[key] = value
            self._meta_changed.add(key)
            self._meta_dirty = True

    def _append_meta(self: Run, key: str, entry: Any) -> None:
        """Add `entry` to run.json's list `key` (artifacts, alerts): merged into the file's
        list, never written over it, as the run's other processes append to it too."""
        with self._lock:
            self._meta[key] = [*(self._meta.get(key) or []), entry]
            self._appended.setdefault(key, []).append(entry)
            self._meta_dirty = True

    def _join_changes(self: Run, stored: dict[str, Any]) -> None:
        """Joining or resuming a stored run: what init() changed in it is this process's
        change to merge into run.json (other processes may be writing it too)."""
        with self._lock:
            self._meta_changed.update(
                k for k, v in self._meta.items() if stored.get(k) != v and k != "tags"
            )
            had = stored.get("tags") or []
            if added := [t for t in self._meta.get("tags") or () if t not in had]:
                self._appended["tags"] = added
            self._config_written = dict(stored.get("config") or {})
            self._meta_dirty = True

    def _config_changed(self: Run) -> None:
        self._changed_after_finish("config")
        self._set_meta("config", self.config.as_dict())

    def _meta_if_dirty(self: Run) -> MetaPatch | None:
        """What this process changed in run.json since it last wrote it (the writer thread
        merges it into the file: other processes of a shared run change it too)."""
        with self._lock:
            if not self._meta_dirty:
                return None
            self._meta_dirty = False
            fields = {k: self._meta[k] for k in self._meta_changed if k != "config"}
            self._meta_changed.clear()
            appended, self._appended = self._appended, {}
            config, base = self.config.as_dict(), self._config_written
            self._config_written = dict(config)
            return MetaPatch(
                fields,
                {k: v for k, v in config.items() if k not in base or base[k] != v},
                set(base) - set(config),
                appended=appended,
                fallback=dict(self._meta),
            )

    def save(
        self: Run, glob_str: str | None = None, base_path: str | None = None, policy: str = "live"
    ) -> list[str]:
        """Without arguments, persist the run's metadata now (after `run.name = ...`).

        With a glob, keep copies of the matching files with the run (see flightlog._files):
        policy "now", "end" (at finish) or "live" (now and whenever they change)."""
        if glob_str is not None:
            if self._paths is None:
                return []  # a disabled run keeps nothing
            if self._saver is None:
                self._saver = FileSaver(self._paths.files, self._file_saved, self._warn_once_cb)
            return self._saver.save(str(glob_str), base_path, policy)
        if self._writer is not None and os.getpid() == self._pid:
            with self._lock:
                self._meta_dirty = True
            self._writer.flush()
        return []

    def _file_saved(self: Run, name: str, sha256: str) -> None:
        with self._lock:
            saved = dict(self._meta.get("saved_files") or {})
            saved[name] = sha256
            self._set_meta("saved_files", saved)
