"""Every refusal is a 4xx with a JSON error and changes nothing; request bodies and headers
that stall or trickle (slow loris) are cut off by the server's timeouts."""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from flightlog.sync.client import ServerClient
from flightlog.sync.credentials import Credentials

from .servers import (
    DroppingProxy,
    LiveServer,
    answer_of,
    raw_request,
    segment_file,
    store_tree,
    tidy_table,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def server(live_server: Callable[..., LiveServer]) -> LiveServer:
    return live_server(flags=("--idle-timeout", "2", "--body-timeout", "5", "--max-meta-mb", "1"))


def _setup(server: LiveServer, tmp_path: Path) -> tuple[dict[str, str], str]:
    key = server.user("alice")
    with ServerClient(Credentials(server.url, key, "file"), retries=0) as c:
        c.put_run("alice", "p", "r1", {"id": "r1"}, [{"writer": "w1", "state": "running"}])
        assert c.put_segment(
            "alice", "p", "r1", "history", segment_file(tmp_path / "s", tidy_table(5))
        )
    return {"Authorization": f"Bearer {key}"}, f"{server.url}/api/v1/runs/alice/p/r1"


def test_every_refusal_is_a_4xx_json_error_that_changes_nothing(server: LiveServer, tmp_path: Path):
    h, run = _setup(server, tmp_path)
    buf = io.BytesIO()  # a segment of writer "www...w": its file name would be too long here
    pq.write_table(tidy_table(5, writer="w" * 300), buf)
    data = buf.getvalue()
    long_name = f"{'w' * 300}-000002-{hashlib.sha256(data).hexdigest()}.parquet"
    tree = store_tree(server.root)
    requests = [
        # a 300-character writer name, in a segment name and in a writer state
        ("PUT", f"{run}/segments/history/{long_name}", data, {}),
        ("PUT", run, json.dumps({"meta": {"id": "r1"}, "writers": [{"writer": "w" * 300}]}), {}),
        # metadata: too large, nested too deeply, too many writers, not an object
        ("PUT", run, json.dumps({"meta": {"id": "r1", "x": "y" * 2_000_000}}), {}),
        ("PUT", run, "[" * 100_000 + "]" * 100_000, {}),
        ("PUT", run, json.dumps({"meta": {"id": "r1"}, "writers": [{}] * 5000}), {}),
        ("PUT", run, json.dumps({"meta": {"id": "r1"}, "writers": [1]}), {}),
        # query parameters out of bounds or malformed
        ("GET", f"{run}/history", None, {"limit": "1000000000"}),
        ("GET", f"{run}/history", None, {"limit": "0"}),
        ("GET", f"{run}/history", None, {"limit": "many"}),
        ("GET", f"{run}/history", None, {"keys": "k" * 10_000}),
        ("GET", f"{run}/history", None, {"keys": ",".join(f"k{i}" for i in range(1000))}),
        ("GET", f"{run}/history", None, {"cursor": "bm90IGEgY3Vyc29y"}),
        ("GET", f"{run}/history", None, {"cursor": "%%%"}),
        ("GET", f"{run}/history", None, {"stream": "../etc"}),
        ("GET", f"{run}/history", None, {"format": "pickle"}),
        ("GET", f"{run}/chart", None, {"keys": "loss", "buckets": "0"}),
        ("GET", f"{run}/chart", None, {"keys": "loss", "buckets": "100000000"}),
        ("GET", f"{run}/chart", None, {"keys": "loss", "x": "bogus"}),
        ("GET", f"{run}/chart", None, {"lo": "nan-ish"}),  # every key, a bad zoom bound
        ("GET", run.rsplit("/", 1)[0], None, {"limit": "100000"}),
        ("GET", run.rsplit("/", 1)[0], None, {"after": "x" * 10_000}),
        # unknown routes and methods
        ("GET", f"{run}/nothing-here", None, {}),
        ("PATCH", run, None, {}),  # (DELETE is a route: sync/run_delete_routes.py)
    ]
    for method, url, body, params in requests:
        r = httpx.request(method, url, content=body, params=params, headers=h, timeout=60)
        what = f"{method} {url[-60:]} {str(params)[:60]}"
        assert 400 <= r.status_code < 500, (what, r.status_code, r.text[:200])
        doc = r.json()
        assert doc["error"] and doc["message"], what
        assert store_tree(server.root) == tree, what
    assert "Traceback" not in (server.root / "server.log").read_text()


def test_stalled_and_trickled_bodies_and_headers_are_cut_off(server: LiveServer, tmp_path: Path):
    h, _ = _setup(server, tmp_path)
    auth = f"Authorization: {h['Authorization']}\r\n"
    path = "/api/v1/runs/alice/p/r1/segments/history/w1-000002-" + "0" * 64 + ".parquet"
    tree = store_tree(server.root)
    head = f"PUT {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 100000\r\n\r\n"
    stalled = raw_request(server, head + "PAR1")  # then nothing
    trickled = raw_request(server, head + "PAR1")  # then a byte a second, never idle for 2 s
    headers_only = raw_request(server, f"GET /api/v1/whoami HTTP/1.1\r\nHost: x\r\n{auth}")
    meta = raw_request(
        server,
        f"PUT /api/v1/runs/alice/p/r1 HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 1000\r\n\r\n{{",
    )
    # meanwhile, everyone else is served
    with ServerClient(Credentials(server.url, h["Authorization"][7:], "file")) as c:
        assert c.whoami()["user"] == "alice"
    for s, trickle in ((stalled, False), (meta, False), (trickled, True)):
        answer = answer_of(s, trickle)
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b'"error":"body_timeout"' in answer
    assert answer_of(headers_only) == b""  # closed without a word: no request was made
    assert store_tree(server.root) == tree
    assert not list((server.root / ".uploads").iterdir())


def test_connections_beyond_the_limit_are_answered_503_not_queued(
    live_server: Callable[..., LiveServer],
):
    server = live_server(flags=("--max-connections", "4"))
    key = server.user("alice")
    idle = [raw_request(server, "GET /api/v1/whoami HTTP/1.1\r\n") for _ in range(4)]
    r = httpx.get(f"{server.url}/api/v1/whoami", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 503
    for s in idle:
        s.close()

    def served() -> bool:
        h = {"Authorization": f"Bearer {key}"}
        return httpx.get(f"{server.url}/api/v1/whoami", headers=h).status_code == 200

    end = time.monotonic() + 60
    while not served():
        assert time.monotonic() < end
        time.sleep(0.2)


def test_a_body_the_server_timed_out_is_sent_again_not_taken_for_a_refusal(
    server: LiveServer,
):
    """A 408 (the body stalled past --idle-timeout: a loaded client) is the link's problem,
    not a no: retried like a 5xx. It was a ServerRejectedError, which the sync agent
    retries only after REFUSED_RETRY (300 s) - a finished run's last state held back."""
    key = server.user("alice")
    proxy = DroppingProxy(server.port, budget=None, stall=4.0)  # the idle timeout is 2 s
    try:
        with ServerClient(Credentials(proxy.url, key, "file"), retries=2) as c:
            c.start_run("alice", "p", "r1", {"id": "r1", "project": "p"}, [])
    finally:
        proxy.close()
    log = (server.root / "server.log").read_text()
    assert "PUT /api/v1/runs/alice/p/r1 408" in log  # the first attempt was timed out
    assert json.loads((server.root / "runs/@alice/p/r1/run.json").read_text())["id"] == "r1"
