"""Online mode: make sure a sync agent runs for a store, without the training process ever
touching the network.

`init(mode="online")` calls `ensure_agent()`: if the store's agent lock is free it starts
`flightlog sync --watch ROOT --idle-exit ...` as a detached process (its own session, so it
outlives the script and ignores the terminal's Ctrl-C) and returns at once. Its output goes
to `ROOT/sync-agent.log`. Two scripts racing to start one is harmless: the second agent finds
the lock taken and exits.

An agent that dies as it starts (a broken environment, an import error) would otherwise
leave every run `pending` in silence, so a daemon thread watches the new process until it
holds the store's lock; if it exits first, without another agent holding the lock, the
script gets one warning quoting the agent's log. A script that ends within that time waits
for the verdict at exit, at most START_VERDICT_AT_EXIT seconds.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

from .lock import LOG_FILE, AgentLock

#: an agent started by init() exits after this long with nothing to do and nothing running
IDLE_EXIT = 600.0
#: how long a new agent is watched for dying before it holds the lock
START_WATCH = 120.0
#: how long a script that is exiting waits for that verdict
START_VERDICT_AT_EXIT = 5.0

_warned: set[Path] = set()


def ensure_agent(root: Path, api_key: str | None = None, base_url: str | None = None) -> str | None:
    """Start the store's agent unless one runs. Returns None, or a warning saying what to do;
    an agent that dies as it starts is reported later, once, as a RuntimeWarning."""
    root = Path(root)
    try:
        if AgentLock(root).held_elsewhere():
            return None
        env = dict(os.environ)
        if api_key:
            env["FLIGHTLOG_API_KEY"] = api_key
        if base_url:
            env["FLIGHTLOG_BASE_URL"] = base_url
        env.pop("FLIGHTLOG_DEBUG", None)
        log_path = root / LOG_FILE
        with open(log_path, "ab") as log:
            log_start = log.tell()
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-P",  # never import from the directory the script was started in
                    "-m",
                    "flightlog.cli",
                    "sync",
                    "--watch",
                    str(root),
                    "--idle-exit",
                    str(IDLE_EXIT),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                close_fds=True,
            )
    except OSError as e:
        return (
            f"could not start the sync agent ({e}); this run is stored offline and nothing is "
            f"lost: run `flightlog sync --watch {root}` (or `flightlog sync --all` later)"
        )
    watcher = threading.Thread(
        target=_watch_start,
        args=(proc, root, log_path, log_start),
        name="flightlog-agent-start",
        daemon=True,
    )
    watcher.start()
    atexit.register(watcher.join, START_VERDICT_AT_EXIT)
    return None


def _watch_start(proc: subprocess.Popen[bytes], root: Path, log_path: Path, start: int) -> None:
    """Wait until the new agent holds the lock (fine) or exits (warn, unless another agent
    took the store: the harmless race of two scripts starting one each)."""
    lock = AgentLock(root)
    deadline = time.monotonic() + START_WATCH
    while time.monotonic() < deadline:
        try:
            code = proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            if lock.held_elsewhere():
                return
            continue
        if code == 0 or lock.held_elsewhere():
            return
        _warn_once(root, code, _last_line(log_path, start))
        return


def _last_line(path: Path, start: int) -> str:
    """The agent's last words in its log (its error, or the last line of a traceback)."""
    try:
        with open(path, "rb") as f:
            f.seek(start)
            lines = f.read()[-4000:].decode(errors="replace").splitlines()
    except OSError:
        return ""
    last = next((ln.strip() for ln in reversed(lines) if ln.strip()), "")
    return "".join(c if c.isprintable() else "?" for c in last)[:300]


def _warn_once(root: Path, code: int, last: str) -> None:
    if root in _warned:
        return
    _warned.add(root)
    said = f": {last}" if last else ""
    warnings.warn(
        f"flightlog: the sync agent for {root} died as it started (exit code {code}){said}. "
        f"Runs stay stored offline and nothing is lost; see {root / LOG_FILE}, then run "
        f"`flightlog sync --watch {root}` (or `flightlog sync --all` later)",
        RuntimeWarning,
        stacklevel=1,
    )
