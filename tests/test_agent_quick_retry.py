"""The sync agent's quick retry of a request whose connection failed fast is taken at once,
and is no step of its backoff. Before, the client slept the backoff's first step
(`backoff_delay(0)`, 0.25-0.5 s) before each quick retry - every request on a link that drops
idle connections paid it - and the agent counted that as its backoff's first step, so a
server found down started the agent's backoff at the second step, whether or not a quick
retry had been taken (a timeout, a 5xx, a 507 take none).

The waits are observed by recording each call of the backoff policy (the real function is
called): which step each wait was, not how long it took."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from flightlog.sync import agent as agent_module
from flightlog.sync import client as client_module
from flightlog.sync.agent import Agent
from flightlog.sync.client import ServerClient
from flightlog.sync.credentials import Credentials

from .servers import DroppingProxy, LiveServer, wait_until
from .sync_runs import local_segments, on_server, small_runs

pytestmark = pytest.mark.slow


def _record(module: object, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The backoff steps `module` waits, in order (each call goes on to the real policy)."""
    steps: list[int] = []
    real: Callable[..., float] = module.backoff_delay  # type: ignore[attr-defined]

    def recorded(attempt: int, *args: object, **kw: object) -> float:
        steps.append(attempt)
        return real(attempt, *args, **kw)

    monkeypatch.setattr(module, "backoff_delay", recorded)
    return steps


def _agent(store: Path, url: str, key: str, lines: list[str], **kw: object) -> Agent:
    client = ServerClient(Credentials(url, key, "env"), retries=0)  # as `sync --watch`
    return Agent(store, client, log=lines.append, **kw)  # type: ignore[arg-type]


def test_a_dropped_idle_connection_is_sent_again_at_once(
    server: LiveServer, key: str, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = small_runs(3)
    quick = _record(client_module, monkeypatch)
    backoff = _record(agent_module, monkeypatch)
    proxy = DroppingProxy(server.port, budget=None, one_request=True)
    lines: list[str] = []
    agent = _agent(store, proxy.url, key, lines, idle_exit=2.0)
    thread = threading.Thread(target=agent.run, daemon=True)
    try:
        thread.start()
        wait_until(
            lambda: all(on_server(server, i) == local_segments(i) for i in ids),
            120,
            "every run on the server",
        )
        thread.join(120)
    finally:
        agent.stop.set()
        thread.join(60)
        agent.client.close()
        proxy.close()
    assert proxy.cuts >= 2, f"the proxy cut {proxy.cuts} requests"  # kept-alive ones were
    assert quick == [], f"the client waited backoff steps {quick} before its quick retries"
    assert backoff == [] and not [m for m in lines if "unreachable" in m], lines


def test_a_server_found_down_is_backed_off_from_the_first_step(
    server: LiveServer, key: str, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_runs(1)
    url = server.url
    server.stop()  # refused at once: a fast failure, quick retry taken and failed too
    quick = _record(client_module, monkeypatch)
    backoff = _record(agent_module, monkeypatch)
    lines: list[str] = []
    agent = _agent(store, url, key, lines)
    thread = threading.Thread(target=agent.run, daemon=True)
    try:
        thread.start()
        wait_until(lambda: len(backoff) >= 3, 120, "three backoff waits of the agent")
    finally:
        agent.stop.set()
        thread.join(60)
        agent.client.close()
    assert backoff[:3] == [0, 1, 2], backoff
    assert quick == [], quick
    assert [m for m in lines if "server unreachable" in m], lines
