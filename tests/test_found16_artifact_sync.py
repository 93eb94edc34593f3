"""Artifact versions on their way to a server (session 16's fault hunt): every version a run's
log_artifact() returned reaches the server once, with its content."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import Request

import flightlog
from flightlog.artifacts.registry import Registry
from flightlog.sync import blob_routes
from flightlog.sync.accounts import Accounts
from flightlog.sync.server import create_app

from .conftest import python_script, settled
from .scale_cluster import Replica
from .scale_services import pg_url, postgres  # noqa: F401 - the catalog_server's PostgreSQL
from .servers import LiveServer, app_in_thread
from .test_blob_sync import _sync as synced

pytestmark = pytest.mark.slow


def _sync(srv: LiveServer, key: str, run_dir: str, running: bool = False) -> None:
    """`flightlog sync` of one run (`running`: the agent's pass over a run still logging)."""
    done = synced(srv, key, run_dir)
    assert done.complete or (running and done.pending == ["still running"]), done


def test_two_artifact_names_holding_the_same_files_both_reach_the_server(
    server: LiveServer, tmp_path: Path
) -> None:
    """A checkpoint logged under a second name (a `best` model copied from the last epoch's,
    `log_model` of the same file under each run's default name): both versions are on the
    server after `sync`, not only the first one pushed."""
    key = server.user("alice")
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"weights of epoch 3")
    run = flightlog.init(project="p", entity="alice")
    first = flightlog.Artifact("last-model", "model")
    first.add_file(ckpt)
    run.log_artifact(first)
    second = flightlog.Artifact("best-model", "model")
    second.add_file(ckpt)
    run.log_artifact(second)
    run.finish()
    _sync(server, key, run.dir)
    with LiveServer.client(server, key) as c:
        for name in ("last-model", "best-model"):
            r = c._http.get(f"/artifacts/alice/p/{name}/latest")
            assert r.status_code == 200, (name, r.status_code, r.text)
            entry = r.json()["manifest"]["entries"]["model.ckpt"]
            assert c._http.get(f"/blobs/alice/p/{entry['sha256']}").content == ckpt.read_bytes()


def test_a_mark_from_before_names_were_kept_pushes_no_version_again(
    server: LiveServer, tmp_path: Path
) -> None:
    """A sync mark written by the previous flightlog lists bare digests: the versions it
    pushed are not pushed again when the run next syncs (a push moves the server's
    `latest` back to that version)."""
    key = server.user("alice")
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"epoch 1")
    old = flightlog.init(project="p", entity="alice")
    old.log_artifact(ckpt, name="net", type="model")
    old.log_artifact(ckpt, name="copy", type="model")
    old.finish()
    _sync(server, key, old.dir)
    mark_path = Path(old.dir) / "sync.json"
    mark = json.loads(mark_path.read_text())
    net = Registry(old._paths.root).resolve("p", "net", "latest")
    mark["blobs"]["artifacts"] = [net.digest]  # as the previous flightlog wrote it
    mark_path.write_text(json.dumps(mark))
    ckpt.write_bytes(b"epoch 2")
    newer = flightlog.init(project="p", entity="alice", reinit="create_new")
    newer.log_artifact(ckpt, name="net", type="model")
    newer.finish()
    _sync(server, key, newer.dir)
    (Path(old.dir) / "files" / "notes.txt").write_text("changed since")  # a reason to sync
    _sync(server, key, old.dir)
    with LiveServer.client(server, key) as c:
        assert c._http.get("/artifacts/alice/p/net/latest").json()["version"] == 1


KILLED_AFTER_LOG_ARTIFACT = """
import os, signal
import flightlog
open("m.ckpt", "wb").write(b"weights")
run = flightlog.init(project="p", entity="alice", id="killed", settings={"heartbeat_interval": 30})
run.log({"loss": 1.0})
art = run.log_artifact("m.ckpt", name="net", type="model")
assert art.version == "v0"
os.kill(os.getpid(), signal.SIGKILL)  # right after log_artifact() returned
"""


