"""Several small runs of a project in one request (sync/project_sync_routes.py, sync_many.py),
for real: a store of small runs is shipped in fewer requests than runs, each segment exactly
once; every name in such a body is checked before anything is stored, a refused run leaves
the others to land, and a server killed -9 mid-body is caught up with by the next sync."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pytest

from flightlog.sync.frames import BATCH_TYPE, frame_header

from .conftest import cli
from .servers import (
    LiveServer,
    read_by_server,
    segment_file,
    server_rows,
    tidy_table,
    wait_until,
)
from .sync_runs import local_segments, on_server, small_runs

pytestmark = pytest.mark.slow


def requests_made(server: LiveServer, what: str) -> int:
    return (server.root / "server.log").read_text(errors="replace").count(what)


def test_small_runs_go_several_to_a_request_each_segment_once(server: LiveServer, key: str):
    ids = small_runs(12)
    r = cli("sync", "--all", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    for run_id in ids:
        assert on_server(server, run_id) == local_segments(run_id) != []
        rows = server_rows(server.root, "alice", "p", run_id)
        assert [row["i"] for row in rows] == list(range(120))
    grouped = requests_made(server, "POST /api/v1/sync/alice/p ")
    assert 1 <= grouped < len(ids)
    assert requests_made(server, "/sync ") == 0  # no run went alone
    again = cli("sync", "--all", timeout=120)
    assert again.returncode == 0 and requests_made(server, "POST /api/v1/sync/") == grouped


def test_runs_of_many_segments_go_together_within_the_servers_frame_limit(
    server: LiveServer, key: str
):
    """70 runs of 24 small segments each: 64 such runs in one request would be 1,600
    frames, more than the server takes in one body (1,000: 413), and `sync --all` failed."""
    ids = small_runs(70, rows=5, pause=0.02)
    r = cli("sync", "--all", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for run_id in ids:
        assert on_server(server, run_id) == local_segments(run_id) != []
    assert requests_made(server, "POST /api/v1/sync/alice/p ") >= 1
    assert requests_made(server, " 413 ") == 0


def test_runs_of_a_large_segment_each_go_many_to_a_request(server: LiveServer, key: str):
    """Runs of one ~0.7 MB segment each (the 1,000-run benchmark store's shape) go up to
    8 MB to a request (sync_many.GROUP_BYTES): the project's first run alone, then the other
    seven (~5 MB) together, where 2 MB groups took a request per two of them."""
    ids = small_runs(8)
    store = Path(os.environ["FLIGHTLOG_DIR"]) / "runs/p"
    rng = np.random.default_rng(0)
    for run_id in ids:
        table = tidy_table(45_000, writer="big")
        values = pa.array(rng.random(table.num_rows))  # incompressible: ~0.7 MB a segment
        table = table.set_column(table.schema.get_field_index("value"), "value", values)
        segment_file(store / run_id / "history", table, writer="big", seq=1)
    r = cli("sync", "--all", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for run_id in ids:
        assert on_server(server, run_id) == local_segments(run_id) != []
    assert requests_made(server, "POST /api/v1/sync/alice/p ") == 2
    assert requests_made(server, "/sync ") == 0  # no run went alone


def _post(server: LiveServer, key: str, body: bytes, project: str = "p") -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/v1/sync/alice/{project}",
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": BATCH_TYPE},
        timeout=60,
    )


def _run_frame(name: str, run_id: str) -> bytes:
    doc = json.dumps({"meta": {"id": run_id}, "writers": []}).encode()
    return frame_header_raw("run", name, len(doc)) + doc


def frame_header_raw(stream: str, name: str, size: int) -> bytes:
    return json.dumps({"stream": stream, "name": name, "size": size}).encode() + b"\n"


def test_every_name_and_the_permission_are_checked_and_a_refused_run_leaves_the_others(
    server: LiveServer, key: str, tmp_path: Path
):
    good = segment_file(tmp_path / "a", tidy_table(10), seq=1)
    seg = frame_header("history", good) + good.read_bytes()
    body = (
        _run_frame("../../etc/run.json", "x")  # a path in the run id
        + seg
        + _run_frame("r1/run.json", "r1")
        + seg
        + _run_frame("r2/run.json", "not-r2")  # its metadata names another run
        + seg
        + _run_frame("r3/run.json", "r3")
        + frame_header_raw("history", "../x.parquet", good.stat().st_size)
        + good.read_bytes()
    )
    r = _post(server, key, body)
    assert r.status_code == 200, r.text
    runs = r.json()["runs"]
    assert [(a["run"], a["status"], a.get("error")) for a in runs] == [
        ("../../etc/run.json", 400, "invalid_name"),
        ("r1", 201, None),
        ("r2/run.json", 400, "invalid"),
        ("r3", 201, None),
    ]
    assert [(x["stored"], x.get("error")) for x in runs[1]["results"]] == [(True, None)]
    assert [(x["stored"], x.get("error")) for x in runs[3]["results"]] == [(False, "invalid_name")]
    assert on_server(server, "r1") == [good.name]
    assert on_server(server, "r3") == []
    assert sorted(p.name for p in (server.root / "runs/@alice/p").iterdir()) == ["r1", "r3"]
    assert not list(server.root.rglob("etc")) and list((server.root / ".uploads").iterdir()) == []
    # a body that does not begin with a run, and a project the key may not write to
    assert _post(server, key, seg).status_code == 400
    server.user("bob")
    server.accounts.ensure_project("bob", "q")
    r = httpx.post(
        f"{server.url}/api/v1/sync/bob/q",
        content=_run_frame("r9/run.json", "r9") + seg,
        headers={"Authorization": f"Bearer {key}", "Content-Type": BATCH_TYPE},
    )
    assert r.status_code == 403 and r.json()["error"] == "no_permission"
    assert not (server.root / "runs/@bob").exists()


def test_server_killed_9_mid_body_of_several_runs_then_the_client_resumes(
    server: LiveServer, key: str
):
    ids = small_runs(6)
    root = Path(os.environ["FLIGHTLOG_DIR"]) / "runs/p"
    body = b""
    for run_id in ids:
        meta = json.loads((root / run_id / "run.json").read_text())
        doc = json.dumps({"meta": meta, "writers": []}).encode()
        body += frame_header_raw("run", f"{run_id}/run.json", len(doc)) + doc
        for name in local_segments(run_id):
            path = root / run_id / "history" / name
            body += frame_header("history", path) + path.read_bytes()
    head = (
        f"POST /api/v1/sync/alice/p HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: {BATCH_TYPE}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(head + body[: len(body) * 2 // 3])
        port = s.getsockname()[1]
        wait_until(lambda: read_by_server(server.port, port), 60, "the body read so far")
        server.kill()
    assert not any(on_server(server, run_id) for run_id in ids)  # placed once all arrived
    server.start()
    r = cli("sync", "--all", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    for run_id in ids:
        assert on_server(server, run_id) == local_segments(run_id)
        rows = server_rows(server.root, "alice", "p", run_id)
        assert [row["i"] for row in rows] == list(range(120))
    assert list((server.root / ".uploads").iterdir()) == []


def _answer(s: socket.socket) -> httpx.Response:
    """The HTTP response read off a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines[1:])
    while len(body) < int(fields.get("content-length", fields.get("Content-Length", 0))):
        body += s.recv(65536)
    return httpx.Response(int(lines[0].split()[1]), content=body)


