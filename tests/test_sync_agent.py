"""The sync agent and online mode, for real: a server subprocess, an agent subprocess,
training scripts in child processes, a server killed mid-sync, a connection-cutting proxy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flightlog.store.layout import RunPaths
from flightlog.sync.client import backoff_delay
from flightlog.sync.lock import LOCK_FILE, AgentLock

from .conftest import cli, python_script, spawn
from .servers import (
    DroppingProxy,
    LiveServer,
    server_rows,
    stop_store_agent,
    wait_for_store_agent,
    wait_until,
)

pytestmark = pytest.mark.slow


def start_agent(store: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "flightlog.cli", "sync", "--watch", str(store), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.stdout.read() if proc.stdout else ""


def server_segments(server: LiveServer, project: str = "p") -> list[Path]:
    return sorted((server.root / "runs").glob(f"@alice/{project}/*/history/*.parquet"))


def local_status(store: Path) -> str:
    r = cli("runs", "--root", str(store), "--json")
    return ",".join(run["sync"] for run in json.loads(r.stdout))


TRAIN = """
import time, flightlog
settings = {{"segment_rows": {rows}, "flush_interval": 0.01}}  # a segment per pause
run = flightlog.init(project="p", mode="offline", settings=settings)
print(run.id, flush=True)
for i in range({steps}):
    run.log({{"loss": 1.0 / (i + 1), "i": i}})
    if {pause} and i % {rows} == {rows} - 1:
        run.save()  # the writer writes these rows now: a full segment, whatever its lag
        time.sleep({pause})
run.finish()
"""


def test_backoff_is_jittered_and_capped():
    delays = [backoff_delay(a, cap=8.0) for a in range(30) for _ in range(20)]
    assert max(delays) <= 8.0 and min(delays) > 0
    assert len({round(d, 3) for d in delays}) > 100  # jitter: agents do not retry in step


@pytest.mark.slow
def test_agent_ships_a_training_run_progressively_then_marks_it_synced(
    server: LiveServer, key: str, store: Path
):
    agent = start_agent(store)
    try:
        go = store.parent / "go"  # the script ends its run only once the test says so
        script = TRAIN.format(rows=500, steps=2500, pause=0.6).replace(
            "run.finish()", f"while not os.path.exists({str(go)!r}): time.sleep(0.05)\nrun.finish()"
        )
        child = spawn(script.replace("import time,", "import os, time,"))
        run_id = child.stdout.readline().strip()
        # segments reach the server while the script still trains, before its finish()
        wait_until(lambda: len(server_segments(server)) >= 2, 60, "first segments uploaded")
        go.touch()
        assert child.wait(timeout=60) == 0, child.stderr.read()
        wait_until(lambda: local_status(store) == "synced", 60, "run marked synced")
    finally:
        log = stop(agent)
    rows = server_rows(server.root, "alice", "p", run_id)
    assert [r["i"] for r in rows] == list(range(2500)), log
    on_server = RunPaths.of(server.root, "p", run_id, "alice")
    assert json.loads((on_server.meta).read_text())["name"]
    states = [json.loads(p.read_text())["state"] for p in on_server.writers.glob("*.json")]
    assert states == ["finished"]
    assert "synced" in log


def test_a_second_agent_exits_naming_the_first(server: LiveServer, key: str, store):
    first = start_agent(store)
    try:
        wait_for_store_agent(store)
        r = cli("sync", "--watch", str(store), timeout=60)
        assert r.returncode == 1
        assert "already running" in r.stderr and f"pid {first.pid}" in r.stderr
    finally:
        stop(first)
    # the lock dies with its agent: a new one starts fine
    second = start_agent(store)
    try:
        wait_until(lambda: AgentLock(store).held_elsewhere(), 60, "second agent holds the lock")
        assert second.poll() is None
    finally:
        stop(second)


@pytest.mark.slow
def test_server_killed_mid_sync_then_restarted_every_row_once(
    server: LiveServer, key: str, store: Path
):
    r = python_script(TRAIN.format(rows=200, steps=40_000, pause=0.03))
    assert r.returncode == 0, r.stderr
    run_id = r.stdout.strip()
    total = len(list((store / "runs" / "p" / run_id / "history").glob("*.parquet")))
    # 200, one per pause: each save() has the writer write its rows (at load the writer's
    # lag once merged the flushes of a pause-only loop into 30 segments, too few here)
    assert total >= 50, total
    agent = start_agent(store)
    try:
        wait_until(lambda: len(server_segments(server)) >= 10, 60, "sync under way")
        server.kill()
        killed_at = len(server_segments(server))
        assert killed_at < total, "the sync finished before the kill: make the run bigger"
        time.sleep(3)  # the agent backs off meanwhile
        assert agent.poll() is None, "the agent died with the server"
        server.start()
        took = wait_until(lambda: local_status(store) == "synced", 60, "sync finished")
    finally:
        log = stop(agent)
    rows = server_rows(server.root, "alice", "p", run_id)
    assert [r["i"] for r in rows] == list(range(40_000)), log
    assert len(server_segments(server)) == total
    print(f"killed after {killed_at}/{total} segments; finished {took:.1f} s after restart")


@pytest.mark.slow
def test_sync_through_a_connection_cutting_proxy(server: LiveServer, store: Path):
    key = server.user("alice")
    # ~100 segments, ~400 KB: several of the proxy's 80 KB connections, so several cut ones
    # however the client batches them (6,000 steps fitted in one, and it cut only two)
    r = python_script(TRAIN.format(rows=300, steps=30_000, pause=0.03))
    assert r.returncode == 0, r.stderr
    run_id = r.stdout.strip()
    proxy = DroppingProxy(server.port, budget=4000, every=3)
    try:
        os.environ.update({"FLIGHTLOG_API_KEY": key, "FLIGHTLOG_BASE_URL": proxy.url})
        r = cli("sync", "--all", timeout=120)
    finally:
        for k in ("FLIGHTLOG_API_KEY", "FLIGHTLOG_BASE_URL"):
            os.environ.pop(k, None)
        proxy.close()
    assert r.returncode == 0, r.stdout + r.stderr
    print(f"the proxy cut {proxy.cuts} of {proxy.connections} connections")
    assert proxy.cuts >= 3, f"the proxy cut only {proxy.cuts} connections"  # batches: few requests
    rows = server_rows(server.root, "alice", "p", run_id)
    assert [r["i"] for r in rows] == list(range(30_000))
    local = list((store / "runs" / "p" / run_id / "history").glob("*.parquet"))
    assert {p.name for p in server_segments(server)} == {p.name for p in local}
    assert local_status(store) == "synced"


ONLINE = """
import socket, flightlog
connects = []
real = socket.socket.connect
def spy(self, addr):
    connects.append(addr)
    return real(self, addr)
