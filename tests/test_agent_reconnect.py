"""A link that drops idle connections (a NAT or firewall timeout between a cluster and its
server) fails the next request on the agent's kept-alive connection: the server is up, only
that connection is gone. The agent sends such a request once more at once, on a new
connection; before (no retries at all) it logged "server unreachable" and backed off,
every other request, for a server that answered all along."""

from __future__ import annotations

from pathlib import Path

import pytest

from .servers import DroppingProxy, LiveServer, wait_until
from .sync_runs import Lines, local_segments, on_server, small_runs

pytestmark = pytest.mark.slow


def test_the_agent_takes_a_dropped_connection_in_its_stride(
    server: LiveServer, store: Path
) -> None:
    key = server.user("alice")
    ids = small_runs(3)
    proxy = DroppingProxy(server.port, budget=None, one_request=True)
    env = {"FLIGHTLOG_BASE_URL": proxy.url, "FLIGHTLOG_API_KEY": key}
    agent = Lines("sync", "--watch", str(store), env=env)
    try:
        wait_until(
            lambda: all(on_server(server, i) == local_segments(i) for i in ids),
            120,
            "every run on the server",
        )
        wait_until(lambda: len(agent.having(": synced")) == 3, 60, "the agent to say so")
    finally:
        log = agent.stop()
        proxy.close()
        print(log)  # pytest shows it when the test fails
    assert proxy.cuts >= 2, f"the proxy cut {proxy.cuts} requests"  # kept-alive ones were
    assert "unreachable" not in log and "backoff" not in log, log
