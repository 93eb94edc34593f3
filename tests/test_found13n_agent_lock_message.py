"""Found following the README as a newcomer: after a run in online mode (which starts the
store's agent), the README's `flightlog sync --watch --poll 5 STORE` stops with "another
sync agent is already running for this store: pid N on HOST, since T (lock PATH)" and says
nothing of what to do: that the store is shipped already, or how to stop that agent to
start one with other options (`--poll` on a network filesystem). The standard: an error
names the problem and the fix."""

from __future__ import annotations

from pathlib import Path

from .conftest import cli
from .servers import LiveServer, wait_for_store_agent
from .test_sync_agent import start_agent, stop


def test_a_second_agent_says_what_to_do(server: LiveServer, key: str, store: Path) -> None:
    first = start_agent(store)
    try:
        wait_for_store_agent(store)
        r = cli("sync", "--watch", "--poll", "5", str(store), timeout=60)
        assert r.returncode == 1
        assert f"kill {first.pid}" in r.stderr, r.stderr
    finally:
        stop(first)
