"""What `flightlog sync` says while it works when its output is not a terminal (a Slurm job's
log, nohup.out): plain lines, and a line while the server keeps it waiting. Before, a sync
to a hung server printed nothing off a terminal for five attempts of ~30-60 s each, then a
summary: a user watching the job's log saw nothing for minutes."""

from __future__ import annotations

import os
import re
import signal

import pytest

from flightlog.store.text import CONTROL

from .servers import LiveServer, wait_until
from .sync_runs import Lines, small_runs

pytestmark = pytest.mark.slow


def assert_plain(output: str) -> None:
    """Lines a log file shows as they are: no escape sequences, no carriage returns."""
    assert "\r" not in output, repr(output)
    for line in output.splitlines():
        assert not CONTROL.search(line), repr(line)


def test_sync_to_a_hung_server_says_what_it_waits_for(server: LiveServer, key: str) -> None:
    small_runs(1)
    os.kill(server.pid, signal.SIGSTOP)  # accepts connections (the kernel does), answers none
    try:
        sync = Lines("sync", "--all")
        wait_until(lambda: sync.having("waiting for"), 90, "a line saying the sync waits")
    finally:
        os.kill(server.pid, signal.SIGCONT)
    output = sync.finish(timeout=240)
    assert sync.proc.returncode == 0, output
    (waiting, *_) = sync.having("waiting for")
    assert server.url in waiting, waiting  # which server
    assert re.search(r"no answer for \d+ s to GET /api/v1/", waiting), waiting  # how long
    assert "attempt 1 of 5" in waiting and "then 4 more attempt(s)" in waiting, waiting
    assert "nothing is lost" in waiting, waiting
    assert sync.having("flightlog: syncing 1 run(s)"), output  # said at once, not at the end
    assert sync.having(f"synced 1 run(s) to {server.url}"), output
    assert_plain(output)


def test_sync_off_a_terminal_prints_plain_lines(server: LiveServer, key: str) -> None:
    small_runs(2)
    sync = Lines("sync", "--all")
    output = sync.finish(timeout=120)
    assert sync.proc.returncode == 0, output
    first, *_, last = output.splitlines()
    assert first.startswith("flightlog: syncing 2 run(s), ") and server.url in first, output
    assert last.startswith(f"synced 2 run(s) to {server.url}: "), output
    assert not sync.having("waiting for"), output  # the server answered at once
    assert_plain(output)


def test_login_to_a_hung_server_says_what_it_waits_for(server: LiveServer) -> None:
    key = server.user("alice")
    os.kill(server.pid, signal.SIGSTOP)
    try:
        login = Lines("login", key, "--host", server.url)
        wait_until(lambda: login.having("waiting for"), 90, "a line saying login waits")
    finally:
        os.kill(server.pid, signal.SIGCONT)
    output = login.finish(timeout=120)
    assert login.proc.returncode == 0, output
    (waiting,) = login.having("waiting for")
    assert server.url in waiting and "GET /api/v1/whoami" in waiting, waiting
    assert "attempt 1 of 2" in waiting and "then 1 more attempt(s)" in waiting, waiting
    assert "the key is stored once the server answers" in waiting, waiting
    assert login.having(f"logged in to {server.url} as alice"), output
    assert_plain(output)