socket.socket.connect = spy
run = flightlog.init(project="p")  # a key is configured: online by default
assert run.settings.mode == "online", run.settings.mode
for i in range(100):
    run.log({"i": i})
run.finish()
print(run.id, len(connects), flush=True)
"""


@pytest.mark.slow
def test_online_mode_starts_a_detached_agent_and_never_touches_the_network(
    server: LiveServer, key: str, store: Path
):
    try:
        r = python_script(ONLINE)
        assert r.returncode == 0, r.stderr
        run_id, connects = r.stdout.split()
        assert connects == "0", "the training process opened a connection"
        # the agent outlives the script and ships the run
        wait_until(lambda: local_status(store) == "synced", 60, "online run synced")
        assert [x["i"] for x in server_rows(server.root, "alice", "p", run_id)] == list(range(100))
        # a second script finds the agent running and starts no other
        r = python_script(ONLINE)
        assert r.returncode == 0, r.stderr
        wait_until(lambda: local_status(store) == "synced,synced", 60, "second run synced")
        log = (store / "sync-agent.log").read_text()
        assert log.count("sync agent for") == 1, log
    finally:
        stop_store_agent(store)


def test_run_url_online_is_the_runs_address_on_the_server(server: LiveServer, store: Path):
    """After `flightlog login` the run's url answers on the server (the entity is the user
    the server named at login: the training process itself asks the server nothing)."""
    import httpx

    key = server.user("alice")
    r = subprocess.run(
        [sys.executable, "-m", "flightlog.cli", "login", "--host", server.url],
        input=key,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    try:
        r = python_script(
            "import flightlog\nrun = flightlog.init(project='p')\nrun.log({'x': 1})\n"
            "print(run.settings.mode, run.url)\nrun.finish()\n"
        )
        assert r.returncode == 0, r.stderr
        mode, url = r.stdout.split()
        assert mode == "online" and url.startswith(f"{server.url}/api/v1/runs/alice/p/"), url
        wait_until(lambda: local_status(store) == "synced", 60, "online run synced")
        answer = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        assert answer.status_code == 200, answer.text
    finally:
        stop_store_agent(store)


def test_online_mode_warns_once_when_the_agent_cannot_start(
    server: LiveServer, key: str, store: Path
):
    r = python_script(
        "import sys, flightlog\n"
        "sys.executable = '/nonexistent/python'\n"
        "for _ in range(2):\n"
        "    run = flightlog.init(project='p', reinit='create_new')\n"
        "    run.log({'x': 1}); run.finish()\n"
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("could not start the sync agent") == 1, r.stderr
    assert "flightlog sync" in r.stderr
    assert local_status(store) == "pending,pending"  # kept locally, waiting for a sync


def test_online_without_a_key_says_how_to_log_in(store: Path):
    r = python_script(
        "import flightlog\nrun = flightlog.init(project='p', mode='online')\n"
        "run.log({'x': 1}); run.finish()\n",
        env={"FLIGHTLOG_SILENT": ""},
    )
    assert r.returncode == 0, r.stderr
    assert "not signed in" in r.stderr and "flightlog login" in r.stderr
    assert not (store / LOCK_FILE).exists()
    assert local_status(store) == "local"  # stored offline, as it says: nothing pending


def test_login_with_the_server_down_stores_nothing_and_says_so(tmp_path: Path):
    r = subprocess.run(
        [sys.executable, "-m", "flightlog.cli", "login", "--host", "http://127.0.0.1:9"],
        input="flk_x",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1
    assert "nothing was stored" in r.stderr and "flightlog sync" not in r.stderr, r.stderr
    assert not list((tmp_path / "config").glob("*"))


def test_segments_are_also_sealed_by_age_for_progressive_sync(store: Path):
    import flightlog

    run = flightlog.init(project="p", settings={"segment_seconds": 0.3})
    history = Path(run.dir) / "history"
    run.log({"x": 1})
    wait_until(lambda: len(list(history.glob("*.parquet"))) == 1, 60, "first segment sealed")
    run.log({"x": 2})
    wait_until(lambda: len(list(history.glob("*.parquet"))) == 2, 60, "second segment sealed")
    time.sleep(0.5)
    assert len(list(history.glob("*.parquet"))) == 2, "an empty segment was sealed"
    run.finish()
    assert [r["x"] for r in flightlog.Api(store).run(f"p/{run.id}").scan_history()] == [1, 2]