def test_an_artifact_whose_log_artifact_returned_survives_a_kill_9_and_syncs(
    server: LiveServer, tmp_path: Path, api: flightlog.Api
) -> None:
    """kill -9 right after `log_artifact()` returned: the run lists the version it logged
    (`logged_artifacts()`), and `sync` pushes it to the server."""
    key = server.user("alice")
    res = python_script(KILLED_AFTER_LOG_ARTIFACT, cwd=tmp_path)
    assert res.returncode == -9, res.stderr
    logged = api.run("alice/p/killed").logged_artifacts()
    assert [(a.name, a.version) for a in logged] == [("net", "v0")]
    (run_json,) = (tmp_path / "store").rglob("killed/run.json")
    _sync(server, key, str(run_json.parent))
    with LiveServer.client(server, key) as c:
        assert c._http.get("/artifacts/alice/p/net/latest").status_code == 200


def _best_aliased_after_sync(srv: LiveServer, key: str, tmp_path: Path) -> Path:
    """Two epochs, each synced by the agent, then the first epoch's checkpoint logged again
    as `best` (the same content: the same version, wandb's way to alias it), then `sync`;
    the run's directory."""
    ckpt = tmp_path / "model.ckpt"
    run = flightlog.init(project="p", entity="alice")
    for epoch in range(2):
        ckpt.write_bytes(f"epoch {epoch}".encode())
        art = flightlog.Artifact("net", "model")
        art.add_file(ckpt)
        run.log_artifact(art)
        settled()
        _sync(srv, key, run.dir, running=True)  # the agent, between two epochs
    ckpt.write_bytes(b"epoch 0")
    best = flightlog.Artifact("net", "model")
    best.add_file(ckpt)
    assert run.log_artifact(best, aliases=["best"]).version == "v0"
    run.finish()
    _sync(srv, key, run.dir)
    return Path(run.dir)


def _best_and_latest(srv: LiveServer, key: str) -> tuple[int | None, int]:
    """The server's version numbers of `net:best` (None: no such alias) and `net:latest`."""
    with LiveServer.client(srv, key) as c:
        best = c._http.get("/artifacts/alice/p/net/best")
        latest = c._http.get("/artifacts/alice/p/net/latest").json()["version"]
    assert best.status_code in (200, 404), best.text
    return (best.json()["version"] if best.status_code == 200 else None), latest


