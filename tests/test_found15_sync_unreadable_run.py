"""`flightlog sync --all` over a store where one run cannot be read as a run (a writer's
state file whose generation is not a number: hand-edited, or written by another program):
the whole command stopped at that run with "error: invalid literal for int()", and the
store's other runs were not shipped. The sync agent skips such a run and ships the others
(test_found15_agent_unreadable_run); the one-shot sync should too, and say which run it
skipped."""

from __future__ import annotations

from pathlib import Path

from .conftest import cli
from .servers import LiveServer, server_rows
from .test_found15_agent_unreadable_run import runs_with_one_unreadable


def test_sync_all_skips_a_run_it_cannot_read_and_ships_the_others(
    server: LiveServer, key: str, store: Path
) -> None:
    runs_with_one_unreadable(store)
    synced = cli("sync", "--all")
    assert synced.returncode == 1, synced.stdout + synced.stderr
    assert "failed: p/bad: cannot be read" in synced.stdout
    assert [r["i"] for r in server_rows(server.root, "alice", "p", "good")] == list(range(100))
