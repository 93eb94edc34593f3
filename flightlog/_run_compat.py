"""The members of wandb's `Run` that real scripts and framework integrations call, beyond
logging: each does the real thing offline, or a documented harmless equivalent that keeps
what it was given (never a silent no-op).

`Run` inherits these; they use only `Run`'s narrow interface (`_set_meta`, `_meta`, `save`,
`settings`, `log`).
"""

from __future__ import annotations

import os
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._run_artifacts import RunArtifacts
from ._run_finish import say
from ._values import normalize
from ._watch import Watch

if TYPE_CHECKING:
    from ._run import Run


class AlertLevel(StrEnum):
    """wandb's alert levels (`wandb.AlertLevel.WARN`); `alert()` takes these or the names."""

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


ALERT_LEVELS = tuple(level.value for level in AlertLevel)
#: directories log_code() never walks into (environments, caches)
SKIP_DIRS = frozenset({"__pycache__", "site-packages", "node_modules", "venv", "env"})


class RunCompat(RunArtifacts):
    """wandb `Run` members: identity URLs, alerts, watch, labels, pickling (and, from
    RunArtifacts, the artifact members)."""

    def _label(
        self: Run,
        code: str | None = None,
        repo: str | None = None,
        code_version: str | None = None,
        **kwargs: str,
    ) -> None:
        """Which integration drives the run (HF calls `_label(code="transformers_trainer")`):
        kept in run.json as `integration`."""
        label = {"code": code, "repo": repo, "code_version": code_version, **kwargs}
        self._set_meta("integration", {k: str(v) for k, v in label.items() if v})

    @property
    def resumed(self: Run) -> bool:
        """True when this process continued a stopped run (resume=...)."""
        return bool(self._meta.get("resumed"))

    @property
    def sweep_id(self: Run) -> None:
        """wandb's sweep of the run: None, as flightlog runs no sweep controller (scripts
        written for sweeps test it to tell a trial from a plain run)."""
        return None

    @property
    def url(self: Run) -> str | None:
        return self.get_url()

    def get_url(self: Run) -> str | None:
        """The run's address on the server's API when this run syncs to one and its entity is
        known (init(entity=...), or the user `flightlog login` stored), else its directory in
        the store (wandb returns None offline; a path is more useful and still a string).
        The training process asks the server nothing, so an entity it was not told stays
        unknown here."""
        if self.settings.mode == "online":
            from flightlog.sync.credentials import load

            creds = load(base_url=self.settings.base_url)
            entity = self.entity or creds.user
            if entity:
                base = creds.base_url.rstrip("/")
                return f"{base}/api/v1/runs/{entity}/{self.project}/{self.id}"
        return self.dir

    def get_project_url(self: Run) -> str | None:
        url = self.get_url()
        return url.rsplit("/", 1)[0] if url else None

    def alert(
        self: Run,
        title: str,
        text: str,
        level: str | None = None,
        wait_duration: float | None = None,
    ) -> None:
        """Keep an alert with the run (run.json `alerts`) and print it: there is no one to
        notify offline. `wait_duration` is accepted for compatibility."""
        lvl = str(getattr(level, "value", level) or "INFO").upper()
        if lvl not in ALERT_LEVELS:
            raise ValueError(f"alert level {level!r}: use one of {', '.join(ALERT_LEVELS)}")
        entry = {"title": str(title), "text": str(text), "level": lvl, "time": time.time()}
        self._append_meta("alerts", entry)
        say(f"alert [{lvl}] {title}: {text}", self.settings)

    def watch(
        self: Run,
        models: Any,
        criterion: Any = None,
        log: str | None = "gradients",
        log_freq: int = 1000,
        idx: int | None = None,
        log_graph: bool = False,
    ) -> None:
        """Histograms of the model's gradients and/or parameters every `log_freq` steps
        (see flightlog._watch). `criterion` and `log_graph` are accepted; no graph is drawn."""
        models = list(models) if isinstance(models, list | tuple) else [models]
        watches = self.__dict__.setdefault("_watches", [])
        for i, m in enumerate(models):
            prefix = f"graph_{i if idx is None else idx + i}/" if len(models) > 1 else ""
            watches.append(Watch(self, m, log, log_freq, prefix))

    def unwatch(self: Run, models: Any = None) -> None:
        """Remove the hooks `watch()` put on `models` (all watched models by default)."""
        chosen = (
            None if models is None else models if isinstance(models, list | tuple) else [models]
        )
        keep = []
        for w in self.__dict__.get("_watches", []):
            if chosen is None or any(w.model is m for m in chosen):
                w.remove()
            else:
                keep.append(w)
        self.__dict__["_watches"] = keep

    def mark_preempting(self: Run) -> None:
        """Record that the job is being preempted (run.json `preempting`): a crash that
        follows is then expected, and `resume="auto"` continues the run."""
        self._set_meta("preempting", time.time())
        self.save()

    def log_code(
        self: Run,
        root: str | os.PathLike[str] | None = ".",
        name: str | None = None,
        include_fn: Any = None,
        exclude_fn: Any = None,
    ) -> None:
        """Keep the source tree's `.py` files under `root` with the run (files/code/), or the
        running script alone when `root` is None."""
        if root is None:
            main = getattr(sys.modules.get("__main__"), "__file__", None)
            if main:
                self.save(main, base_path=str(Path(main).parent), policy="now")
            return
        base = Path(root).resolve()
        for p in _code_files(base, self._paths.root.resolve() if self._paths else None):
            if include_fn is not None and not _call(include_fn, str(p), str(base)):
                continue
            if exclude_fn is not None and _call(exclude_fn, str(p), str(base)):
                continue
            self.save(str(p), base_path=str(base), policy="now")

    def _import_row(self: Run, step: int, t: float, row: dict[str, Any]) -> None:
        """One history row of an imported run, with its original step and time
        (flightlog._wandb_import; steps must increase, as log() requires)."""
        writer = self._writer
        if writer is None:
            return
        clean, sig, sid = normalize(row, writer.signatures.ids)
        with self._lock:
            if step < self._step:
                return
            if sid is None:
                sid = writer.signatures.register(sig)
            writer.append(step, t, clean, sid)
            self._step, self._last_step, self._last_time = step + 1, step, t
            self._last.update(clean)

    def _import_samples(self: Run, samples: list[tuple[float, dict[str, Any]]]) -> int:
        """System-metric samples of an imported run into its system stream, with their
        original times (numbers only, under `system/`); returns how many were written."""
        if self._paths is None or not samples:
            return 0
        from flightlog.store.samples import SampleWriter

        writer = SampleWriter(
            self._paths.dir / "system", self._writer_id, self._writer_label, self._warn_once_cb
        )
        for t, row in samples:
            numbers = {
                f"system/{k}": float(v)
                for k, v in row.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            }
            if numbers:
                writer.write(t, numbers)
        writer.close()
        return writer.samples

    @property
    def _attach_id(self: Run) -> str:
        """What another process needs to log into this run (Lightning pickles it)."""
        root = self._paths.root if self._paths is not None else Path(".")
        return f"{root.resolve()}|{self.project}|{self.id}"

    def __reduce__(self: Run) -> tuple[Any, tuple[str]]:
        """A pickled run unpickles as this run, joined in mode="shared" (spawn workers)."""
        from ._wandb_api import _attach

        return _attach, (self._attach_id,)


def _call(fn: Any, path: str, root: str) -> bool:
    try:
        return bool(fn(path, root))
    except TypeError:
        return bool(fn(path))


def _code_files(base: Path, store: Path | None) -> list[Path]:
    """The `.py` files under `base`, sorted, without walking into environments, caches, dot
    directories or the store itself: the default store (./flightlog) sits in the code's
    directory, and walking it copied every earlier run's code into each new run."""
    found = []
    for top, dirs, files in os.walk(base):
        dirs[:] = [
            d
            for d in dirs
            if not d.startswith(".") and d not in SKIP_DIRS and Path(top, d).resolve() != store
        ]
        found += [Path(top, f) for f in files if f.endswith(".py")]
    return sorted(found)
