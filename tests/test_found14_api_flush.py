"""wandb notebooks call `api.flush()` before reading runs that changed since (wandb's Api
caches what it read); flightlog's Api had no `flush`, so such a notebook stopped with an
AttributeError. It reads the store afresh on every call: flush() is accepted, and a run
logged after the Api was made is listed. Found by the session-14 leftlib helper."""

from __future__ import annotations

import flightlog

from .conftest import settled


def _run() -> str:
    run = flightlog.init(project="p", reinit="create_new")
    run.log({"a": 1})
    run.finish()
    settled()
    return run.id


def test_flush_is_accepted_and_the_runs_are_read_afresh(api: flightlog.Api) -> None:
    first = _run()
    assert [r.id for r in api.runs("p")] == [first]
    second = _run()
    api.flush()
    assert [r.id for r in api.runs("p")] == [first, second]
