"""One sync agent per store: `sync-agent.lock`, held with flock while the agent lives.

Its own module so that `init()` in online mode can check for a running agent without
importing the HTTP client. The lock dies with its process, so a killed agent never leaves
a stale lock; the file says who holds it, for the message a second agent exits with. Whether
anyone holds it is also how `flightlog runs` and the TUI tell that pending runs have no agent.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import IO, Any

LOCK_FILE = "sync-agent.lock"
LOG_FILE = "sync-agent.log"


class AgentRunningError(RuntimeError):
    """Another agent holds this store's lock: the message says who; `kill` is the command
    that stops it, for the caller's advice."""

    def __init__(self, message: str, info: dict[str, Any]) -> None:
        super().__init__(message)
        pid, host = info.get("pid"), info.get("host")
        self.kill = f"`kill {pid}`" if pid else "`kill` (its pid is in the lock file)"
        self.kill += f" on {host}" if host and host != socket.gethostname() else ""


def _describe(info: dict[str, Any], path: Path, holder: str) -> str:
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started_at", 0)))
    return (
        f"another {holder} is already running for this store: pid {info.get('pid')} on "
        f"{info.get('host')}, since {since} (lock {path})"
    )


class AgentLock:
    """The store's agent lock (flock). `held_elsewhere()` tells whether an agent holds it.
    `file` and `holder`: another process that must be alone on a store, under its own
    lock file (the server: sync/serve.py)."""

    def __init__(self, root: Path, file: str = LOCK_FILE, holder: str = "sync agent") -> None:
        self.path = Path(root) / file
        self.holder = holder
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+")  # noqa: SIM115 - held open for the agent's lifetime
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            try:
                info = json.loads(f.read() or "{}")
            except ValueError:
                info = {}
            f.close()
            raise AgentRunningError(_describe(info, self.path, self.holder), info) from None
        f.seek(0)
        f.truncate()
        f.write(
            json.dumps(
                {"pid": os.getpid(), "host": socket.gethostname(), "started_at": time.time()}
            )
        )
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the flock
            self._file = None

    def held_elsewhere(self) -> bool:
        """True while another process holds the lock (used by init to skip spawning)."""
        try:
            f = open(self.path)  # noqa: SIM115 - closed by the with below
        except FileNotFoundError:
            return False
        with f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(f, fcntl.LOCK_UN)
            return False


def idle_agent_note(root: Path, pending: int) -> str | None:
    """The one line `flightlog runs` and the TUI show when runs wait for an agent that is
    not running (it was never started, died at start, or was killed): else None. A server's
    root holds runs that arrived from online scripts; no agent ships those."""
    if pending <= 0:
        return None
    from .accounts import ACCOUNTS_FILE  # (SQLite and the schema: only when runs are pending)

    if (Path(root) / ACCOUNTS_FILE).exists() or AgentLock(root).held_elsewhere():
        return None
    log = Path(root) / LOG_FILE
    why = f"; why the last one stopped: {log}" if log.is_file() else ""
    return (
        f"no sync agent is running for this store: {pending} run(s) pending upload; "
        f"start one with `flightlog sync --watch {root}`{why}"
    )
