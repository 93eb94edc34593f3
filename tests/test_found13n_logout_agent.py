"""Found following the README as a newcomer: `flightlog logout` "forgets the stored key",
but the store's sync agent (started by an online run, it lives on 10 minutes idle) keeps
the key it read and goes on uploading: runs made after the logout, offline ones included
(init() no longer finds a key), land on the server under the logged-out user."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import cli
from .servers import LiveServer, wait_until
from .sync_runs import on_server, small_runs
from .test_found2_agent_new_key import login


@pytest.mark.xfail(
    strict=True,
    reason="after `flightlog logout` a running agent keeps its key and uploads runs made later",
)
def test_after_logout_the_agent_uploads_nothing_more(
    server: LiveServer, store: Path, tmp_path: Path
) -> None:
    login(server, server.user("alice"))
    store.mkdir()
    log = tmp_path / "agent.log"
    with open(log, "w") as out:
        agent = subprocess.Popen(
            [sys.executable, "-m", "flightlog.cli", "sync", "--watch", str(store)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: "sync agent for" in log.read_text(), 60, "the agent started")
        assert cli("logout", "--host", server.url).returncode == 0
        (after,) = small_runs(1)
        wait_until(
            lambda: agent.poll() is not None or after in log.read_text(),
            60,
            "the agent exited or said what it did with the run made after the logout",
        )
        assert not on_server(server, after), log.read_text()
    finally:
        agent.terminate()
        agent.wait(timeout=30)
