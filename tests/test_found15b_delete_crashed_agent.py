"""A crashed run (its process killed -9 while the store's sync agent shipped it) deleted
locally at once (`Api().run(p).delete()`: a crashed run may be deleted as it is). The agent
had the run queued for its next metadata sync (every META_EVERY, 10 s, while a writer
beats); when that comes, the run's directory is gone, and the agent ships it as it now
reads: sync/uploader.py load_local() of a missing directory is a run.json of its id and
project alone, with no writers, which the server stores over its copy - the name and config
are gone there, and the agent's log says "synced". The local deletion is the local store's
(README): the server's copy should stay as it was."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

import flightlog

from .conftest import reaped, spawn
from .servers import LiveServer, stop_store_agent, wait_until

pytestmark = pytest.mark.slow

#: signed in (the `key` fixture): init starts the store's agent, which ships it as it runs
RUN = """
import flightlog, time
run = flightlog.init(project="p", id="x", name="kept-name", config={"lr": 0.1},
                     settings={"heartbeat_interval": 0.2})
for i in range(40):
    run.log({"loss": 0.5})
    time.sleep(0.1)
print("now", flush=True)
time.sleep(600)
"""


def test_a_crashed_run_deleted_locally_keeps_its_servers_copy(
    server: LiveServer, key: str, store: Path
) -> None:
    shipped = server.root / "runs/@alice/p/x/run.json"
    try:
        with reaped(spawn(RUN)) as proc:
            assert proc.stdout is not None and proc.stdout.readline() == "now\n"
            wait_until(lambda: shipped.exists(), 60, "the run on the server")
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        flightlog.Api(store).run("p/x").delete()
        before = json.loads(shipped.read_text())
        end = time.monotonic() + 20  # the agent's next metadata sync of the run is due by 10 s
        while time.monotonic() < end and json.loads(shipped.read_text()) == before:
            time.sleep(0.2)
    finally:
        stop_store_agent(store)
    after = json.loads(shipped.read_text())
    said = (store / "sync-agent.log").read_text()
    assert (after.get("name"), after.get("config")) == ("kept-name", {"lr": 0.1}), said
