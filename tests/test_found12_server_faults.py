"""The server under faults, for real (`flightlog server` processes on 127.0.0.1)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest

from .conftest import reaped
from .servers import LiveServer, free_port, wait_for_port

pytestmark = pytest.mark.slow


def test_a_second_server_on_a_root_in_use_refuses_to_start_naming_the_first(
    live_server: Callable[..., LiveServer],
) -> None:
    """Two servers on one --root (a restart script that did not stop the old one, a second
    systemd unit): each listed only the runs it had received itself, and the second's start
    emptied the upload directory under the first's uploads under way."""
    first = live_server()
    port = free_port()
    args = ["server", "--root", str(first.root), "--port", str(port)]
    second = subprocess.Popen(
        [sys.executable, "-m", "flightlog.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with reaped(second):
        with pytest.raises(TimeoutError):  # it exits rather than serving
            wait_for_port(port, second)
        _, err = second.communicate(timeout=60)
    assert second.returncode == 1, err
    assert "another flightlog server" in err and f"pid {first.proc.pid}" in err, err
    assert "--root" in err and "Traceback" not in err, err
    assert httpx.get(f"{first.url}/healthz", timeout=30).status_code == 200  # still serving


def test_a_database_locked_by_another_process_is_a_503_to_retry_not_a_bug(
    server: LiveServer,
) -> None:
    """An admin's `sqlite3 accounts.sqlite` left in a transaction, a backup tool holding the
    write lock: every request that writes waited the 30 s busy timeout, then was answered
    500 'the server failed; its log says why', with a traceback logged as a bug."""
    import sqlite3

    key = server.user("alice")
    holder = sqlite3.connect(server.root / "accounts.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the write lock, held
    try:
        r = httpx.post(f"{server.url}/api/v1/session", json={"key": key}, timeout=120)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "database_busy" and "try again" in r.json()["message"], r.text
    assert "Traceback" not in (server.root / "server.log").read_text()
    r = httpx.post(f"{server.url}/api/v1/session", json={"key": key}, timeout=120)
    assert r.status_code == 200, r.text  # the lock gone, the same request works
