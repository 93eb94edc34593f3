"""A sync agent that dies as it starts is seen: `init()` warns once, `flightlog runs` and the
TUI say that pending runs have no agent.

The agent is made to die the way it did when a `./flightlog` store shadowed the package: at
import, before it takes the store's lock. A `sitecustomize` on PYTHONPATH does that to every
interpreter started as `flightlog sync --watch` (and to nothing else), so the real
`init()` really starts a real detached agent that really dies.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog
from flightlog.sync.accounts import Accounts
from flightlog.sync.lock import AgentLock
from flightlog.tui import FlightlogApp

from .conftest import cli, python_script
from .servers import free_port
from .test_tui import SIZE, settle

pytestmark = pytest.mark.slow  # each test starts agents that die: real interpreters

DIES_AT_IMPORT = """\
import os, sys
if "--watch" in sys.orig_argv:
    print("Traceback (most recent call last):", file=sys.stderr)
    print("AttributeError: module 'flightlog' has no attribute 'cli' (test)", file=sys.stderr)
    sys.stderr.flush()
    os._exit(1)
"""


@pytest.fixture
def dying_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of a signed-in script whose agent dies at import."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(DIES_AT_IMPORT)
    env = {
        "PYTHONPATH": str(site),
        "FLIGHTLOG_API_KEY": "fl_test_key",
        "FLIGHTLOG_BASE_URL": f"http://127.0.0.1:{free_port()}",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


SCRIPT = """
import threading, flightlog
for i in range(2):  # two online runs: still one warning
    run = flightlog.init(project="p", mode="online", reinit=True)
    run.log({"x": 1})
    for t in threading.enumerate():  # the agent's verdict, however slow the machine
        if t.name == "flightlog-agent-start":
            t.join(60)
    run.finish()
"""


def test_init_warns_once_when_the_agent_dies_at_start(dying_agent: dict[str, str]) -> None:
    done = python_script(SCRIPT)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("the sync agent for") == 1, done.stderr
    assert "died as it started (exit code 1)" in done.stderr
    assert "has no attribute 'cli' (test)" in done.stderr  # the agent's own last words
    assert "flightlog sync --watch" in done.stderr  # what to do


def test_runs_and_tui_say_no_agent_runs_for_pending_runs(
    dying_agent: dict[str, str], store: Path
) -> None:
    done = python_script(SCRIPT)
    assert done.returncode == 0, done.stderr
    listing = cli("runs")
    assert listing.returncode == 0, listing.stderr
    assert "no sync agent is running for this store: 2 run(s) pending" in listing.stderr
    assert f"flightlog sync --watch {store}" in listing.stderr

    lock = AgentLock(store)  # an agent (this test) holds the lock: nothing to say
    lock.acquire()
    try:
        assert "no sync agent" not in cli("runs").stderr
    finally:
        lock.release()
    Accounts(store).add_user("alice")  # a server's root: its runs came from online scripts
    assert "no sync agent" not in cli("runs").stderr


def test_offline_runs_get_no_agent_note(store: Path) -> None:
    run = flightlog.init(project="p")
    run.log({"x": 1})
    run.finish()
    assert "no sync agent" not in cli("runs").stderr


async def test_tui_status_says_no_agent_runs(dying_agent: dict[str, str], store: Path) -> None:
    done = python_script(SCRIPT)
    assert done.returncode == 0, done.stderr
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:

        def status() -> str:
            return str(app.screen.query_one("#status").render())

        await settle(pilot, lambda: "no sync agent is running" in status())
        assert "2 run(s) pending" in status()
