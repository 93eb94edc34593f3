"""What syncing a run costs in requests, against a real server subprocess: the run's blobs
and file list ride on its PUT, and a run whose files, media and artifacts did not change
since its last sync asks nothing about them; a change is still sent, exactly once."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

import flightlog
from flightlog.store.blobs import BlobStore
from flightlog.store.layout import RunPaths
from flightlog.store.syncmark import read_mark
from flightlog.sync.frames import BATCH_TYPE, frame_header
from flightlog.sync.uploader import RunSync, load_local, sync_run

from .conftest import settled, spawn
from .servers import LiveServer

pytestmark = pytest.mark.slow


def _requests(srv: LiveServer, since: int) -> list[str]:
    """The access-log lines ("METHOD PATH STATUS ...") the server wrote after byte `since`."""
    with open(srv.root / "server.log", "rb") as f:
        f.seek(since)
        text = f.read().decode(errors="replace")
    return [ln for ln in text.splitlines() if " /api/v1/" in ln]


def _sync(srv: LiveServer, key: str, run_dir: str) -> tuple[RunSync, list[str]]:
    """Sync the run once; what it did and the requests it made (as the server logged them:
    everything before a GET /whoami sent once the sync returned)."""
    since = (srv.root / "server.log").stat().st_size
    with srv.client(key) as c:
        r = sync_run(c, load_local(RunPaths(Path(run_dir))), "alice")
        c.whoami()
    deadline = time.monotonic() + 60  # a log line is written as its answer goes out
    while time.monotonic() < deadline:
        got = _requests(srv, since)
        ends = [i for i, ln in enumerate(got) if "/api/v1/whoami " in ln]
        if ends:
            return r, got[: ends[0]]
        time.sleep(0.05)
    raise AssertionError(f"no access-log line for /whoami in 60 s: {got}")


def _kinds(lines: list[str]) -> list[str]:
    """Each request as METHOD and what it is about: PUT run, POST segments, PUT blob..."""
    out = []
    for ln in lines:
        method, path = _method_path(ln)
        tail = path.rstrip("/").split("/")
        word = "run" if len(tail) == 7 and tail[3] == "runs" else tail[-1]
        if "segments" in tail:
            word = "segments"  # one PUT, or a POST of a batch
        elif tail[3] == "blobs" and word != "missing":
            word = "blob"
        out.append(f"{method} {word}")
    return out


def _method_path(line: str) -> tuple[str, str]:
    words = line.split()
    i = next(i for i, w in enumerate(words) if w.startswith("/api/v1/"))
    return words[i - 1], words[i]


def _wait_sealed(run: flightlog.Run, n: int) -> None:
    history = Path(run.dir) / "history"
    deadline = time.monotonic() + 60
    while len(list(history.glob("*.parquet"))) < n:
        assert time.monotonic() < deadline, "the writer sealed no segment in 60 s"
        time.sleep(0.05)


def test_a_running_run_whose_files_did_not_change_asks_nothing_about_them(
    server: LiveServer, tmp_path: Path
):
    key = server.user("alice")
    run = flightlog.init(project="p", entity="alice", mode="offline", settings={"segment_rows": 5})
    try:
        (tmp_path / "notes.txt").write_text("kept with the run")
        run.save(str(tmp_path / "notes.txt"), base_path=str(tmp_path), policy="now")
        for i in range(5):
            run.log({"x": i})
        _wait_sealed(run, 1)
        first, asked = _sync(server, key, run.dir)
        assert first.blobs >= 1 and not first.complete  # still running
        # the blobs rode on the run's metadata, sent with its segment: no "which do you
        # lack" request, no PUT of the run
        assert _kinds(asked)[0] == "POST sync" and "POST missing" not in _kinds(asked), asked
        assert "PUT run" not in _kinds(asked), asked

        for i in range(5, 10):
            run.log({"x": i})
        _wait_sealed(run, 2)
        second, asked = _sync(server, key, run.dir)
        assert second.sent == 1 and second.blobs == 0
        # metadata and the new segment in one request (before: PUT run, the segment, POST
        # missing and PUT files)
        assert _kinds(asked) == ["POST sync"], asked

        media = BlobStore(Path(run.dir) / "media").put_bytes(b"\x89PNG a new image")
        third, asked = _sync(server, key, run.dir)
        assert third.blobs == 1 and "PUT blob" in _kinds(asked), asked  # a change still goes
        with server.client(key) as c:
            got = c.request("GET", f"/blobs/alice/p/{media.sha256}").content
        assert got == b"\x89PNG a new image"
    finally:
        run.finish()
    last, _ = _sync(server, key, run.dir)
    assert last.complete
    with server.client(key) as c:
        files = c.request("GET", f"/runs/alice/p/{run.id}/files").json()["files"]
    assert {"notes.txt", "output.log"} <= {f["name"] for f in files}


def test_a_file_list_the_server_can_record_at_once_costs_no_request(
    server: LiveServer, tmp_path: Path
):
    key = server.user("alice")
    run = flightlog.init(project="p", entity="alice", mode="offline")
    print("epoch 1")
    run.log({"x": 1})
    run.finish()
    first, asked = _sync(server, key, run.dir)
    assert first.complete and "PUT files" in _kinds(asked)  # its blobs were new: list after them
    (Path(run.dir) / "sync.json").unlink()  # the mark lost: the server is asked again
    again, asked = _sync(server, key, run.dir)
    assert again.complete and again.sent == 0 and again.blobs == 0
    # the server held every blob: the run's request recorded the list (before: PUT run,
    # POST missing, PUT files); its segment went unasked and was answered "already stored"
    assert _kinds(asked) == ["POST sync"], asked
    with server.client(key) as c:
        files = c.request("GET", f"/runs/alice/p/{run.id}/files").json()["files"]
        log = c.request("GET", f"/runs/alice/p/{run.id}/files/output.log").text
    assert "output.log" in {f["name"] for f in files} and "epoch 1" in log


def test_a_run_put_with_a_bad_blob_list_is_refused_before_the_run_is_written(
    server: LiveServer,
):
    key = server.user("alice")
    meta = {"id": "r1", "project": "p"}
    with server.client(key) as c:
        r = c.request(
            "PUT",
            "/runs/alice/p/r1",
            json={"meta": meta, "writers": [], "blobs": [{"sha256": "nothex", "size": 1}]},
            allow=(400,),
        )
        assert r.status_code == 400 and "nothex" in r.json()["message"], r.text
        assert c.request("GET", "/runs/alice/p/r1", allow=(404,)).status_code == 404


def test_a_sync_body_must_start_with_the_run_and_stores_nothing_otherwise(
    server: LiveServer, tmp_path: Path
):
    key = server.user("alice")
    run = flightlog.init(project="p", entity="alice", mode="offline")
    run.log({"x": 1})
    run.finish()
    settled()  # the writer thread seals after finish()
    seg = next((Path(run.dir) / "history").glob("*.parquet"))
    frame = frame_header("history", seg) + seg.read_bytes()
    meta = json.dumps({"meta": {"id": run.id, "project": "p"}, "writers": []}).encode()
    head = json.dumps({"stream": "run", "name": "run.json", "size": len(meta)}).encode()
    with server.client(key) as c:
        for body in (frame, frame + head + b"\n" + meta):  # no run first
            r = c.request(
                "POST",
                f"/runs/alice/p/{run.id}/sync",
                content=body,
                headers={"Content-Type": BATCH_TYPE},
                allow=(400,),
            )
            assert r.status_code == 400 and "first frame must be the run" in r.text, r.text
        assert c.request("GET", f"/runs/alice/p/{run.id}", allow=(404,)).status_code == 404
        assert not list((server.root / "runs").rglob("*.parquet"))
        r = c.request(
            "POST",
            f"/runs/alice/p/{run.id}/sync",
            content=head + b"\n" + meta + frame,
            headers={"Content-Type": BATCH_TYPE},
        )
        assert r.status_code == 201 and r.json()["results"][0]["stored"], r.text
        assert r.json()["segments"]["history"] == [seg.name]


def test_a_run_sent_as_running_is_not_marked_synced_when_its_writer_dies_meanwhile(
    server: LiveServer,
) -> None:
    """The writer states sent decide: read as running, then its process exits before the
    sync ends, the run was sent as running (the server shows it running), so the sync is
    not complete. (The state was read again at the end: the dead writer looked crashed, the
    run was marked synced and the agent never sent its final state.)"""
    key = server.user("alice")
    child = spawn(
        """
        import flightlog, sys
        run = flightlog.init(project="p", settings={"segment_rows": 1, "stats_interval": 0})
        run.log({"x": 1.0})
        run._writer.flush()  # its one row sealed: nothing open
        print(run.dir, flush=True)
        sys.stdin.readline()
    """,
        stdin=subprocess.PIPE,
    )
    run_dir = child.stdout.readline().strip()
    local = load_local(RunPaths(Path(run_dir)))
    child.kill()  # dies as a run still running: its state file stays "running"
    child.wait(timeout=60)
    with server.client(key) as c:
        result = sync_run(c, local, "alice")
    assert not local.open_segments
    assert not result.complete and "still running" in result.pending
    assert read_mark(RunPaths(Path(run_dir))).get("complete") is False
