"""Deleting a run on a server (sync/run_delete_routes.py), through a real server.

- A run whose writer is on another host is taken for alive until that writer's last
  heartbeat is STALE_AFTER seconds old, also when its process died there (a node lost).
  The refusal said "finish it (run.finish()) or stop that process" - wrong for a writer
  that is dead, and no word of when the delete would go through. Now it says when the
  writer last beat and when it counts as crashed (retry then).
- A segment upload and a DELETE of its run (sync/upload_hold.py). The upload route checks
  the run exists when the request arrives, reads the body, then places the segment: a
  DELETE in between renamed the run's directory away, and the upload went on into it -
  answered 500 "the server failed to read or write its store: No such file or directory",
  which a client retries as a server fault. Now the placing holds the run's lock shared (a
  DELETE holds it exclusive) and finds the run gone: 404 run_not_found, what a client acts
  on (send the run's metadata again), nothing written and no directory made. The window is
  held open by the client itself: all of the body but its last byte sent, and the server's
  temp file for it there (so the route is past its check), before the DELETE."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

import flightlog
from flightlog._errors import ServerRejectedError
from flightlog.store.liveness import STALE_AFTER

from .servers import LiveServer, answer_of, raw_request, segment_file, tidy_table, wait_until

pytestmark = pytest.mark.slow


def _put_run(server: LiveServer, key: str, run_id: str, state: str, beat: float) -> None:
    """Run `run_id` of alice/p on the server, its one writer on host gpu-node-7 in `state`,
    last beating at `beat`."""
    writer = {
        "writer": "w1", "host": "gpu-node-7", "pid": 4242, "generation": 0,
        "state": state, "heartbeat_at": beat, "started_at": beat - 100,
    }  # fmt: skip
    meta = {"id": run_id, "project": "p", "entity": "alice"}
    with server.client(key) as c:
        c.put_run("alice", "p", run_id, meta, [writer])


def test_a_run_whose_remote_writer_died_says_when_it_may_be_deleted(
    server: LiveServer, key: str
) -> None:
    beat = time.time() - 20  # its process died there 20 s ago, or is silent
    _put_run(server, key, "gone", "running", beat)
    with pytest.raises(ServerRejectedError, match="still running") as refused:
        flightlog.Api(host=server.url).run("alice/p/gone").delete()
    said = str(refused.value)
    assert "409" in said and "stop that process" not in said, said
    assert re.search(r"pid 4242 on gpu-node-7 last beat \d+ s ago", said), said
    crashed_at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(beat + STALE_AFTER))
    assert f"crashed once its heartbeat is {STALE_AFTER:.0f} s old, at {crashed_at}" in said
    assert "if that process died, retry then" in said, said
    assert (server.root / "runs/@alice/p/gone/run.json").exists()


def test_a_segment_arriving_while_its_run_is_deleted_is_404_and_writes_nothing(
    server: LiveServer, key: str, tmp_path: Path
) -> None:
    _put_run(server, key, "r1", "finished", time.time())
    body = (seg := segment_file(tmp_path / "seg", tidy_table(10))).read_bytes()
    uploads = server.root / ".uploads"
    head = (
        f"PUT /api/v1/runs/alice/p/r1/segments/history/{seg.name} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    with raw_request(server, head) as s:
        s.sendall(body[:-1])
        wait_until(lambda: any(uploads.iterdir()), 60, "the server to take the body in")
        deleted = httpx.delete(
            f"{server.url}/api/v1/runs/alice/p/r1",
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
        assert deleted.status_code == 200, deleted.text
        s.sendall(body[-1:])
        answer = answer_of(s).decode()
    assert answer.startswith("HTTP/1.1 404"), answer
    assert '"run_not_found"' in answer and "send its metadata first" in answer, answer
    assert not (server.root / "runs/@alice/p/r1").exists()
    wait_until(lambda: not any(uploads.iterdir()), 60, "the upload's temp file removed")
