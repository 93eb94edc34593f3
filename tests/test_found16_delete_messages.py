"""A server refuses to delete a run whose writer's heartbeat is recent (sync/
run_delete_routes.py): from the server, a writer of another host is alive until its last
heartbeat is STALE_AFTER seconds old, also when its process died there (a node lost). The
refusal said "finish it (run.finish()) or stop that process" - wrong for a writer that is
dead, and no word of when the delete would go through. Now it says when the writer last
beat and when it counts as crashed (retry then)."""

from __future__ import annotations

import re
import time

import pytest

import flightlog
from flightlog._errors import ServerRejectedError
from flightlog.store.liveness import STALE_AFTER

from .servers import LiveServer

pytestmark = pytest.mark.slow


def test_a_run_whose_remote_writer_died_says_when_it_may_be_deleted(
    server: LiveServer, key: str
) -> None:
    beat = time.time() - 20  # its process died there 20 s ago, or is silent
    writer = {
        "writer": "w1", "host": "gpu-node-7", "pid": 4242, "generation": 0,
        "state": "running", "heartbeat_at": beat, "started_at": beat - 100,
    }  # fmt: skip
    with server.client(key) as c:
        c.put_run("alice", "p", "gone", {"id": "gone", "project": "p", "entity": "alice"}, [writer])
    with pytest.raises(ServerRejectedError, match="still running") as refused:
        flightlog.Api(host=server.url).run("alice/p/gone").delete()
    said = str(refused.value)
    assert "409" in said and "stop that process" not in said, said
    assert re.search(r"pid 4242 on gpu-node-7 last beat \d+ s ago", said), said
    crashed_at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(beat + STALE_AFTER))
    assert f"crashed once its heartbeat is {STALE_AFTER:.0f} s old, at {crashed_at}" in said
    assert "if that process died, retry then" in said, said
    assert (server.root / "runs/@alice/p/gone/run.json").exists()
