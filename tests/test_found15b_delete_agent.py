"""A run deleted from a local store (`Api().run(p).delete()`) while the store's sync agent
(`flightlog sync --watch`) watches it, after it was synced. The deletion is the local
store's (README: through `Api(host=)` the server deletes its copy, and the local store keeps
its own; this way round the server keeps its own): the agent has nothing of it to ship.
What it must not do is ship the files' absence - a run of no name, config or writers over
the server's copy - or retry a run that is gone for as long as it runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import flightlog

from .conftest import python_script
from .servers import LiveServer, stop_store_agent, wait_for_store_agent, wait_until

pytestmark = pytest.mark.slow

RUN = """
import flightlog
run = flightlog.init(project="p", id="x", name="kept-name", config={"lr": 0.1})
run.log({"loss": 0.5})
run.finish()
"""


def test_a_run_deleted_locally_while_the_agent_watches(
    server: LiveServer, key: str, store: Path
) -> None:
    done = python_script(RUN)  # signed in: it starts the store's agent, which watches on
    assert done.returncode == 0, done.stderr
    try:
        wait_for_store_agent(store)
        shipped = server.root / "runs/@alice/p/x/run.json"
        wait_until(lambda: (store / "runs/p/x/sync.json").exists(), 60, "the run synced")
        before = json.loads(shipped.read_text())
        flightlog.Api(store).run("p/x").delete()
        time.sleep(8)  # the agent's events for the rename, and a retry or two
    finally:
        stop_store_agent(store)
    said = (store / "sync-agent.log").read_text()
    after = json.loads(shipped.read_text())
    assert (after.get("name"), after.get("config")) == (before["name"], before["config"]), said
    assert not [s for s in said.splitlines() if "retrying" in s or ".deleting" in s], said