def test_a_run_frame_over_the_metadata_limit_is_read_past_not_written(
    live_server: Callable[..., LiveServer],
):
    """A run frame larger than --max-meta-mb is refused as its header arrives: its bytes are
    read past, never written to a temp file, and the runs after it land."""
    server = live_server(flags=("--max-meta-mb", "1"))
    key = server.user("alice")
    big = 3 * 2**20
    body = (
        frame_header_raw("run", "r1/run.json", big) + b" " * big + _run_frame("r2/run.json", "r2")
    )
    head = (
        f"POST /api/v1/sync/alice/p HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: {BATCH_TYPE}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    cut = 2 * 2**20
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(head + body[:cut])
        port = s.getsockname()[1]
        wait_until(lambda: read_by_server(server.port, port), 60, "the body read so far")
        assert list((server.root / ".uploads").iterdir()) == []
        s.sendall(body[cut:])
        r = _answer(s)
    assert r.status_code == 200, r.text
    runs = r.json()["runs"]
    assert [(a["run"], a["status"], a.get("error")) for a in runs] == [
        ("r1/run.json", 413, "too_large"),
        ("r2", 201, None),
    ]
    assert "run metadata of 3145728 bytes" in runs[0]["message"]
    assert sorted(p.name for p in (server.root / "runs/@alice/p").iterdir()) == ["r2"]
