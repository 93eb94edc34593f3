"""Found following the README as a newcomer: `flightlog logout` "forgets the stored key",
but the store's sync agent (started by an online run, it lives on 10 minutes idle) keeps
the key it read and goes on uploading: runs made after the logout, offline ones included
(init() no longer finds a key), land on the server under the logged-out user. The agent now
exits, saying why; its lock free, the next login's online run starts a new one."""

from __future__ import annotations

from pathlib import Path

from flightlog.sync.lock import AgentLock

from .conftest import cli
from .servers import LiveServer, wait_until
from .sync_runs import agent_of, local_segments, login, on_server, small_runs


def test_after_logout_the_agent_uploads_nothing_more(
    server: LiveServer, store: Path, tmp_path: Path
) -> None:
    log = tmp_path / "agent.log"
    with agent_of(server, "alice", store, log) as agent:
        assert cli("logout", "--host", server.url).returncode == 0
        (after,) = small_runs(1)
        wait_until(
            lambda: agent.poll() is not None or after in log.read_text(),
            60,
            "the agent exited or said what it did with the run made after the logout",
        )
        assert not on_server(server, after), log.read_text()
        agent.wait(timeout=60)
        said = log.read_text()
        assert "logged out of" in said and "agent exits" in said, said
        assert not AgentLock(store).held_elsewhere()


def test_a_new_login_is_taken_at_once(server: LiveServer, store: Path, tmp_path: Path) -> None:
    """A `flightlog login` with another user's key, with no logout between: the runs made
    after it go as that user (the agent used to ship them with the key it started with)."""
    log = tmp_path / "agent.log"
    with agent_of(server, "alice", store, log):
        login(server, server.user("bob"))
        (after,) = small_runs(1)
        bobs = server.root / "runs/@bob/p" / after / "history"
        wait_until(
            lambda: sorted(p.name for p in bobs.glob("*.parquet")) == local_segments(after),
            60,
            f"the run made after bob's login on the server as bob's; the agent said:\n"
            f"{log.read_text()}",
        )
        assert not on_server(server, after)  # nothing of it under alice
