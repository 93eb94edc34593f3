"""Short advisory file locks (flock), bounded: what a store's processes hold for a moment
while they change one run's files together.

flock is released by the kernel when its holder dies (kill -9 included), so a crashed
process never wedges what it held. On NFS, Linux takes flock as a POSIX lock through the
server's lock daemon; a mount without one answers ENOLCK, and the lock is then passed over
(`NONE`): every user of these locks goes on without, as it did before it had one - a lost
update or a race beats a training script blocked. A lock not had within its wait is
`BUSY`: the caller decides whether to go on or to refuse.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

#: how a lock turned out: had, not had within the wait, no locks here (or no lock file),
#: and the lock file's directory gone (`run_lock`: the run deleted or moved)
Held = Literal["held", "busy", "none", "gone"]
HELD: Held = "held"
BUSY: Held = "busy"
NONE: Held = "none"
GONE: Held = "gone"

#: seconds a lock is waited for before it counts as busy
LOCK_WAIT = 5.0
#: a run's lock file, in its directory: held shared by each process resuming the run, from
#: finding it until its writer's state file is written (then the run has a live writer),
#: and exclusive by a delete, until the directory is renamed away (flightlog/_init.py,
#: flightlog/_api_delete.py)
RUN_LOCK = ".run.lock"


@contextlib.contextmanager
def flocked(
    path: Path, shared: bool = False, waiting: Callable[[], None] | None = None
) -> Iterator[Held]:
    """Hold `path` (created if missing) locked, exclusive or `shared`, for the with-block;
    yields how it turned out (`Held`) after at most LOCK_WAIT seconds (as it is when
    called). `waiting` is called once if the lock is taken by another process at the first
    try (to say why this one waits).

    The file is checked to be still the one at `path` once locked: a holder that renamed
    its directory away (a run deleted) leaves its waiters a lock on a file no longer
    there; they try the path again, and a path whose directory is gone is `GONE`."""
    deadline = time.monotonic() + LOCK_WAIT
    how = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    told = [waiting] if waiting is not None else []
    while True:
        try:
            fd = _open(path)
        except FileNotFoundError:
            yield GONE
            return
        except OSError:  # a read-only or odd file system: what the caller writes says why
            yield NONE
            return
        try:
            held = _lock(fd, how, deadline, told)
            if held != HELD or _same_file(fd, path):
                yield held
                return
        finally:
            os.close(fd)  # releases the lock


def _open(path: Path) -> int:
    """The lock file, made if missing; read-only when it is another user's (a store shared
    by a team: flock needs no write access, and the lock still counts)."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except PermissionError:
        try:
            return os.open(path, os.O_RDONLY)
        except FileNotFoundError:  # none there, and none may be made: no lock, not GONE
            raise PermissionError(errno.EACCES, "cannot create the lock file", str(path)) from None


def _lock(fd: int, how: int, deadline: float, told: list[Callable[[], None]]) -> Held:
    """Poll for the lock until `deadline` (a blocking flock cannot be bounded); the first
    time it is found taken, `told`'s callback (if any, once) says so."""
    while True:
        try:
            fcntl.flock(fd, how | fcntl.LOCK_NB)
            return HELD
        except BlockingIOError:
            if told:
                told.pop()()
            if time.monotonic() > deadline:
                return BUSY
            time.sleep(0.01)
        except OSError:
            return NONE  # no locks here (ENOLCK)


def _same_file(fd: int, path: Path) -> bool:
    """Whether the open file `fd` is still the one at `path`."""
    try:
        at = os.stat(path)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (at.st_dev, at.st_ino) == (mine.st_dev, mine.st_ino)
