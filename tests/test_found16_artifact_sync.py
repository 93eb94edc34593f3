"""Artifact versions on their way to a server (session 16's fault hunt): every version a run's
log_artifact() returned reaches the server once, with its content."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import flightlog
from flightlog.artifacts.registry import Registry
from flightlog.store.layout import RunPaths
from flightlog.sync.uploader import load_local, sync_run

from .conftest import python_script, settled
from .servers import LiveServer

pytestmark = pytest.mark.slow


def _sync(srv: LiveServer, key: str, run_dir: str, running: bool = False) -> None:
    """`flightlog sync` of one run (`running`: the agent's pass over a run still logging)."""
    with LiveServer.client(srv, key) as c:
        done = sync_run(c, load_local(RunPaths(Path(run_dir))), "alice")
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


@pytest.mark.xfail(
    strict=True,
    reason="sync/blob_upload.py sync_blobs pushes a version once (the mark's `artifacts`); "
    "an alias given to it later is never sent. Re-pushing would move the server's latest "
    "(sync/db/artifact_table.py commit and the PUT artifact route always set it): the "
    "route needs a 'do not move latest' flag (Registry.commit's move_latest) and the mark "
    "the aliases pushed",
)
def test_an_alias_given_after_the_version_was_synced_reaches_the_server(
    server: LiveServer, tmp_path: Path
) -> None:
    """The best checkpoint is logged again with the alias `best` once training knows it (the
    same content: the same version, wandb's way to alias it), after the agent synced that
    version: the server's `best` must name it too, and `latest` stay on the newest."""
    key = server.user("alice")
    ckpt = tmp_path / "model.ckpt"
    run = flightlog.init(project="p", entity="alice")
    for epoch in range(2):
        ckpt.write_bytes(f"epoch {epoch}".encode())
        art = flightlog.Artifact("net", "model")
        art.add_file(ckpt)
        run.log_artifact(art)
        settled()
        _sync(server, key, run.dir, running=True)  # the agent, between two epochs
    ckpt.write_bytes(b"epoch 0")
    best = flightlog.Artifact("net", "model")
    best.add_file(ckpt)
    assert run.log_artifact(best, aliases=["best"]).version == "v0"
    run.finish()
    _sync(server, key, run.dir)
    with LiveServer.client(server, key) as c:
        r = c._http.get("/artifacts/alice/p/net/best")
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 0
        assert c._http.get("/artifacts/alice/p/net/latest").json()["version"] == 1
