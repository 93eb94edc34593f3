"""The team's server restarted on another port (or moved to another address), and the user
runs `flightlog login` to it. The store's sync agent, started by an earlier online run with
that file's login, kept shipping to the old address: backing off forever, it held the
store's lock, so the next online run started no agent, and its rows never reached the
server. The agent follows the stored login to its new server now, as a new agent would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import python_script
from .servers import LiveServer, stop_store_agent, wait_until
from .sync_runs import login

pytestmark = pytest.mark.slow

ONLINE = """
    import flightlog
    run = flightlog.init(project="p", mode="online", settings={"console": "off"})
    for i in range(100):
        run.log({"i": i})
    run.finish()
    print(run.id)
"""


def _online_run() -> str:
    done = python_script(ONLINE)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_runs_reach_the_server_after_it_moved_and_the_user_logged_in_there(
    live_server: Callable[..., LiveServer], store: Path, tmp_path: Path
) -> None:
    old = live_server(root=tmp_path / "server")
    key = old.user("alice")
    login(old, key)
    try:
        first = _online_run()
        on_old = old.root / "runs/@alice/p" / first / "history"
        wait_until(lambda: list(on_old.glob("*.parquet")), 60, "the first run on the server")
        old.stop()
        moved = live_server(root=tmp_path / "server")  # the same server, another port
        login(moved, key)
        second = _online_run()
        there = moved.root / "runs/@alice/p" / second / "history"
        log = store / "sync-agent.log"
        wait_until(lambda: list(there.glob("*.parquet")), 60, f"the second run:\n{log.read_text()}")
    finally:
        stop_store_agent(store)
