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
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import flightlog
from flightlog._errors import ServerRejectedError
from flightlog.store.liveness import STALE_AFTER

from .servers import (
    LiveServer,
    answer_of,
    app_in_thread,
    raw_request,
    segment_file,
    tidy_table,
    wait_until,
)

pytestmark = pytest.mark.slow
PATIENCE = 120.0


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


@pytest.mark.parametrize("route", ["run", "project"])
def test_a_delete_waits_for_a_sync_request_it_comes_during(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    """A run's sync (POST .../runs/E/P/ID/sync, or POST .../sync/E/P with several runs:
    run.json and segments in one request) wrote the run's documents, then a DELETE renamed
    the run away before the segments were placed and the request committed: the sync
    failed with a 500. The request is paused after its run.json's write (a hook in the
    server's code: the app on a thread) until the DELETE has asked for the run's lock; now
    the DELETE waits for the request, then deletes."""
    from flightlog import _api_delete
    from flightlog.store import file_lock
    from flightlog.sync.accounts import Accounts
    from flightlog.sync.client import ServerClient
    from flightlog.sync.credentials import Credentials
    from flightlog.sync.receive import ReceivingStore
    from flightlog.sync.server import create_app

    root = tmp_path / "server"
    accounts = Accounts(root)
    accounts.add_user("alice")
    key = accounts.create_key("alice")
    written, deleting = threading.Event(), threading.Event()
    real_write, real_flocked = ReceivingStore.write_run, _api_delete.flocked

    def write_then_wait(self: ReceivingStore, *args: Any, **kw: Any) -> bool:
        new = real_write(self, *args, **kw)
        if kw.get("commit") is not None:  # the sync's (the first PUT commits its own)
            written.set()
            assert deleting.wait(PATIENCE), "the DELETE never asked for the run's lock"
        return new

    def flocked_noted(*args: Any, **kw: Any) -> Any:
        deleting.set()
        return real_flocked(*args, **kw)

    monkeypatch.setattr(file_lock, "LOCK_WAIT", PATIENCE)  # the DELETE waits as long as needed
    monkeypatch.setattr(ReceivingStore, "write_run", write_then_wait)
    monkeypatch.setattr(_api_delete, "flocked", flocked_noted)
    beat = time.time()
    writer = {"writer": "w1", "host": "gpu-node-7", "pid": 4242, "state": "finished",
              "heartbeat_at": beat, "started_at": beat}  # fmt: skip
    doc = {"meta": {"id": "r1", "project": "p", "entity": "alice"}, "writers": [writer]}
    seg = segment_file(tmp_path / "seg", tidy_table(10))
    synced: dict[str, Any] = {}
    with app_in_thread(create_app(root)) as port:
        client = ServerClient(Credentials(f"http://127.0.0.1:{port}", key, "file"), retries=0)
        with client:
            client.put_run("alice", "p", "r1", doc["meta"], [writer])

            def sync() -> None:
                items = [("history", seg)]
                try:
                    if route == "run":
                        synced["answer"] = client.sync_run("alice", "p", "r1", doc, items)
                    else:
                        (synced["answer"],) = client.sync_runs("alice", "p", [("r1", doc, items)])
                except Exception as e:  # what the test reports
                    synced["error"] = e

            syncing = threading.Thread(target=sync)
            syncing.start()
            assert written.wait(PATIENCE), "the sync never wrote the run"
            deleted = httpx.delete(
                f"http://127.0.0.1:{port}/api/v1/runs/alice/p/r1",
                headers={"Authorization": f"Bearer {key}"},
                timeout=PATIENCE,
            )
            syncing.join(PATIENCE)
    assert "error" not in synced, synced
    assert synced["answer"]["results"][0]["stored"], synced
    assert deleted.status_code == 200, deleted.text
    assert not (root / "runs/@alice/p/r1").exists()
