"""A run deleted on the server (`api.run(...).delete()`), then synced again.

Grown here since (resumed) or edited (tags): the sync mark still lists the segments the
server held, yet the server's answer - the segments it has now - decides what is sent
(sync/uploader.py `sync_run`), so the whole run goes again: guards (they pass on 3c15332 as
here; a partial re-sync was reported, and does not happen). Unchanged here: the sync finds
it gone from the server's listing (`forget_lost`) and sends it whole, and says so - as
"a server restored from a backup?", wrong after a delete and no word of how to keep the run
deleted: now "deleted there, or the server restored from a backup ... to keep a run
deleted there, delete it here too"."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog

from .conftest import cli, python_script
from .servers import LiveServer

pytestmark = pytest.mark.slow

LOG = """
import os
import flightlog
first = int(os.environ["FIRST"])
run = flightlog.init(project="p", entity="alice", id="r1", mode="offline", resume="allow")
if first == 0:
    with open("notes.txt", "w") as f:
        f.write("kept")
    run.save("notes.txt", policy="now")
for step in range(first, first + 3):
    run.log({"loss": float(step)}, step=step)
run.finish()
"""


def test_a_run_deleted_on_the_server_is_sent_whole_when_synced_again(
    server: LiveServer, key: str
) -> None:
    api = flightlog.Api(host=server.url)
    for first in (0, 3):  # then resumed: new segments, and old ones the server lost
        logged = python_script(LOG, env={"FIRST": str(first)})
        assert logged.returncode == 0, logged.stderr
        synced = cli("sync", "--all")
        assert synced.returncode == 0, synced.stdout + synced.stderr
        if first == 0:
            api.run("alice/p/r1").delete()
    run = api.run("alice/p/r1")
    assert run.history(pandas=False).column("_step").to_pylist() == [0, 1, 2, 3, 4, 5]
    assert run.history_line_count == 6
    assert "notes.txt" in [f.name for f in run.files()]
    # deleted there again, unchanged here: sent whole again, and the sync says why and how to
    # keep it deleted (it said "a server restored from a backup?")
    run.delete()
    synced = cli("sync", "--all")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "deleted there" in synced.stderr and "delete it here too" in synced.stderr
    run = api.run("alice/p/r1")
    assert run.history(pandas=False).column("_step").to_pylist() == [0, 1, 2, 3, 4, 5]


def test_a_run_deleted_on_the_server_then_edited_here_is_sent_whole(
    server: LiveServer, key: str, store: Path
) -> None:
    """Only its metadata changed here (tags), no file: the sync still sends its files' list."""
    logged = python_script(LOG, env={"FIRST": "0"})
    assert logged.returncode == 0, logged.stderr
    remote = flightlog.Api(host=server.url)
    for edit in (False, True):
        if edit:
            remote.run("alice/p/r1").delete()
            here = flightlog.Api(store).run("alice/p/r1")
            here.tags = ["kept"]
            here.update()
        synced = cli("sync", "--all")
        assert synced.returncode == 0, synced.stdout + synced.stderr
    run = remote.run("alice/p/r1")
    assert run.tags == ["kept"]
    assert run.history(pandas=False).column("_step").to_pylist() == [0, 1, 2]
    assert "notes.txt" in [f.name for f in run.files()]
