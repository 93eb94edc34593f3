"""Shared fixtures: every test gets its own store and a clean `flightlog.run`; a real
server (tests/servers.py) and a machine signed in to it, for the tests that sync."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import flightlog
from flightlog import _hooks, _state
from flightlog.store import RunPaths, StoredRun
from flightlog.store.takeover import recover_journals, writers_by_id
from flightlog.store.threads import join_unwaited

if TYPE_CHECKING:
    from .servers import LiveServer


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C as a terminal gives it, to this process and the children the tests start: a
    suite started in the background (`pytest &` in a script, nohup) inherits SIGINT
    ignored, children inherit that in turn and Python then raises no KeyboardInterrupt, so
    a test sending SIGINT to a training script waited 180 s for it, in every such suite."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` (pyproject addopts): one worker more than cores, at most 8. Most tests wait
    on child interpreters, servers and flushes, so one extra worker fills the gaps; more
    only queue for the CPU. Full suite on this 2-core machine (shared, load 3-12), seconds:
    serial 457; 2 workers 264/154/131/177; 3 workers 129/116/133; 4 workers 207/193/175/159.
    PYTEST_XDIST_AUTO_NUM_WORKERS still decides when set; `-n 0` runs in one process."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    return min((os.cpu_count() or 1) + 1, 8)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh store in FLIGHTLOG_DIR, no FLIGHTLOG_/WANDB_ variables leaking in."""
    for k in list(os.environ):
        if k.startswith(("FLIGHTLOG_", "WANDB_")):
            monkeypatch.delenv(k)
    monkeypatch.setenv("FLIGHTLOG_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("FLIGHTLOG_SILENT", "1")
    monkeypatch.setenv("FLIGHTLOG_CONFIG_DIR", str(tmp_path / "config"))  # no real logins
    monkeypatch.setenv("FLIGHTLOG_CACHE_DIR", str(tmp_path / "cache"))  # no real blob cache
    monkeypatch.chdir(tmp_path)
    yield
    for run in _hooks.live_runs():
        run.finish(quiet=True)
    join_unwaited()  # the writer threads' last seals: none runs on into the next test
    _state._current = None


def settled(run: flightlog.Run | None = None) -> None:
    """Wait for what the writer threads do after finish() returned (write and seal the last
    rows, remove the journals and the sealed segment's IPC file); with `run`, also seal the
    backlog a finished run leaves in its journal, as the agent or `doctor --repair` would:
    its history is then sealed segments."""
    join_unwaited()
    if run is not None:
        paths = RunPaths(Path(run.dir))
        stored = StoredRun.load(paths)
        assert stored is not None
        recover_journals(paths, writers_by_id(stored.writers))


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def api(store: Path) -> flightlog.Api:
    return flightlog.Api(store)


def python_script(
    code: str, *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `code` in a real child interpreter with the test's environment (+ `env`). The
    timeout only ends a hang: a 40,000-step script took over 60 s in two suites at once on
    2 cores (load 25)."""
    join_unwaited()  # it sees the runs this process finished sealed, as after its exit
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def spawn(
    code: str, *, env: dict[str, str] | None = None, cwd: Path | None = None, **kw
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        # a child that hangs dumps every thread's stack on SIGABRT (see test_signals._ended)
        env={"PYTHONFAULTHANDLER": "1", **os.environ, **(env or {})},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


@contextmanager
def reaped(proc: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """`proc`, killed and reaped on the way out if it still runs (a test that failed or a
    wait that timed out never leaves it running)."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


SAMPLES = Path(__file__).resolve().parents[1] / "sample_runs"


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """A private copy of the committed sample store (tests must not touch the repo's)."""
    import shutil

    dst = tmp_path / "samples"
    shutil.copytree(SAMPLES / "runs", dst / "runs")
    return dst


@pytest.fixture
def sample_cwd(samples: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Stable text for snapshots: UTC times, a relative store path (the TUI snapshots)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.chdir(samples.parent)
    yield Path("samples")
    monkeypatch.delenv("TZ")
    time.tzset()


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The `flightlog` command in a real subprocess."""
    join_unwaited()  # it sees the runs this process finished sealed, as after its exit
    return subprocess.run(
        [sys.executable, "-m", "flightlog.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start real servers - `live_server(root=tmp_path/"server", **LiveServer options)` -
    each stopped after the test (stopping one earlier is fine)."""
    from .servers import LiveServer

    started: list[LiveServer] = []

    def start(root: Path | None = None, **options: Any) -> LiveServer:
        srv = LiveServer(root or tmp_path / "server", **options)
        started.append(srv)
        return srv.start()

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture
def server(live_server: Callable[..., LiveServer]) -> LiveServer:
    """A real server (`flightlog server` in a subprocess) with its store in tmp_path/server."""
    return live_server()


@pytest.fixture
def key(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A signed-in machine, as on a cluster: alice's key, with it and the server's URL in
    the environment."""
    k = server.user("alice")
    for name, value in server.env(k).items():
        monkeypatch.setenv(name, value)
    return k
