"""`run.delete()` through `Api(host=)`: the server's DELETE route (sync/run_delete_routes.py)
on a real server, with its permission checks and validation: a member deletes a run that
no process writes any more, and it leaves the server's listings at once; a reader, an
outsider, a live run, a bad name and a missing key are refused, and nothing goes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

import flightlog
from flightlog._errors import (
    NotFoundError,
    PermissionDeniedError,
    ServerRejectedError,
)

from .conftest import cli, python_script
from .servers import LiveServer

pytestmark = pytest.mark.slow

RUNS = """
import flightlog
for run_id in ("r1", "r2"):
    run = flightlog.init(project="p", entity="alice", id=run_id, mode="offline", reinit=True)
    run.log({"loss": 0.5})
    run.finish()
"""


def _synced() -> None:
    done = python_script(RUNS)
    assert done.returncode == 0, done.stderr
    synced = cli("sync", "--all")
    assert synced.returncode == 0, synced.stdout + synced.stderr


def test_a_member_deletes_a_run_and_it_leaves_the_listings_at_once(
    server: LiveServer, key: str
) -> None:
    _synced()
    api = flightlog.Api(host=server.url)
    assert sorted(r.id for r in api.runs("alice/p")) == ["r1", "r2"]  # (the index built)
    run = api.run("alice/p/r1")
    run.delete()
    assert [r.id for r in api.runs("alice/p")] == ["r2"]
    listed = cli("runs", "--host", server.url, "--json")
    assert [r["id"] for r in json.loads(listed.stdout)] == ["r2"], listed.stderr
    assert not (server.root / "runs/@alice/p/r1").exists()
    assert api.run("alice/p/r2").history(pandas=False).column("loss").to_pylist() == [0.5]
    with pytest.raises(NotFoundError):
        api.run("alice/p/r1")
    with pytest.raises(NotFoundError):
        run.delete()  # again
    # the local copies stay: the server's deletion is the server's
    assert sorted(r.id for r in flightlog.Api().runs()) == ["r1", "r2"]


def test_a_reader_of_an_open_project_may_not_delete_its_runs(server: LiveServer, key: str) -> None:
    _synced()
    server.accounts.set_visibility("alice", "p", "open")
    bob = server.user("bob")
    run = flightlog.Api(host=server.url, api_key=bob).run("alice/p/r1")
    with pytest.raises(PermissionDeniedError, match="alice/p"):
        run.delete()
    assert (server.root / "runs/@alice/p/r1/run.json").exists()


def test_an_outsider_of_a_private_project_may_not_delete_its_runs(
    server: LiveServer, key: str
) -> None:
    _synced()
    bob = server.user("bob")
    r = httpx.delete(
        f"{server.url}/api/v1/runs/alice/p/r1",
        headers={"Authorization": f"Bearer {bob}"},
        timeout=30,
    )
    assert r.status_code == 403, r.text
    assert (server.root / "runs/@alice/p/r1/run.json").exists()


def test_a_run_whose_writer_still_beats_is_refused(
    server: LiveServer, key: str, tmp_path: Path
) -> None:
    """A run syncing from another machine while it trains: its writer's heartbeat is
    recent, so the server takes it for running."""
    writer = {
        "writer": "w1", "host": "gpu-node-7", "pid": 4242, "generation": 0,
        "state": "running", "heartbeat_at": time.time(), "started_at": time.time(),
    }  # fmt: skip
    with server.client(key) as c:
        c.put_run("alice", "p", "live", {"id": "live", "project": "p", "entity": "alice"}, [writer])
    run = flightlog.Api(host=server.url).run("alice/p/live")
    with pytest.raises(ServerRejectedError, match="still running") as refused:
        run.delete()
    assert "409" in str(refused.value) and "pid 4242 on gpu-node-7" in str(refused.value)
    assert (server.root / "runs/@alice/p/live/run.json").exists()


def test_bad_names_a_missing_run_and_no_key_are_refused(server: LiveServer, key: str) -> None:
    _synced()
    auth = {"Authorization": f"Bearer {key}"}
    for path, status in (
        ("alice/p/r..1", 400),  # not a run id
        ("alice/p/nope", 404),
        ("nobody/p/r1", 404),  # no such entity
    ):
        r = httpx.delete(f"{server.url}/api/v1/runs/{path}", headers=auth, timeout=30)
        assert r.status_code == status, (path, r.text)
    r = httpx.delete(f"{server.url}/api/v1/runs/alice/p/r1", timeout=30)
    assert r.status_code == 401, r.text
    assert (server.root / "runs/@alice/p/r1/run.json").exists()
