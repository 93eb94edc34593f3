"""Online mode: make sure a sync agent runs for a store, without the training process ever
touching the network.

`init(mode="online")` calls `ensure_agent()`: if the store's agent lock is free it starts
`flightlog sync --watch ROOT --idle-exit ...` as a detached process (its own session, so it
outlives the script and ignores the terminal's Ctrl-C) and returns at once. Its output goes
to `ROOT/sync-agent.log`. Two scripts racing to start one is harmless: the second agent finds
the lock taken and exits.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .lock import LOG_FILE, AgentLock

#: an agent started by init() exits after this long with nothing to do and nothing running
IDLE_EXIT = 600.0


def ensure_agent(root: Path, api_key: str | None = None, base_url: str | None = None) -> str | None:
    """Start the store's agent unless one runs. Returns None, or a warning saying what to do."""
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
        with open(root / LOG_FILE, "ab") as log:
            subprocess.Popen(
                [
                    sys.executable,
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
    return None
