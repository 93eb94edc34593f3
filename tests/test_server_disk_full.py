"""A full disk on the server: each refused upload is a 507 with a JSON error that leaves
nothing behind, `flightlog sync` reports it as such and counts the segments the server did
confirm, and syncing again once there is space sends exactly the rest.

The disk is a real 2 MB tmpfs mounted as the server's root, which needs root (CAP_SYS_ADMIN);
elsewhere the test is skipped."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import cli, python_script
from .servers import LiveServer

pytestmark = pytest.mark.slow


def _mount(path: Path, size: str, remount: bool = False) -> bool:
    opts = f"remount,size={size}" if remount else f"size={size}"
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True
    )
    return r.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path):
    root = tmp_path / "server"
    root.mkdir()
    if os.geteuid() != 0 or not _mount(root, "2m"):
        pytest.skip("mounting a tmpfs needs root")
    yield root
    subprocess.run(["umount", "-l", str(root)], check=False)


def _sync(server: LiveServer, key: str) -> tuple[int, str]:
    env = {**server.env(key)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        r = cli("sync", "--all", timeout=300)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return r.returncode, r.stdout + r.stderr


def _make_runs(runs: int = 1, rows: int = 1_200_000) -> list[Path]:
    """Local runs of random values (they do not compress: ~10 bytes a row), history only;
    their sealed segments."""
    r = python_script(
        "import numpy as np, flightlog\n"
        "settings = {'segment_rows': 20_000, 'stats_interval': 0}  # history only\n"
        "rng = np.random.default_rng(0)\n"
        f"for _ in range({runs}):\n"
        "    run = flightlog.init(project='p', settings=settings)\n"
        f"    for i, x in enumerate(rng.random({rows})):\n"
        "        run.log({'x': float(x)})\n"
        "        if i % 20_000 == 19_999:\n"
        "            run._writer.flush()  # a full segment each time, whatever the machine's pace\n"
        "    run.finish()\n",
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    # a loop that outran the writer thread leaves its last rows in the journal at finish():
    # seal them now, so the segments counted here are all the sync will send
    assert cli("doctor", "--repair").returncode == 0
    return list(Path("store/runs/p").glob("*/history/*.parquet"))


def _make_run() -> list[Path]:
    """One local run of about 6 MB of sealed segments: three times the server's disk."""
    local = _make_runs()
    assert len(local) >= 10 and sum(p.stat().st_size for p in local) > 4_000_000
    return local


def _on_server(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "runs").glob("@alice/p/*/history/*.parquet"))


def test_a_full_disk_is_a_507_that_sync_reports_and_resumes_from(small_disk: Path):
    local = _make_run()
    total = len(local)
    server = LiveServer(small_disk).start()
    try:
        key = server.user("alice")
        rc, out = _sync(server, key)
        stored = list((small_disk / "runs").glob("@alice/p/*/history/*.parquet"))
        assert rc == 1, out
        assert "out of disk space (HTTP 507)" in out and "nothing was lost" in out, out
        assert "Traceback" not in out
        assert 0 < len(stored) < total
        assert f"{len(stored)} segment(s) sent" in out, out  # what the server confirmed
        assert f"{len(stored)} segment(s) stored before" in out
        assert not list((small_disk / ".uploads").iterdir()), "a refused upload left a file"
        log = (small_disk / "server.log").read_text()
        assert "disk full" in log
        # space again: the next sync sends exactly the rest
        assert _mount(small_disk, "64m", remount=True)
        rc, out = _sync(server, key)
        assert rc == 0, out
        assert re.search(rf"\b{total - len(stored)} segment\(s\) sent", out), out
        assert _on_server(small_disk) == sorted(p.name for p in local)
    finally:
        server.stop()


def test_the_sync_agent_backs_off_on_a_full_disk_and_ships_the_rest_later(
    small_disk: Path, tmp_path: Path
):
    local = _make_run()
    server = LiveServer(small_disk).start()
    agent_log = tmp_path / "agent.log"
    try:
        agent = _agent(server, server.user("alice"), agent_log)
        try:
            _wait(lambda: "HTTP 507" in agent_log.read_text(), "the agent meets the full disk")
            assert 0 < len(_on_server(small_disk)) < len(local)
            assert _mount(small_disk, "64m", remount=True)
            want = sorted(p.name for p in local)
            _wait(lambda: _on_server(small_disk) == want, "the agent ships the rest")
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=30)
        assert "Traceback" not in agent_log.read_text()
    finally:
        server.stop()


def test_the_agent_says_when_a_server_it_could_not_reach_is_back_with_a_full_disk(
    small_disk: Path, tmp_path: Path
):
    """The agent says a failure once, not at every retry, but again when its cause changes:
    a server back from a restart with its disk full is out of space, no longer unreachable
    (it went on saying unreachable, the cause of the first failure, as long as it failed)."""
    _make_run()
    server = LiveServer(small_disk).start()
    agent_log = tmp_path / "agent.log"
    try:
        key = server.user("alice")
        server.stop()
        agent = _agent(server, key, agent_log)
        try:
            _wait(lambda: "server unreachable" in agent_log.read_text(), "the agent fails")
            server.start()
            _wait(lambda: "HTTP 507" in agent_log.read_text(), "the agent meets the full disk")
        finally:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=30)
        said = agent_log.read_text()
        assert said.count("server unreachable") == 1 and said.count("HTTP 507") == 1, said
    finally:
        server.stop()


def _agent(server: LiveServer, key: str, log: Path) -> subprocess.Popen[bytes]:
    """`flightlog sync --watch store` for `server`, its output into `log`."""
    with open(log, "w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flightlog.cli", "sync", "--watch", "store"],
            env={**os.environ, **server.env(key)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait(cond: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"timed out waiting until {what}"
        time.sleep(0.2)


def test_a_grouped_sync_on_a_full_disk_names_the_problem_and_the_fix(small_disk: Path):
    """Small runs of a project go several to a request (sync/sync_many.py): each run the
    full disk refused, and each not tried after it, says the server is out of space and
    what to do - free space on it, then sync again - not only "later"."""
    _make_runs(runs=30, rows=8000)
    server = LiveServer(small_disk).start()
    try:
        rc, out = _sync(server, server.user("alice"))
    finally:
        server.stop()
    failed = [line for line in out.splitlines() if line.strip().startswith("failed:")]
    assert rc == 1 and failed, out  # 30 runs of ~100 KB each: 2 MB takes some, not all
    for line in failed:
        assert "out of disk space" in line, out
        assert "free space on" in line and "flightlog sync" in line, out


def test_a_database_write_on_a_full_disk_is_a_507_too(small_disk: Path):
    """The server's SQLite (sessions, blobs) says "database or disk is full", not ENOSPC:
    still the 507 a client reads as "out of disk space" (it was a 500, "the server failed",
    also for a grouped sync whose runs' files the blob table records)."""
    import httpx

    server = LiveServer(small_disk).start()
    try:
        key = server.user("alice")
        try:
            with open(small_disk / "filler", "wb") as f:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
        except OSError:
            pass  # the disk is full
        r = httpx.post(f"{server.url}/api/v1/session", json={"key": key}, timeout=60)
        assert r.status_code == 507, r.text
        assert r.json()["error"] == "insufficient_storage"
        assert "disk is full" in r.json()["message"]
    finally:
        server.stop()
