"""`Api().runs("alice/p")` listed every entity's runs of project p: the entity was dropped
("a local store has no entities"), but runs of entities are stored under runs/@ENTITY/ and
a server root, which local tools open, holds every user's. A run of no entity (logged
offline, without `entity=`) is still listed under any entity: wandb scripts name their own.
Found by the session-14 leftlib helper, following README's Api section."""

from __future__ import annotations

import flightlog

from .conftest import settled


def _run(entity: str | None) -> str:
    run = flightlog.init(project="p", entity=entity, reinit="create_new")
    run.log({"a": 1})
    run.finish()
    return run.id


def test_runs_of_an_entitys_project_are_that_entitys(api: flightlog.Api) -> None:
    alice, bob, nobody = _run("alice"), _run("bob"), _run(None)
    settled()
    assert sorted(r.id for r in api.runs("alice/p")) == sorted([alice, nobody])
    assert sorted(r.id for r in api.runs(path="@bob/p")) == sorted([bob, nobody])
    assert sorted(r.id for r in api.runs("p")) == sorted([alice, bob, nobody])
