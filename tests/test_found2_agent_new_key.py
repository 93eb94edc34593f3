"""A sync agent (`flightlog sync --watch`) whose key is revoked says so, and tells the user
to run `flightlog login`. The user does, with a new key: the agent must ship again. It kept
the key it started with (read once), so it never synced another run, and logged nothing
about the runs that came after: they stayed `local` for as long as it ran (an agent started
by online mode lives on while runs train), and a second agent cannot start beside it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import cli
from .servers import LiveServer, wait_until
from .sync_runs import agent_of, local_segments, login, on_server, small_runs


def test_the_agent_ships_again_after_a_new_login(
    server: LiveServer, store: Path, tmp_path: Path
) -> None:
    log = tmp_path / "agent.log"
    with agent_of(server, "alice", store, log):
        assert cli("server", "key", "revoke", "alice", "--root", str(server.root)).returncode == 0
        (refused,) = small_runs(1)
        wait_until(lambda: "flightlog login" in log.read_text(), 60, "the agent's advice")

        login(server, server.accounts.create_key("alice"))  # as the agent said
        (after,) = small_runs(1)
        wait_until(
            lambda: on_server(server, after) == local_segments(after),
            60,
            f"the run logged after the new login on the server; the agent said:\n{log.read_text()}",
        )
        wait_until(
            lambda: on_server(server, refused) == local_segments(refused),
            60,
            "the refused run shipped too",
        )


def test_an_agent_whose_key_is_refused_still_exits_when_idle(
    server: LiveServer, store: Path, tmp_path: Path
) -> None:
    """`--idle-exit` (online mode's agent): runs held for a new login do not keep it alive
    forever on a login node; a later sync or agent sends them."""
    login(server, server.user("alice"))
    assert cli("server", "key", "revoke", "alice", "--root", str(server.root)).returncode == 0
    small_runs(1)
    agent = subprocess.run(
        [sys.executable, "-m", "flightlog.cli", "sync", "--watch", "--idle-exit", "2", str(store)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert agent.returncode == 0, agent.stderr
    assert "flightlog login" in agent.stdout and "agent exits" in agent.stdout, agent.stdout
