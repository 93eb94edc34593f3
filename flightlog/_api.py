"""`flightlog.Api`: read runs back, in the shape of wandb's public API, from a local store
(or a team server: `Api(host=URL)`, _api_remote.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flightlog.store import RunPaths, iter_run_dirs
from flightlog.store.layout import ENTITY_MARK, find_run

from ._api_run import ApiRun
from ._errors import NotFoundError
from ._settings import resolve, root_of


class Api:
    """Runs of one store (default: FLIGHTLOG_DIR, else WANDB_DIR/flightlog, else ./flightlog),
    or of the team server at `host` (read with the key `flightlog login` stored for it, or
    `api_key`).

    wandb's arguments work as there: `overrides` ({"project": ..., "base_url": ...}: the
    project `runs()` lists by default, the server; also taken as the first argument, as
    wandb's `Api({...})`), `timeout` (seconds per request to a server), `api_key`."""

    def __init__(
        self,
        dir: str | os.PathLike[str] | Mapping[str, Any] | None = None,
        *,
        host: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        api_key: str | None = None,
    ) -> None:
        if isinstance(dir, Mapping):  # wandb.Api({"entity": ..., "project": ...})
            dir, overrides = None, {**dir, **(overrides or {})}
        overrides = overrides or {}
        host = host or overrides.get("base_url")
        self._project: str | None = overrides.get("project")
        self.root = Path(dir) if dir is not None else root_of(resolve({}, None))
        self._remote = None
        if host is not None:
            from flightlog.sync.remote import RemoteReader

            environ = {**os.environ, "FLIGHTLOG_API_KEY": api_key} if api_key else None
            self._remote = RemoteReader(
                host, retries=2, timeout=10.0 if timeout is None else timeout, environ=environ
            )

    def runs(
        self,
        project: str | None = None,
        filters: str | dict[str, Any] | None = None,
        order: str | None = None,
        per_page: int | None = None,
        include_sweeps: bool = True,
        *,
        path: str | None = None,
        group: str | None = None,
        tags: tuple[str, ...] = (),
        state: str | None = None,
    ) -> list[ApiRun]:
        """Runs of the store (of `project`, default the `overrides` one), oldest first,
        found through the index.

        `filters` is the `flightlog runs --where` language, e.g.
        "summary.val/loss < 0.3 and config.lr >= 1e-3", or wandb's MongoDB-style dict
        ({"config.lr": {"$gte": 1e-3}}); `order` a sort key ("-summary.acc", or wandb's
        "-summary_metrics.acc"). `project` (or wandb's keyword, `path`) may be wandb's
        "entity/project" path: that entity's runs, and the runs of no entity (logged
        without one: a wandb script names its user's entity). `per_page` and
        `include_sweeps` are accepted for wandb's scripts: the list comes whole, and
        flightlog runs no sweeps.
        """
        from ._wandb_filters import translate, wandb_order

        project = project or path or self._project

        if self._remote is not None:
            from ._api_remote import remote_runs

            entity, _, name = (project or "").rstrip("/").rpartition("/")
            where = translate(filters) or None if isinstance(filters, dict) else filters
            query = {"group": group, "tags": tags, "state": state, "where": where}
            return remote_runs(  # type: ignore[return-value]
                self._remote,
                project=name or None,
                entity=entity or None,
                sort=wandb_order(order),
                **query,
            )
        entity = None
        if project is not None and "/" in project:
            entity, _, project = project.rstrip("/").rpartition("/")
            entity = entity.removeprefix(ENTITY_MARK) or None
        if isinstance(filters, dict):
            filters = translate(filters) or None
        order = wandb_order(order)
        if not (self.root / "runs").is_dir():
            return []
        from flightlog.store.catalog import select_runs
        from flightlog.store.index import Index

        # a listing's index: runs described only as far as the query reads them (each run
        # returned reads its own files; a killed run's history is decoded once, by a reader
        # of its summary, not for its steps and values: store/summary_tail.py)
        with Index(self.root, lazy=True) as idx:
            rows = select_runs(
                idx,
                project=project,
                group=group,
                tags=tags,
                state=state,
                where=filters,
                sort=order,
                describe=False,
            )
        # an entity's runs, and the runs of none (wandb scripts name their own entity); a
        # run whose run.json is unreadable is listed too (its `problem` says why)
        return [
            ApiRun.load_any(RunPaths(Path(r["dir"])))
            for r in rows
            if entity is None or r["entity"] in (None, entity)
        ]

    def run(self, path: str | list[str]) -> ApiRun:
        """A run by "project/run_id", "entity/project/run_id", a bare run id, or another
        Api run's `path` list."""
        if isinstance(path, (list, tuple)):
            path = "/".join(path)
        if self._remote is not None:
            from ._api_remote import remote_run

            return remote_run(self._remote, path)
        parts = [p for p in str(path).split("/") if p]
        if len(parts) >= 2:
            project, run_id = parts[-2], parts[-1]
            entity = parts[0].removeprefix(ENTITY_MARK) if len(parts) == 3 else None
            paths = find_run(self.root, project, run_id, entity)
            if not paths.meta.exists():
                raise NotFoundError(f"no run {run_id!r} in project {project!r} of {self.root}")
            return ApiRun.load_any(paths)  # an unreadable run.json: `problem` says why
        if len(parts) != 1:
            raise NotFoundError(f"{path!r} is not a run path: use 'project/run_id'")
        matches = [p for p in iter_run_dirs(self.root) if p.dir.name == parts[0]]
        if not matches:
            raise NotFoundError(f"no run with id {parts[0]!r} in {self.root}")
        if len(matches) > 1:
            names = ", ".join(f"{p.dir.parent.name}/{p.dir.name}" for p in matches)
            raise NotFoundError(f"run id {parts[0]!r} is ambiguous: {names}")
        return ApiRun.load_any(matches[0])

    def flush(self) -> None:
        """wandb's `Api.flush()` clears the cache of what it read; this Api keeps none (each
        call reads the store or the server afresh), so notebooks that call it just go on."""

    def artifact(self, name: str, type: str | None = None) -> Any:
        """A logged artifact version, `[entity/][project/]name[:alias|vN]` (wandb's
        `Api().artifact`); its files come out with `.download()`."""
        from .artifacts import Artifact
        from .artifacts.names import parse_ref
        from .artifacts.registry import Registry

        ref = parse_ref(name)
        registry = Registry(self.root)
        version = registry.resolve(registry.project_of(ref.name, ref.project), ref.name, ref.alias)
        return Artifact._from_version(registry, version)._expect_type(type)
