"""`--host` reads meet a server that stops answering halfway through a command (compare
resolves its runs, then reads each run's meta): every read says the reader's advice - wait
for the server - not a sync's, and the connection's health shows it down."""

from __future__ import annotations

import pytest

from flightlog._errors import ServerUnavailableError
from flightlog.cli.reads import RemoteReads

from .servers import LiveServer

pytestmark = pytest.mark.slow


def test_a_runs_meta_read_from_a_server_gone_down_says_to_read_again_later(
    server: LiveServer, key: str
):
    with server.client(key) as c:
        c.start_run("alice", "p", "r1", {"id": "r1", "project": "p", "created_at": 0.0}, [])
    reads = RemoteReads(server.url)
    try:
        row = reads.resolve("alice/p/r1")  # compare's first step: the server answers
        assert reads.meta(row["run_key"])["id"] == "r1"
        server.kill()
        with pytest.raises(ServerUnavailableError) as e:
            reads.meta(row["run_key"])  # its second: the server is gone
        said = str(e.value)
        assert "the server is not answering" in said and "read again when it is back" in said
        assert "flightlog sync" not in said  # nothing of this machine's is waiting to sync
        assert "unreachable since" in reads.reader.status.text()
    finally:
        reads.close()
