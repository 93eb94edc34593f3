"""One run of the store that cannot be read as a run (a writer's state file whose generation
is not a number: hand-edited, or written by another program) made the sync agent exit with
a ValueError from its catch-up, so no other run of the store was shipped either; an agent
started by an online run is detached, and nobody saw it go. The agent now says what it
cannot read, skips that run (tried again later) and ships the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import python_script
from .servers import LiveServer, server_rows, wait_until
from .test_sync_agent import start_agent, stop

pytestmark = pytest.mark.slow

RUNS = """
    import flightlog
    for rid in ("bad", "good"):
        run = flightlog.init(project="p", id=rid, mode="offline", settings={"console": "off"})
        for i in range(100):
            run.log({"i": i})
        run.finish()
"""


def runs_with_one_unreadable(store: Path) -> None:
    """Runs p/good and p/bad logged (RUNS), then p/bad's writer states made unreadable as a
    run: a generation that is not a number."""
    done = python_script(RUNS)
    assert done.returncode == 0, done.stderr
    for state in (store / "runs/p/bad/writers").glob("*.json"):
        state.write_text(state.read_text().replace('"generation": 0', '"generation": "zero"'))


def test_the_agent_skips_a_run_it_cannot_read_and_ships_the_others(
    server: LiveServer, key: str, store: Path
) -> None:
    runs_with_one_unreadable(store)
    agent = start_agent(store)
    good = server.root / "runs/@alice/p/good/history"
    try:
        wait_until(
            lambda: list(good.glob("*.parquet")) or agent.poll() is not None, 120, "the good run"
        )
        assert agent.poll() is None, "the agent exited"
    finally:
        log = stop(agent)
    assert [r["i"] for r in server_rows(server.root, "alice", "p", "good")] == list(range(100))
    assert "p/bad" in log and "Traceback" not in log, log
