"""The browser view following a running run until it finishes, whatever a refresh meets on
the way: a refresh the connection breaks mid-answer, and the server calling the run crashed
for a moment before its final state arrives (a server on the training host sees the script's
pid gone before the agent's last sync). A real server whose run documents the test writes as
an agent would, and a headless Chromium."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from flightlog.store.liveness import HOSTNAME
from flightlog.sync.client import ServerClient

from .browser import (
    browser_fixture,  # noqa: F401 (the `browser` fixture)
    login,
    needs_chromium,
    open_hash,
    text_of,
)
from .servers import LiveServer

pytestmark = [pytest.mark.slow, needs_chromium]

WAIT = 90.0  # the page refreshes every 10 s, retries every 5 s: several rounds on a loaded machine
META = {"id": "r1", "name": "followed", "project": "live", "config": {}}


def wait_page(browser: Any, what: str, css: str) -> str:
    """The text of `css` once the page shows it; else fail saying what the page showed."""
    end = time.monotonic() + WAIT
    while time.monotonic() < end:
        got = text_of(browser, css)
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(
        f"not within {WAIT} s: {what}\npage: {text_of(browser, 'main')[:400]!r}\n"
        f"status: {text_of(browser, '#status')!r}"
    )


def send_state(client: ServerClient, state: str, pid: int) -> None:
    """The run's writer state, as the agent sends it: on this host, with its pid."""
    now = time.time()
    writer = {"writer": "w1", "host": HOSTNAME, "pid": pid, "generation": 0,
              "started_at": now - 5, "heartbeat_at": now, "state": state, "error": None,
              "step": 3, "rows": 3, "summary": {"loss": 0.5}}  # fmt: skip
    if state != "running":
        writer["finished_at"] = now
    client.start_run("alice", "live", "r1", META, [writer])


@pytest.fixture
def followed(server: LiveServer, browser: Any) -> Iterator[tuple[Any, ServerClient, Any]]:
    """A server with a running run (its writer: a live process here), open in the browser."""
    script = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        key = server.user("alice")
        client = server.client(key)
        send_state(client, "running", script.pid)
        login(browser, server.url, key)
        open_hash(browser, server.url, "#/r/alice/live/r1")
        assert text_of(browser, "h2.state-running")
        assert "refreshing" in text_of(browser, "#status")
        yield browser, client, script
    finally:
        script.kill()
        script.wait()


def test_the_page_keeps_refreshing_after_a_refresh_cut_mid_answer(followed):
    browser, client, script = followed
    # the next answer about the run breaks off mid-body, as a dropped connection does: the
    # browser's fetch resolved, reading its body fails (a TypeError, no HTTP status)
    browser.execute_script("""
        const real = window.fetch;
        window.fetch = async (url, init) => {
          const response = await real(url, init);
          if (!String(url).endsWith("/runs/alice/live/r1")) return response;
          window.fetch = real;
          const cut = new ReadableStream({ start(c) { c.error(new TypeError("network error")); } });
          return new Response(cut, { status: 200, headers: response.headers });
        };
    """)
    wait_page(browser, "the broken refresh on the status line", "#status.error")
    send_state(client, "finished", script.pid)
    wait_page(browser, "the page showing the run finished", "h2.state-finished")
    assert "refreshing" not in text_of(browser, "#status")


def test_the_page_follows_a_run_that_looks_crashed_until_its_final_state_arrives(followed):
    browser, client, script = followed
    script.kill()  # the training script exits; its final state is not on the server yet
    script.wait()
    wait_page(browser, "the run shown crashed (its pid is gone)", "h2.state-crashed")
    # the status line comes once the page is drawn: its final state may be on its way
    assert "refreshing" in wait_page(browser, "the status line", "#status")
    send_state(client, "finished", script.pid)
    wait_page(browser, "the page showing the run finished", "h2.state-finished")
    assert "refreshing" not in text_of(browser, "#status")
