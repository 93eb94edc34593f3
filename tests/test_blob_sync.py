"""Blob sync against a real server subprocess: a run's files, media and artifact files sent
exactly once, resumed after the server was killed mid-upload, readable only through a project
the reader may read, and fetched back by `flightlog artifact get` on another machine."""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import flightlog
from flightlog._errors import ServerUnavailableError
from flightlog.cli import main
from flightlog.store.blobs import BlobStore
from flightlog.store.layout import RunPaths
from flightlog.sync import blob_client
from flightlog.sync.uploader import RunSync, load_local, sync_run

from .servers import LiveServer, wait_until

pytestmark = pytest.mark.slow


_client = LiveServer.client  # (server, key): a client signed in with `key`, no retries


def _sync(srv: LiveServer, key: str, run_dir: str, **kw) -> RunSync:
    with _client(srv, key) as c:
        return sync_run(c, load_local(RunPaths(Path(run_dir))), "alice", **kw)


def _server_blobs(srv: LiveServer) -> list[Path]:
    return [p for p in (srv.root / "blobs").rglob("*") if p.is_file() and "tmp" not in p.name]


def _run_with_everything(tmp_path: Path, checkpoint: bytes) -> tuple[flightlog.Run, dict]:
    """A finished run with console output, a saved file, a media blob and an artifact."""
    run = flightlog.init(project="p", entity="alice")
    print("epoch 1: loss 0.5")
    (tmp_path / "notes.txt").write_text("kept with the run")
    run.save(str(tmp_path / "notes.txt"), base_path=str(tmp_path), policy="now")
    media = BlobStore(Path(run.dir) / "media").put_bytes(b"\x89PNG fake image bytes")
    ck = tmp_path / "model.ckpt"
    ck.write_bytes(checkpoint)
    art = run.log_model(ck, name="net", aliases=["best"])
    run.log({"loss": 0.5})
    run.finish()
    return run, {"media": media.sha256, "checkpoint": art.get_entry("model.ckpt").digest}


def test_files_media_and_artifacts_are_sent_exactly_once(server: LiveServer, tmp_path: Path):
    key = server.user("alice")
    run, shas = _run_with_everything(tmp_path, os.urandom(300_000))
    first = _sync(server, key, run.dir)
    assert first.complete and first.blobs >= 4 and first.blob_bytes > 300_000
    again = _sync(server, key, run.dir)
    assert again.skipped and again.blobs == again.blob_bytes == 0
    (Path(run.dir) / "sync.json").unlink()  # even without the mark: the server is asked first
    third = _sync(server, key, run.dir)
    assert not third.skipped and third.blobs == third.blob_bytes == 0

    with _client(server, key) as c:
        files = c.request("GET", f"/runs/alice/p/{run.id}/files").json()["files"]
        names = {f["name"] for f in files}
        assert {"output.log", "notes.txt", "requirements.txt"} <= names
        log = c.request("GET", f"/runs/alice/p/{run.id}/files/output.log")
        assert "epoch 1: loss 0.5" in log.text
        assert log.headers["content-type"].startswith("text/plain")
        media = c.request("GET", f"/blobs/alice/p/{shas['media']}").content
        assert media == b"\x89PNG fake image bytes"
        version = c.request("GET", "/artifacts/alice/p/net/best").json()
        assert version["aliases"] == ["latest", "best"]
        assert version["manifest"]["entries"]["model.ckpt"]["sha256"] == shas["checkpoint"]
        assert version["manifest"]["logged_by"] == {"entity": "alice", "project": "p", "id": run.id}
    stored = _server_blobs(server)
    assert len(stored) == len({p.name for p in stored})  # every content once


