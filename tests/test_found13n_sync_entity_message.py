"""Found following the README as a newcomer: `flightlog sync --all --entity nobody`, an
entity the server does not have, fails with "entity 'nobody' does not exist on URL: check
the run's entity (init(entity=...) or FLIGHTLOG_ENTITY), or ask the server's admin to create
it": the entity came from `--entity`, which the message does not name, and the user is
sent to look at their training script instead. The agent (`sync --watch --entity`) said
the same."""

from __future__ import annotations

from .conftest import cli
from .servers import LiveServer, wait_until
from .sync_runs import Lines, small_runs


def test_a_missing_entity_given_with_the_flag_is_said_to_come_from_it(
    server: LiveServer, key: str
) -> None:
    small_runs(1)
    r = cli("sync", "--all", "--entity", "nobody")
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "'nobody' does not exist" in out and "--entity" in out, out
    assert "init(entity=" not in out, out


def test_the_agent_says_the_entity_came_from_the_flag(server: LiveServer, key: str) -> None:
    small_runs(1)
    agent = Lines("sync", "--watch", "--entity", "nobody")
    try:
        wait_until(lambda: agent.having("does not exist"), 60, "the agent's refusal")
    finally:
        said = agent.stop()
    assert "'nobody' does not exist" in said and "--entity" in said, said
    assert "init(entity=" not in said, said
