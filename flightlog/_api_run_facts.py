"""What wandb's public-API Run tells about a run besides its logged values, in wandb's
shapes: `history_keys`, `system_metrics`, `metadata`, and the names wandb scripts use for
fields flightlog keeps under others (`description`, `storage_id`, `sweep_name`, `save()`).

Each is computed from what the run's reader gives (`_key_counts`, `scan_history`,
`_recorded`), so a run read from a server (_api_remote.py, which gives those from the
server) answers the same as a local one. `history_keys` and `history_line_count` read a
local run's keys and kinds alone, never its values (store/history_keys.py).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flightlog.store.history_keys import KeyCounts, key_counts
from flightlog.store.liveness import RUNNING
from flightlog.store.reader import StoredRun
from flightlog.store.schema import BOOL, FLOAT, HIST, INT, LIST, MEDIA, NONE, STR

from ._api_edits import FIELDS
from ._errors import NotFoundError

if TYPE_CHECKING:
    from ._api_run import ApiRun

#: wandb's type names in `historyKeys.keys[k].typeCounts` per stored value kind (a media
#: value is named by its own `_type`: image-file, table-file...)
TYPE_NAMES = {
    FLOAT: "number", INT: "number", BOOL: "boolean", STR: "string", NONE: "nil",
    LIST: "list", HIST: "histogram",
}  # fmt: skip
#: the keys every history row has, counted once a row as wandb counts them
ROW_KEYS = ("_step", "_runtime", "_timestamp")


class ApiRunFacts:
    """The members of `ApiRun` listed in the module's docstring."""

    @property
    def history_keys(self: ApiRun) -> dict[str, Any]:
        """wandb's `historyKeys`: `{"lastStep": N, "keys": {key: {"typeCounts": [{"type":
        "number", "count": n}, ...]}}}`, from every logged value (-1 and no keys for a run
        that logged none)."""
        counted = self._key_counts()
        if counted.last_step < 0:
            return {"lastStep": -1, "keys": {}}
        named = Counter(counted.media)
        for (key, kind), n in counted.kinds.items():
            if kind != MEDIA:  # (counted by their own type)
                named[key, TYPE_NAMES.get(kind, "unknown")] += n
        rows = counted.rows
        keys: dict[str, dict[str, Any]] = {k: _counted("number", rows) for k in ROW_KEYS}
        for (key, kind), n in sorted(named.items()):
            keys.setdefault(key, {"typeCounts": []})["typeCounts"].append(
                {"type": kind, "count": n}
            )
        return {"lastStep": counted.last_step, "keys": keys}

    @property
    def history_line_count(self: ApiRun) -> int:
        """wandb's `historyLineCount`: how many history rows the run has (one a writer and
        step)."""
        return self._key_counts().rows

    def _key_counts(self: ApiRun) -> KeyCounts:
        """The history's values per key and kind, rows and last step, from the segments'
        keys and kinds (store/history_keys.py)."""
        return key_counts(self.paths.stream("history"))

    @property
    def system_metrics(self: ApiRun) -> dict[str, Any]:
        """The latest value of each system metric the run sampled (wandb's
        `Run.system_metrics`), by flightlog's names (`system/cpu`, `system/gpu.0.gpu`...);
        {} when it sampled none (`stats_interval=0`, or a run shorter than one interval)."""
        latest: dict[str, Any] = {}
        for row in self.scan_history(stream="system"):
            latest.update((k, v) for k, v in row.items() if not k.startswith("_"))
        return latest

    @property
    def metadata(self: ApiRun) -> dict[str, Any] | None:
        """What wandb keeps in wandb-metadata.json, from run.json (`Run.metadata`): os,
        python, host, username, program, args, executable, root (the working directory),
        startedAt (ISO 8601, UTC), git {remote, commit}, cpu_count, memory {total bytes},
        slurm {job_id, ...}. None for a run that recorded none of it (as wandb's, for a
        run without the file). git and the command (program, args, executable) only for
        the project's members on a server."""
        meta = self._recorded()
        if not any(k in meta for k in ("host", "os", "program", "python")):
            return None
        command = meta.get("command")
        command = command if isinstance(command, list) else []
        out: dict[str, Any] = {
            "os": meta.get("os"),
            "python": meta.get("python"),
            "host": meta.get("host"),
            "username": meta.get("user"),
            "root": meta.get("cwd"),
            "cpu_count": meta.get("cpu_count"),
            "startedAt": _iso(meta.get("started_at", meta.get("created_at"))),
        }
        if command:
            out.update(executable=command[0], program=meta.get("program"), args=command[2:])
        git = meta.get("git")
        if isinstance(git, dict):
            out["git"] = {k: git[k] for k in ("remote", "commit") if git.get(k)}
        if isinstance(gb := meta.get("memory_gb"), int | float):
            out["memory"] = {"total": int(gb * 2**30)}
        scheduler = meta.get("scheduler")
        slurm = {
            k.removeprefix("SLURM_").lower(): v
            for k, v in (scheduler.items() if isinstance(scheduler, dict) else ())
            if k.startswith("SLURM_")
        }
        if slurm:
            out["slurm"] = slurm
        return {k: v for k, v in out.items() if v is not None}

    def _recorded(self: ApiRun) -> dict[str, Any]:
        """run.json as this reader may see it (a server's: git and the command for
        members only)."""
        return self.meta

    @property
    def commit(self: ApiRun) -> str | None:
        """The git commit the run was logged at (wandb's `Run.commit`); None outside a git
        work tree (and, on a server, for anyone but the project's members)."""
        commit = self.git.get("commit")
        return None if commit is None else str(commit)

    @property
    def rawconfig(self: ApiRun) -> dict[str, Any]:
        """wandb's config with its internal keys: flightlog keeps none, so the config."""
        return dict(self.config)

    @property
    def sweep(self) -> None:
        """flightlog runs no sweeps: None, as wandb's for a run outside one."""
        return None

    sweep_name = sweep

    def wait_until_finished(self: ApiRun, poll: float = 5.0) -> None:
        """Return once the run no longer runs (wandb's asks every 5 s, as `poll`); its
        `state` (and summary) are then as it ended: finished, failed or crashed."""
        while self._state_now() == RUNNING:
            time.sleep(poll)

    def _present(self: ApiRun) -> None:
        """Raise NotFoundError if the run was deleted since this object was made: a missing
        directory would read as an empty run (no rows, a run.json of id and project)."""
        if not self.paths.dir.is_dir():
            raise NotFoundError(
                f"run {self.shown_path} was deleted from {self.paths.root} since it was read"
            )

    def load(self: ApiRun, force: bool = False) -> dict[str, Any]:
        """Read the run again (wandb's `Run.load()`): its run.json and its writers' states,
        so `state`, `summary`, `config`, `tags`... are as they are now; edits not stored by
        `update()` are dropped. Returns run.json's fields."""
        self._present()
        fresh = StoredRun.load_any(self.paths)
        self.meta, self.writers, self.problem = fresh.meta, fresh.writers, fresh.problem
        for held in (*FIELDS, "_tags", "_config", "_summary"):
            self.__dict__.pop(held, None)
        return dict(self.meta)

    def _state_now(self: ApiRun) -> str:
        """The run's state as its writers' files say now (they are read again)."""
        self.writers = StoredRun.load_any(self.paths).writers
        return self.state

    def __repr__(self: ApiRun) -> str:
        """wandb's `<Run entity/project/id (state)>`: a notebook showing `api.runs()` lists
        runs, not every field of each run.json."""
        return f"<Run {'/'.join(p for p in self.path if p)} ({self.state})>"

    @property
    def description(self: ApiRun) -> str | None:
        """wandb's older name for the run's notes."""
        notes = self.meta.get("notes")
        return None if notes is None else str(notes)

    @property
    def storage_id(self: ApiRun) -> str:
        """wandb's server-side id; a flightlog run has one id, `run.id`."""
        return str(self.id)

    def save(self: ApiRun) -> None:
        """wandb's other name for `update()`."""
        self.update()


def _counted(kind: str, n: int) -> dict[str, Any]:
    return {"typeCounts": [{"type": kind, "count": n}]}


def _iso(t: Any) -> str | None:
    """An epoch time as wandb writes startedAt ("2026-11-27T06:30:00.123456Z")."""
    if not isinstance(t, int | float) or isinstance(t, bool):
        return None
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
