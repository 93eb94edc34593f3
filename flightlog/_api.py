"""`flightlog.Api`: read runs back, in the shape of wandb's public API, from a local store
(or a team server: `Api(host=URL)`, _api_remote.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flightlog.store import RunPaths, iter_run_dirs
from flightlog.store.layout import ENTITY_MARK, find_run

from ._api_projects import Project, local_projects, one, remote_projects
from ._api_run import ApiRun
from ._api_runs import Runs
from ._errors import NotFoundError
from ._settings import resolve, root_of


class Api:
    """Runs of one store (default: FLIGHTLOG_DIR, else WANDB_DIR/flightlog, else ./flightlog),
    or of the team server at `host` (read with the key `flightlog login` stored for it, or
    `api_key`).

    wandb's arguments work as there: `overrides` ({"project": ..., "entity": ...,
    "base_url": ...}: the project `runs()` lists by default, the entity a project named
    alone is of, the server; also taken as the first argument, as wandb's `Api({...})`),
    `timeout` (seconds per request to a server), `api_key`."""

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
        self._entity: str | None = overrides.get("entity")
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
        lazy: bool = True,
        *,
        path: str | None = None,
        group: str | None = None,
        tags: tuple[str, ...] = (),
        state: str | None = None,
    ) -> Runs:
        """Runs of the store (of `project`, default the `overrides` one), oldest first (as
        wandb's default order, "+created_at"), found through the index: a list, with
        wandb's `histories()` (flightlog/_api_runs.py).

        `filters` is the `flightlog runs --where` language, e.g.
        "summary.val/loss < 0.3 and config.lr >= 1e-3", or wandb's MongoDB-style dict
        ({"config.lr": {"$gte": 1e-3}}); `order` a sort key ("-summary.acc", or wandb's
        "-summary_metrics.acc"). `project` (or wandb's keyword, `path`) may be wandb's
        "entity/project" path: that entity's runs, and the runs of no entity (logged
        without one: a wandb script names its user's entity). `per_page` and
        `include_sweeps` are accepted for wandb's scripts: the list comes whole, and
        flightlog runs no sweeps; `lazy` too (a run's config and summary come with it).
        """
        from ._wandb_filters import translate, wandb_order

        project = project or path or self._project
        if project and "/" not in project and self._entity:  # wandb: the default entity's
            project = f"{self._entity}/{project}"

        if self._remote is not None:
            from ._api_remote import remote_runs

            entity, _, name = (project or "").rstrip("/").rpartition("/")
            where = translate(filters) or None if isinstance(filters, dict) else filters
            query = {"group": group, "tags": tags, "state": state, "where": where}
            return remote_runs(
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
            return Runs()
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
        return Runs(
            ApiRun.load_any(RunPaths(Path(r["dir"])))
            for r in rows
            if entity is None or r["entity"] in (None, entity)
        )

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

    @property
    def default_entity(self) -> str | None:
        """wandb's: the entity `overrides` names, else on a server the key's user, else None
        (a local store's runs of no entity)."""
        if self._entity is not None or self._remote is None:
            return self._entity
        return self._remote.whoami()

    def projects(self, entity: str | None = None, per_page: int = 200) -> list[Project]:
        """The projects (of `entity`, if given): wandb's `Api.projects()`, each with `name`,
        `entity` ("" for runs of none) and `run_count`; `per_page` is accepted (the list
        comes whole)."""
        found = self._all_projects()
        return [p for p in found if entity is None or p.entity == entity]

    def project(self, name: str, entity: str | None = None) -> Project:
        """One project by name (of `entity`, or the only one that has it)."""
        where = self._remote.url if self._remote is not None else str(self.root)
        return one(self._all_projects(), name, entity, where)

    def _all_projects(self) -> list[Project]:
        if self._remote is not None:
            return remote_projects(self._remote)
        return local_projects(self.root)

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
