"""wandb's public-API `Run.path` is a list, [entity, project, run_id], and report scripts
write `api.run("/".join(run.path))` or `entity, project, run_id = run.path`. flightlog's
Api run gives "project/id", a string: "/".join of it is its letters joined by "/", which
names no run. Found by the session-14 leftlib helper, following README's Api section as a
wandb user."""

from __future__ import annotations

import flightlog

from .conftest import settled


def test_the_api_runs_path_joins_back_to_the_run(api: flightlog.Api) -> None:
    run = flightlog.init(project="p", entity="team")
    run.log({"a": 1})
    run.finish()
    settled()
    found = api.run(f"team/p/{run.id}")
    assert api.run("/".join(found.path)).id == run.id
    assert list(found.path) == ["team", "p", run.id]