def test_an_alias_given_after_the_version_was_synced_reaches_the_server(
    server: LiveServer, tmp_path: Path
) -> None:
    """The best checkpoint is logged again with the alias `best` once training knows it,
    after the agent synced that version: the server's `best` must name it too, and `latest`
    stay on the newest."""
    key = server.user("alice")
    _best_aliased_after_sync(server, key, tmp_path)
    assert _best_and_latest(server, key) == (0, 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """A server keeping artifact versions in its database, as replicas do
    (sync/db/artifact_table.py): SQLite in its root, or a real PostgreSQL
    (tests/scale_services.py); the blobs in a bucket that is a local directory."""
    bucket, root = tmp_path / "bucket", tmp_path / "catalog-server"
    bucket.mkdir()
    if request.param == "sqlite":
        srv = LiveServer(root, flags=("--store", str(bucket)))
    else:
        url = request.getfixturevalue("pg_url")
        srv = Replica(root, Accounts(root, url), url, str(bucket))
    srv.start()
    yield srv
    srv.stop()


def test_a_later_alias_reaches_a_server_keeping_versions_in_its_database(
    catalog_server: LiveServer, tmp_path: Path
) -> None:
    key = catalog_server.user("alice")
    _best_aliased_after_sync(catalog_server, key, tmp_path)
    assert _best_and_latest(catalog_server, key) == (0, 1)


def test_an_older_server_without_the_alias_route_keeps_its_latest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server from before the alias route (a real app, that route left out): the sync
    completes, the server's `latest` stays on the newest version (a re-push would have
    moved it back), and the alias stays unsent in the mark, for a later sync."""
    root = tmp_path / "old-server"
    accounts = Accounts(root)
    accounts.add_user("alice")
    key = accounts.create_key("alice")
    newer = blob_routes.router

    def older(*args: Any, **kw: Any) -> blob_routes.BlobRouter:
        r = newer(*args, **kw)
        r.routes[:] = [x for x in r.routes if not getattr(x, "path", "").endswith("/aliases")]
        return r

    monkeypatch.setattr(blob_routes, "router", older)
    app = create_app(root)
    refused: list[str] = []

    @app.middleware("http")
    async def seen(request: Request, call_next: Any) -> Any:
        answer = await call_next(request)
        if answer.status_code == 405:
            refused.append(f"{request.method} {request.url.path}")
        return answer

    with app_in_thread(app) as port:
        old = LiveServer(root)
        old.port = port
        run_dir = _best_aliased_after_sync(old, key, tmp_path)
        assert _best_and_latest(old, key) == (None, 1)
    mark = json.loads((run_dir / "sync.json").read_text())
    assert mark["blobs"]["aliases"] == {}, mark["blobs"]
    # asked once (v0 is listed twice in run.json: logged, then logged again as `best`)
    assert refused == ["POST /api/v1/artifacts/alice/p/net/aliases"], refused


def test_only_a_member_of_the_project_may_alias_a_version(
    server: LiveServer, tmp_path: Path
) -> None:
    key = server.user("alice")
    _best_aliased_after_sync(server, key, tmp_path)
    with LiveServer.client(server, key) as c:
        manifest = c._http.get("/artifacts/alice/p/net/v1").json()["manifest"]
    body = {"manifest": manifest, "aliases": ["stolen"]}
    with LiveServer.client(server, server.user("bob")) as c:
        r = c._http.post("/artifacts/alice/p/net/aliases", json=body)
    assert r.status_code == 403 and r.json()["error"] == "no_permission", r.text
    with LiveServer.client(server, key) as c:
        assert c._http.get("/artifacts/alice/p/net/stolen").status_code == 404
        r = c._http.post("/artifacts/alice/p/net/aliases", json=body)
        assert r.status_code == 200, r.text
    assert _best_and_latest(server, key) == (0, 1)


def test_a_mark_from_before_aliases_were_kept_sends_no_alias_again(
    server: LiveServer, tmp_path: Path
) -> None:
    """A sync mark written by the previous flightlog has no `aliases`: the aliases a pushed
    version has are taken as sent, not sent again (the server's `best` was moved since, by
    another machine: a re-send would take it back)."""
    key = server.user("alice")
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"epoch 0")
    run = flightlog.init(project="p", entity="alice")
    run.log_artifact(ckpt, name="net", type="model", aliases=["best"])
    run.finish()
    _sync(server, key, run.dir)
    with LiveServer.client(server, key) as c:  # another machine's better model, as `best`
        v0 = c._http.get("/artifacts/alice/p/net/v0").json()["manifest"]
        other = {"manifest": {**v0, "metadata": {"other": True}}, "aliases": ["best"]}
        other["manifest"]["entries"] = {"copy.ckpt": v0["entries"]["model.ckpt"]}
        assert c._http.put("/artifacts/alice/p/net", json=other).json()["version"] == 1
    mark_path = Path(run.dir) / "sync.json"
    mark = json.loads(mark_path.read_text())
    del mark["blobs"]["aliases"]  # as the previous flightlog wrote it
    mark_path.write_text(json.dumps(mark))
    (Path(run.dir) / "files" / "notes.txt").write_text("changed since")  # a reason to sync
    _sync(server, key, run.dir)
    assert _best_and_latest(server, key) == (1, 1)
    assert json.loads(mark_path.read_text())["blobs"]["aliases"] == {
        f"p/net:{v0['digest']}": ["best"]
    }