def test_a_blob_cut_off_by_a_killed_server_resumes_where_it_stopped(
    server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(blob_client, "PART_BYTES", 1 << 20)
    key = server.user("alice")
    checkpoint = os.urandom(12 * (1 << 20) + 12345)
    run, shas = _run_with_everything(tmp_path, checkpoint)
    parts = server.root / "blob_parts"

    def kill_after_three_parts(_size: int) -> None:
        if len([p for p in parts.rglob("*") if p.is_file()]) >= 3:
            server.kill()  # kill -9, between two parts of the checkpoint

    with pytest.raises(ServerUnavailableError):
        _sync(server, key, run.dir, on_blob_part=kill_after_three_parts)
    kept = sum(p.stat().st_size for p in parts.rglob("*") if p.is_file())
    kept += sum(p.stat().st_size for p in _server_blobs(server))
    assert 3 << 20 <= kept < len(checkpoint)
    everything = sum(f.stat().st_size for f in _local_blobs(run))
    server.start()  # the same root, after a crash
    resumed = _sync(server, key, run.dir)
    assert resumed.complete
    assert resumed.blob_bytes == everything - kept  # nothing the server kept was sent again
    assert not [p for p in parts.rglob("*") if p.is_file()]  # the parts became the blob
    with _client(server, key) as c:
        got = c.request("GET", f"/blobs/alice/p/{shas['checkpoint']}").content
    assert hashlib.sha256(got).hexdigest() == shas["checkpoint"] and got == checkpoint
    assert _sync(server, key, run.dir).skipped


def _local_blobs(run: flightlog.Run) -> list[Path]:
    """Every distinct file the run's sync sends (files, media, artifact contents)."""
    from flightlog.sync.blob_upload import collect

    found = collect(load_local(RunPaths(Path(run.dir))), {})
    return [path for _, path in found.blobs.values()]


def test_a_blob_is_readable_only_through_a_project_the_reader_may_read(
    server: LiveServer, tmp_path: Path
):
    alice, bob = server.user("alice"), server.user("bob")
    secret = b"private weights " * 1000
    run, shas = _run_with_everything(tmp_path, secret)
    _sync(server, alice, run.dir)
    sha = shas["checkpoint"]
    with _client(server, bob) as c:
        for url in (
            f"/blobs/alice/p/{sha}",
            f"/runs/alice/p/{run.id}/files",
            f"/runs/alice/p/{run.id}/files/output.log",
            "/artifacts/alice/p/net/latest",
        ):
            r = c._http.get(url)
            assert r.status_code == 404, url  # a private project does not exist for bob
        # bob's own project does not hold it: asking by digest gives nothing away
        assert c._http.get(f"/blobs/bob/q/{sha}").status_code == 404
        lacking = blob_client.lacking(c, "bob", "q", {sha: len(secret)})
        assert lacking == {sha: 0}  # a digest is not proof of the data: upload it
        before = len(_server_blobs(server))
        r = c._http.put(
            f"/blobs/bob/q/{sha}",
            params={"size": len(secret), "offset": 0},
            content=b"x" * len(secret),
        )
        assert r.status_code == 400 and r.json()["error"] == "hash_mismatch"
        assert c._http.get(f"/blobs/bob/q/{sha}").status_code == 404
        r = c._http.put(
            f"/blobs/bob/q/{sha}", params={"size": len(secret), "offset": 0}, content=secret
        )
        assert r.status_code == 200 and r.json() == {"offset": len(secret), "stored": False}
        assert c._http.get(f"/blobs/bob/q/{sha}").content == secret
    assert len(_server_blobs(server)) == before  # stored once for both projects
    with httpx.Client(base_url=server.url) as anon:
        assert anon.get(f"/api/v1/blobs/alice/p/{sha}").status_code == 401


def test_artifact_get_from_the_server_fetches_only_the_blobs_the_store_lacks(
    server: LiveServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    key = server.user("alice")
    run, _ = _run_with_everything(tmp_path, b"checkpoint bytes")
    art = flightlog.Artifact("bundle", "dataset")
    (tmp_path / "a.txt").write_text("shared")
    (tmp_path / "b.txt").write_text("only on the server")
    art.add_file(tmp_path / "a.txt")
    art.add_file(tmp_path / "b.txt")
    run2 = flightlog.init(project="p", entity="alice", reinit="create_new")
    run2.log_artifact(art, aliases=["golden"])
    run2.finish()
    for r in (run, run2):
        assert _sync(server, key, r.dir).complete

    other = tmp_path / "laptop"  # another machine: a store holding a.txt's content already
    BlobStore(other / "blobs").put_bytes(b"shared")
    monkeypatch.setenv("FLIGHTLOG_API_KEY", key)
    monkeypatch.setenv("FLIGHTLOG_BASE_URL", server.url)
    out_dir = tmp_path / "got"
    args = ["artifact", "get", "alice/p/bundle:golden", "--root", str(other), "-o", str(out_dir)]
    assert main(args) == 0
    said = capsys.readouterr().out
    assert "p/bundle:v0" in said and "1 file(s)" in said
    assert (out_dir / "a.txt").read_text() == "shared"
    assert (out_dir / "b.txt").read_text() == "only on the server"
    assert main(args) == 0
    assert "0 file(s)" in capsys.readouterr().out
    assert main(["artifact", "show", "p/bundle:golden", "--root", str(other)]) == 0
    assert "alice/p/" + run2.id in capsys.readouterr().out  # lineage came along
    assert main(["artifact", "get", "alice/p/bundle:v9", "--root", str(other)]) == 1
    assert "no artifact alice/p/bundle:v9" in capsys.readouterr().err


def test_a_running_runs_console_log_is_sent_once_when_the_run_has_ended(
    server: LiveServer, tmp_path: Path
):
    """The agent syncs a running run every few seconds: its growing console log would be a
    new blob each time, so it goes once, at the end; the other files go at once."""
    key = server.user("alice")
    run = flightlog.init(project="p", entity="alice")
    print("step 1")
    (tmp_path / "cfg.yaml").write_text("lr: 0.1")
    run.save(str(tmp_path / "cfg.yaml"), base_path=str(tmp_path), policy="now")
    run.log({"loss": 1.0})
    # save() copies on the run's file thread: at load 15 the sync once ran before the copy
    saved = Path(run.dir) / "run.json"
    wait_until(
        lambda: "cfg.yaml" in json.loads(saved.read_text()).get("saved_files", {}),
        60,
        "run.save(policy='now') recorded its copy",
    )
    live = _sync(server, key, run.dir)
    assert "still running" in live.pending

    def names() -> set[str]:
        with _client(server, key) as c:
            files = c.request("GET", f"/runs/alice/p/{run.id}/files").json()["files"]
        return {f["name"] for f in files}

    assert "cfg.yaml" in names() and "output.log" not in names()
    run.finish()
    assert _sync(server, key, run.dir).complete
    assert "output.log" in names()
    with _client(server, key) as c:
        assert "step 1" in c.request("GET", f"/runs/alice/p/{run.id}/files/output.log").text


def test_artifact_get_refuses_a_manifest_that_would_write_outside_the_download(
    server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    """A server whose store was tampered with (or a hostile one) cannot make `artifact get`
    write outside the directory it was given, nor move local aliases to odd file names."""
    key = server.user("alice")
    run, _ = _run_with_everything(tmp_path, b"weights")
    assert _sync(server, key, run.dir).complete
    versions = server.root / "artifacts" / "@alice" / "p" / "net" / "versions"
    [manifest_file] = versions.glob("v*.json")
    doc = json.loads(manifest_file.read_text())
    doc["entries"]["../../escaped.txt"] = doc["entries"]["model.ckpt"]
    manifest_file.write_text(json.dumps(doc))
    monkeypatch.setenv("FLIGHTLOG_API_KEY", key)
    monkeypatch.setenv("FLIGHTLOG_BASE_URL", server.url)
    laptop = tmp_path / "laptop"
    args = ["artifact", "get", "alice/p/net:v0", "--root", str(laptop), "-o", str(tmp_path / "o")]
    assert main(args) == 1
    assert "manifest of alice/p/net:v0 is refused" in capsys.readouterr().err
    assert not (tmp_path.parent / "escaped.txt").exists()
    assert not (laptop / "artifacts").exists()


def test_a_server_root_from_before_the_database_held_blob_references_keeps_its_files(
    server: LiveServer,
):
    """References and run file lists kept as files (blob_refs/, blobs.json) by an older
    server are adopted into the database at start: the run's files are still served."""
    key = server.user("alice")
    with _client(server, key) as c:
        c.put_run("alice", "p", "r1", {"id": "r1", "name": "old"}, [])
    server.stop()
    log = b"epoch 1\n"
    blob = BlobStore(server.root / "blobs").put_bytes(log)
    ref = server.root / "blob_refs" / "@alice" / "p" / blob.sha256[:2] / blob.sha256
    ref.parent.mkdir(parents=True)
    ref.touch()
    files = {"files": {"output.log": {"sha256": blob.sha256, "size": len(log)}}}
    (server.root / "runs" / "@alice" / "p" / "r1" / "blobs.json").write_text(json.dumps(files))
    server.start()
    url = f"{server.url}/api/v1/runs/alice/p/r1/files/output.log"
    got = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert got.status_code == 200 and got.content == log, got.text
    assert not (server.root / "blob_refs").exists()  # adopted once, not at every start


def _put_part_at_once(url: str, auth: dict, size: int, offset: int, part: bytes, n: int):
    """`n` clients sending the same part of a blob at the same moment."""
    params = {"size": size, "offset": offset}
    with ThreadPoolExecutor(n) as pool:
        return list(
            pool.map(
                lambda _: httpx.put(url, params=params, content=part, headers=auth, timeout=60),
                range(n),
            )
        )


def test_the_same_part_sent_twice_at_once_keeps_the_blob_whole(server: LiveServer):
    """Runs with the same file (a requirements.txt) upload its blob at once: a second copy
    of a part must not remove the first, which the finishing upload then assembles (before:
    a 500 I/O error and the sync gave up, seen under load with 8 clients)."""
    key = server.user("alice")
    auth = {"Authorization": f"Bearer {key}"}
    for trial in range(5):
        data = os.urandom(200_000 + trial)
        url = f"{server.url}/api/v1/blobs/alice/p/{hashlib.sha256(data).hexdigest()}"
        half = len(data) // 2
        for offset, part, n in ((0, data[:half], 8), (half, data[half:], 4)):
            answers = _put_part_at_once(url, auth, len(data), offset, part, n)
            assert all(r.status_code < 300 for r in answers), [r.text for r in answers]
        got = httpx.get(url, headers=auth, timeout=60)
        assert got.status_code == 200 and got.content == data


def test_a_file_list_or_manifest_naming_a_blob_the_project_lacks_is_refused(
    server: LiveServer, tmp_path: Path
):
    """A run's file list and an artifact manifest may name only blobs uploaded through the
    project: anything else is a 409 that says to upload it first, and nothing is recorded."""
    key = server.user("alice")
    run, _ = _run_with_everything(tmp_path, b"weights")
    _sync(server, key, run.dir)
    absent = hashlib.sha256(b"never uploaded").hexdigest()
    with _client(server, key) as c:
        before = c.request("GET", f"/runs/alice/p/{run.id}/files").json()
        r = c._http.put(
            f"/runs/alice/p/{run.id}/files", json={"files": {"x.bin": {"sha256": absent}}}
        )
        assert r.status_code == 409 and r.json()["error"] == "blob_not_found"
        assert "'x.bin'" in r.text and absent in r.text and "upload it first" in r.text
        assert c.request("GET", f"/runs/alice/p/{run.id}/files").json() == before
        manifest = {"type": "model", "entries": {"w.bin": {"sha256": absent, "size": 1}}}
        r = c._http.put("/artifacts/alice/p/other", json={"manifest": manifest})
        assert r.status_code == 409 and r.json()["error"] == "blob_not_found"
        assert "'w.bin'" in r.text and absent in r.text and "upload it first" in r.text
        assert c._http.get("/artifacts/alice/p/other/latest").status_code == 404
