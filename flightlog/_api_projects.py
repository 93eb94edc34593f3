"""`Api.projects()` and `Api.project()`: the projects of a store or of a server, as wandb's
public-API `Project`s (`name`, `entity`, `path`), so a script that walks every project's
runs (`for p in api.projects(): api.runs(f"{p.entity}/{p.name}")`) reads a flightlog store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import NotFoundError


@dataclass(frozen=True)
class Project:
    """A project: its runs are `api.runs(f"{entity}/{name}")` ("" for the entity of runs
    logged without one: `api.runs(name)` lists them)."""

    name: str
    entity: str
    #: how many runs it holds (that the reader may see, on a server)
    run_count: int

    @property
    def path(self) -> list[str]:
        return [self.entity, self.name]


def local_projects(root: Path) -> list[Project]:
    """The store's projects, by entity then name, from its index."""
    if not (root / "runs").is_dir():
        return []
    from flightlog.store.index import Index

    # a listing's index: counting runs describes none (a cold index of killed runs would
    # read each one's rows after its last heartbeat, store/summary_tail.py)
    with Index(root, lazy=True) as idx:
        rows = idx.con.execute(
            "SELECT coalesce(entity, ''), project, count(*) FROM runs GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    return [Project(str(p), str(e), int(n)) for e, p, n in rows]


def remote_projects(reader: Any) -> list[Project]:
    """The projects a server lets this key read."""
    return [
        Project(str(p["project"]), str(p["entity"]), int(p.get("runs") or 0))
        for p in reader.projects()
    ]


def one(projects: list[Project], name: str, entity: str | None, where: str) -> Project:
    """The project `name` (of `entity`, if given), or NotFoundError naming the choices."""
    found = [p for p in projects if p.name == name and entity in (None, p.entity)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFoundError(f"no project {name!r} in {where}: api.projects() lists them")
    entities = ", ".join(p.entity or "(none)" for p in found)
    raise NotFoundError(f"project {name!r} is in several entities ({entities}): name one")
