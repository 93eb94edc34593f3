"""Small offline runs of project "p" for the sync tests, and where their segments are: in
the local store and on a test server (uploaded by `flightlog sync --all`, which a test may
have the server killed under); a `flightlog` subprocess whose lines are read as they come;
a login, and a sync agent started after one."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .conftest import python_script, reaped
from .servers import LiveServer, wait_until

RUNS = """
import time, flightlog
for i in range({runs}):
    settings = {{"segment_rows": {rows}, "flush_interval": 0.01}}
    run = flightlog.init(project="p", mode="offline", settings=settings)
    for s in range(120):
        run.log({{"i": s, "r": i}})
        if s % {rows} == {rows} - 1:
            time.sleep({pause})  # a segment per pause
    run.finish()
    print(run.id, flush=True)
"""


def small_runs(n: int, rows: int = 50, pause: float = 0) -> list[str]:
    r = python_script(RUNS.format(runs=n, rows=rows, pause=pause), timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def local_segments(run_id: str) -> list[str]:
    d = Path(os.environ["FLIGHTLOG_DIR"]) / "runs/p" / run_id / "history"
    return sorted(p.name for p in d.glob("*.parquet"))


def on_server(server: LiveServer, run_id: str) -> list[str]:
    return sorted(p.name for p in server.root.glob(f"runs/@alice/p/{run_id}/history/*.parquet"))


def sync_until_killed(server: LiveServer, ready: Callable[[], object]) -> tuple[int, str]:
    """`flightlog sync --all` in a real subprocess, the server killed -9 once `ready()`:
    the sync's exit code and output."""
    sync = subprocess.Popen(
        [sys.executable, "-m", "flightlog.cli", "sync", "--all"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    with reaped(sync):
        wait_until(ready, 240, "the upload under way")
        server.kill()
        out, _ = sync.communicate(timeout=240)
    return sync.returncode, out


class Lines:
    """`flightlog ARGS` in a subprocess (stdout a pipe, stderr with it), its lines read as
    they come."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flightlog.cli", *args],
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def having(self, text: str) -> list[str]:
        return [line for line in list(self.lines) if text in line]

    def finish(self, timeout: float) -> str:
        """Wait for the exit (killed if it does not come: never left running); everything
        it printed."""
        with reaped(self.proc):
            self.proc.wait(timeout=timeout)
        self._thread.join(timeout)
        return "\n".join(self.lines)

    def stop(self) -> str:
        """SIGTERM (an agent stops so), then `finish`."""
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.finish(timeout=30)


def login(server: LiveServer, key: str) -> None:
    """`flightlog login --host` the server with `key`, typed at its prompt."""
    r = subprocess.run(
        [sys.executable, "-m", "flightlog.cli", "login", "--host", server.url],
        input=key + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr


@contextmanager
def agent_of(server: LiveServer, user: str, store: Path, log: Path) -> Iterator[subprocess.Popen]:
    """`flightlog sync --watch` of `store`, started after a login as `user`, its output in
    `log`: stopped on the way out."""
    login(server, server.user(user))
    store.mkdir()
    with open(log, "w") as out:
        agent = subprocess.Popen(
            [sys.executable, "-m", "flightlog.cli", "sync", "--watch", str(store)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: "sync agent for" in log.read_text(), 60, "the agent started")
        yield agent
    finally:
        agent.terminate()
        agent.wait(timeout=30)
