"""Is a run still running? Derived from its writers' state files, never from a lock.

Every writer process rewrites `writers/<wid>.json` with a heartbeat. A writer that says
"running" but whose process is gone (same host: the pid is dead or was reused; other host:
heartbeat older than STALE_AFTER seconds) is crashed. A run is running while any writer of its
latest generation runs; a resume starts a new generation, so a crash that was resumed no
longer makes the run look crashed.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import Any

RUNNING, FINISHED, FAILED, CRASHED = "running", "finished", "failed", "crashed"
STATES = (RUNNING, FINISHED, FAILED, CRASHED)
STALE_AFTER = 60.0
#: seconds a resume watches a writer of another host for a new heartbeat (writers record how
#: often they beat, `heartbeat_every`; older ones every second) before taking it for dead
BEAT_WAIT = 5.0

HOSTNAME = socket.gethostname()


def _proc_stat(pid: int) -> tuple[bytes, int] | None:
    """(state letter, start time in clock ticks since boot) of `pid` from /proc, if readable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def process_start_ticks(pid: int) -> int | None:
    """The kernel's start time of `pid`, recorded so a reused pid is not taken for ours."""
    st = _proc_stat(pid)
    return st[1] if st else None


def pid_alive(pid: int, start_ticks: int | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if not os.path.isdir("/proc"):
        return True
    st = _proc_stat(pid)
    if st is None or st[0] in (b"Z", b"X"):
        return False  # gone, or a zombie nobody reaped yet
    return start_ticks is None or st[1] == start_ticks


def writer_state(w: dict[str, Any], now: float | None = None) -> str:
    """The effective state of one writer: its recorded state, or crashed if it died."""
    state = w.get("state", CRASHED)
    if state != RUNNING:
        return state if state in STATES else CRASHED
    if w.get("host") == HOSTNAME and isinstance(w.get("pid"), int):
        return RUNNING if pid_alive(w["pid"], w.get("pid_start")) else CRASHED
    beat = w.get("heartbeat_at")
    now = time.time() if now is None else now
    if isinstance(beat, int | float) and now - beat <= STALE_AFTER:
        return RUNNING
    return CRASHED


def run_state(writers: list[dict[str, Any]], now: float | None = None) -> str:
    """A run's state from its writers' files (see module docstring)."""
    if not writers:
        return CRASHED  # init died before its first state write
    gen = max(int(w.get("generation", 0)) for w in writers)
    states = {writer_state(w, now) for w in writers if int(w.get("generation", 0)) == gen}
    for s in (RUNNING, CRASHED, FAILED):
        if s in states:
            return s
    return FINISHED


def still_beating(
    writers: list[dict[str, Any]], reread: Callable[[dict[str, Any]], dict[str, Any] | None]
) -> list[dict[str, Any]]:
    """Of `writers`, running by their state files, those alive. This host's are judged by their
    pid. Another host's heartbeat is recent for a minute after its process died (a Slurm job
    killed there and requeued here), so each is watched, through `reread` (its state file now,
    or None), until its heartbeat moves or three of its beats (at least BEAT_WAIT s) pass."""
    alive = [w for w in writers if w.get("host") == HOSTNAME]
    watched = [w for w in writers if w.get("host") != HOSTNAME]
    start = time.monotonic()
    while watched:
        time.sleep(0.05)
        waited = time.monotonic() - start
        for w in list(watched):
            now = reread(w)
            if now is not None and now.get("heartbeat_at") != w.get("heartbeat_at"):
                watched.remove(w)
                if now.get("state") == RUNNING:
                    alive.append(now)
            elif waited > max(BEAT_WAIT, 3 * _beat(w)):
                watched.remove(w)
    return alive


def _beat(w: dict[str, Any]) -> float:
    every = w.get("heartbeat_every")
    return float(every) if isinstance(every, int | float) and every > 0 else 1.0
