"""Many small segments in one request (sync/batch_routes.py), for real: a server subprocess
killed -9 mid-batch, a batch mixing valid and refused segments, two clients uploading the
same run at once, hostile batch bodies. Every segment lands exactly once or is reported."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from flightlog.store.layout import RunPaths
from flightlog.sync.frames import BATCH_TYPE, frame_header

from .conftest import cli, python_script
from .servers import (
    LiveServer,
    place_uploaded,
    read_by_server,
    segment_file,
    server_rows,
    tidy_table,
    wait_until,
)
from .sync_runs import sync_until_killed

pytestmark = pytest.mark.slow

TRAIN = """
import time, flightlog
settings = {{"segment_rows": {rows}, "flush_interval": 0.01}}  # a segment per pause
run = flightlog.init(project="p", mode="offline", settings=settings)
print(run.id, flush=True)
for i in range({steps}):
    run.log({{"i": i}})
    if i % {rows} == {rows} - 1:
        time.sleep(0.01)
run.finish()
"""


def train(steps: int, rows: int = 20) -> tuple[str, list[Path]]:
    """A real offline run of many small sealed segments: (its id, its segment files)."""
    r = python_script(TRAIN.format(rows=rows, steps=steps), timeout=120)
    assert r.returncode == 0, r.stderr
    run_id = r.stdout.strip()
    local = sorted((Path(os.environ["FLIGHTLOG_DIR"]) / "runs/p" / run_id / "history").iterdir())
    assert len(local) >= 5, f"only {len(local)} segments: the batch needs many"
    return run_id, local


def on_server(server: LiveServer, run_id: str) -> list[str]:
    return sorted(p.name for p in server.root.glob(f"runs/@alice/p/{run_id}/history/*.parquet"))


def assert_exactly_once(server: LiveServer, run_id: str, local: list[Path], steps: int) -> None:
    names = on_server(server, run_id)
    assert names == sorted(p.name for p in local)  # each once: names carry writer and seq
    assert [r["i"] for r in server_rows(server.root, "alice", "p", run_id)] == list(range(steps))


def test_server_killed_9_mid_batch_body_then_the_client_resumes(server: LiveServer, key: str):
    steps = 2000
    run_id, local = train(steps)
    with server.client(key) as c:
        meta = json.loads((local[0].parents[1] / "run.json").read_text())
        c.put_run("alice", "p", run_id, meta, [])
    frames = b"".join(frame_header("history", p) + p.read_bytes() for p in local)
    cut = len(frames) * 2 // 3  # most segments whole, then one cut off inside
    head = (
        f"POST /api/v1/runs/alice/p/{run_id}/segments HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: {BATCH_TYPE}\r\n"
        f"Content-Length: {len(frames)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(head + frames[:cut])
        port = s.getsockname()[1]
        wait_until(lambda: read_by_server(server.port, port), 60, "the body read so far")
        server.kill()
    assert on_server(server, run_id) == []  # a batch is placed once it has all arrived
    server.start()
    r = cli("sync", "--all", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{len(local)} segment(s) sent" in r.stdout
    assert_exactly_once(server, run_id, local, steps)
    assert list((server.root / ".uploads").iterdir()) == []


def test_server_killed_9_while_placing_a_batch_then_the_client_resumes(
    server: LiveServer, key: str
):
    steps = 8000
    run_id, local = train(steps)
    code, out = sync_until_killed(server, lambda: on_server(server, run_id))
    placed = len(on_server(server, run_id))
    assert placed < len(local), "the batch was placed whole before the kill: make it bigger"
    assert code == 1 and "cannot reach" in out, out
    server.start()
    r = cli("sync", "--all", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    sent = int(re.search(r"(\d+) segment\(s\) sent", r.stdout).group(1))
    assert placed + sent == len(on_server(server, run_id)) == len(local)  # none twice
    assert_exactly_once(server, run_id, local, steps)


def test_a_batch_mixing_valid_and_refused_segments(server: LiveServer, key: str, tmp_path):
    with server.client(key) as c:
        c.put_run("alice", "p", "r1", {"id": "r1"}, [])
        good = segment_file(tmp_path / "a", tidy_table(10), seq=1)
        bad_values = segment_file(tmp_path / "b", tidy_table(10, kind=9), seq=2)
        wrong_hash = tmp_path / "c" / f"w1-000003-{'0' * 64}.parquet"
        wrong_hash.parent.mkdir()
        wrong_hash.write_bytes(good.read_bytes())
        items = [("history", good), ("history", bad_values), ("history", wrong_hash)]
        answers = c.put_segments("alice", "p", "r1", items)
        again = c.put_segments("alice", "p", "r1", [("history", good), ("history", good)])
    assert answers is not None and again is not None
    assert [a["name"] for a in answers] == [p.name for _, p in items]  # each by name
    assert [(a["status"], a["stored"]) for a in answers] == [
        (201, True),
        (400, False),
        (400, False),
    ]
    assert answers[1]["error"] == "invalid_values" and "kind 9" in answers[1]["message"]
    assert answers[2]["error"] == "hash_mismatch"
    assert on_server(server, "r1") == [good.name]
    assert [(a["status"], a["stored"]) for a in again] == [(200, False), (200, False)]


def test_sync_reports_a_refused_segment_by_name_and_stores_the_rest(server: LiveServer, key: str):
    steps = 2000
    run_id, local = train(steps)
    bad = segment_file(local[0].parent, tidy_table(5, kind=9), writer="w1", seq=99)
    r = cli("sync", "--all", timeout=180)
    assert r.returncode == 1, r.stdout + r.stderr
    assert bad.name in r.stdout and "unknown value kind 9" in r.stdout, r.stdout
    assert "failed" in r.stdout
    assert_exactly_once(server, run_id, local, steps)  # every valid one landed
    runs = json.loads(cli("runs", "--json").stdout)
    assert [x["sync"] for x in runs] != ["synced"]  # not marked synced: it lacks one


def test_two_clients_upload_the_same_run_at_once(server: LiveServer, key: str, tmp_path):
    steps = 3000
    run_id, local = train(steps)
    twin = tmp_path / "twin"
    shutil.copytree(os.environ["FLIGHTLOG_DIR"], twin)  # the same run on a second machine
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "flightlog.cli", "sync", "--all", *root],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for root in ([], ["--root", str(twin)])
    ]
    outs = [p.communicate(timeout=180)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    sent = [int(re.search(r"(\d+) segment\(s\) sent", o).group(1)) for o in outs]
    assert sum(sent) == len(local), outs  # each segment stored by exactly one of them
    assert_exactly_once(server, run_id, local, steps)


def _post(server: LiveServer, key: str, body: bytes) -> tuple[int, dict]:
    import httpx

    r = httpx.post(
        f"{server.url}/api/v1/runs/alice/p/r1/segments",
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": BATCH_TYPE},
        timeout=60,
    )
    return r.status_code, r.json()


def test_malformed_batch_bodies_are_refused_whole_and_store_nothing(
    server: LiveServer, key: str, tmp_path: Path
):
    with server.client(key) as c:
        c.put_run("alice", "p", "r1", {"id": "r1"}, [])
    good = segment_file(tmp_path, tidy_table(10), seq=1)
    frame = frame_header("history", good) + good.read_bytes()
    bodies = {
        "short of a segment": frame + frame[: len(frame) // 2],
        "ends inside a frame header": frame + b'{"stream": "hist',
        "a frame header is longer": frame + b"x" * 5000,
        "a frame header must be": frame + b"not json\n",
        "size is negative": frame + b'{"stream": "history", "name": "x", "size": -1}\n',
    }
    for why, body in bodies.items():
        status, doc = _post(server, key, body)
        assert status == 400 and why in doc["message"], (why, doc)
    status, doc = _post(server, key, frame * 1001)
    assert status == 413 and "at most 1000 segments" in doc["message"]
    assert on_server(server, "r1") == []
    assert list((server.root / ".uploads").iterdir()) == []
    size = good.stat().st_size
    traversal = f'{{"stream": "history", "name": "../../x.parquet", "size": {size}}}\n'
    status, doc = _post(server, key, traversal.encode() + good.read_bytes() + frame)
    assert status == 200  # a bad name is that segment's refusal; its bytes are read past
    assert [(r["name"], r.get("error"), r["stored"]) for r in doc["results"]] == [
        ("../../x.parquet", "invalid_name", False),
        (good.name, None, True),
    ]
    assert on_server(server, "r1") == [good.name]


def _placer(root: Path) -> tuple[RunPaths, Callable[[Path], bool]]:
    """A server store with run alice/p/r1, and a function that uploads a segment file into
    it as the routes do (a temp copy under .uploads, then place_segment)."""
    from flightlog.sync.receive import ReceivingStore

    store = ReceivingStore(root)
    paths = store.paths("alice", "p", "r1")
    store.put_run("alice", "p", "r1", {"id": "r1"}, [])

    def place(seg: Path) -> bool:
        return place_uploaded(store, paths, "history", seg)

    return paths, place


def test_the_stores_memory_of_placed_segments_follows_changes_made_by_hand(tmp_path: Path):
    """Placement remembers each directory's names (no listing per upload); a segment removed
    by hand is stored again, one put there by hand with other content is a conflict."""
    import time as clock

    from flightlog.sync.receive import Refused

    paths, place = _placer(tmp_path / "server")
    one = segment_file(tmp_path / "a", tidy_table(10), seq=1)
    assert place(one) is True
    assert place(one) is False
    clock.sleep(0.05)  # a later mtime, whatever the filesystem's clock tick
    (paths.history / one.name).unlink()  # by hand
    assert place(one) is True
    other = segment_file(tmp_path / "b", tidy_table(11), seq=2)
    clock.sleep(0.05)
    shutil.copy(other, paths.history / other.name.replace(other.name[10:20], "0" * 10))
    with pytest.raises(Refused, match="already stored with different content"):
        place(other)


def test_two_seals_of_one_segment_are_kept_and_the_longer_is_read(tmp_path: Path):
    """A store copied while a run trained seals the run's open segment there; the run seals
    it itself later, longer, under the same writer and number (tests/test_found2_copied_store
    has the whole story). The server keeps both and reads the longer; the shorter sent after
    is already stored; other rows under that number are still a conflict."""
    from flightlog.store.segments import list_segments
    from flightlog.sync.receive import Refused

    paths, place = _placer(tmp_path / "server")
    short = segment_file(tmp_path / "copy", tidy_table(1500), seq=1)
    long = segment_file(tmp_path / "job", tidy_table(3000), seq=1)
    assert place(short) is True
    assert place(long) is True
    assert [p.name for _, p in list_segments(paths.history)] == [long.name]
    assert place(short) is False  # what the longer holds: stored
    other = segment_file(tmp_path / "other", tidy_table(4000, start=10), seq=1)
    with pytest.raises(Refused, match="already stored with different content"):
        place(other)
    assert sorted(p.name for p in paths.history.iterdir()) == sorted([short.name, long.name])


def test_a_segment_removed_without_moving_its_directorys_mtime_is_stored_again(tmp_path: Path):
    """The store's memory of placed names trusts a directory's mtime; a removal can leave it
    as placement left it - within one clock tick on filesystems with coarse timestamps
    (1-2 s on ext3, HFS+, FAT and many NFS servers), or by a tool that restores times
    (`rsync -a`, `touch -r`). "Already stored" must still not be answered for a file that
    is gone: the client would mark the run synced and never send it again."""
    paths, place = _placer(tmp_path / "server")
    one = segment_file(tmp_path / "a", tidy_table(10), seq=1)
    assert place(one) is True
    placed = paths.history.stat().st_mtime_ns
    (paths.history / one.name).unlink()  # by hand, in the tick of the placement
    os.utime(paths.history, ns=(placed, placed))
    assert place(one) is True
    assert (paths.history / one.name).exists()


def test_a_batch_sent_again_places_nothing_and_syncs_no_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A retried batch (its first answer lost) finds every segment stored: nothing is renamed,
    so no directory needs an fsync - each took ~2 ms of a worker's time on a busy disk,
    answering "already stored". The first sending fsyncs the directory it placed into."""
    from flightlog.sync import batch_routes
    from flightlog.sync.bodies import Part, remove_parts, write_parts
    from flightlog.sync.receive import ReceivingStore

    store = ReceivingStore(tmp_path / "server")
    store.put_run("alice", "p", "r1", {"id": "r1"}, [])
    paths = store.paths("alice", "p", "r1")
    segs = [segment_file(tmp_path / "a", tidy_table(10, start=i * 10), seq=i) for i in (1, 2)]
    synced: list[Path] = []
    real = batch_routes.fsync_dir
    monkeypatch.setattr(batch_routes, "fsync_dir", lambda d: (synced.append(d), real(d)))

    def send() -> list[bool]:
        parts = [Part("history", p.name, p.stat().st_size, data=p.read_bytes()) for p in segs]
        write_parts(parts, store.uploads)
        try:
            return [r["stored"] for r in batch_routes.place_all(store, paths, parts)]
        finally:
            remove_parts(parts)

    assert send() == [True, True] and synced == [paths.history]
    synced.clear()
    assert send() == [False, False]
    assert synced == []
    assert sorted(p.name for p in paths.history.iterdir()) == sorted(p.name for p in segs)
