"""A project's ledger of run creations: when each run started, without opening its run.json.

    runs/<project>/.numbers/ledger     one line per run created: `<created_at> <run id> <crc>`

The default listing is by start (`created_at`), which only run.json holds: without this, a
first listing of a store of 10,000 runs reads 10,000 run.json files (and their directories
and inodes) to know which 50 come first - seconds from a cold disk. init() appends one line
when it creates a run (one O_APPEND write, no fsync: a lost line only costs speed), and a
listing reads a project's ledger in one read (store/catch_up.py): the runs it names are
known by key and start until a query needs more of them.

Strictly a cache. The project's directory listing stays the truth of which runs exist: a
line for a run whose directory is gone is ignored, and a run without a line (a store
written by older code, a run rsync'd in or received by a server, a line lost or torn) has
its start read from its run.json alone (`start_in_run_json`: one file instead of a run's
~8 reads), or, if that cannot tell, is read the old way. Each line carries a CRC-32 of
its text, so a torn last line, or lines interleaved by appends from many processes on a
filesystem where O_APPEND is not atomic (NFS), are skipped rather than misread; a run id
written twice (a run deleted and created again) is taken from its last line. It lives in
the project's `.numbers/` directory (store/numbering.py), which every listing already
skips: no new entry in the store's layout. The one thing it cannot see is a run.json whose
`created_at` was edited by hand after the run started (init and resume never change it):
such a run is ordered by its original start until it is described.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from contextlib import suppress
from pathlib import Path

from .numbering import NUMBERS_DIR

LEDGER = "ledger"
_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")


def ledger_path(project_dir: Path | str) -> str:
    return os.path.join(project_dir, NUMBERS_DIR, LEDGER)


def _line(created_at: float, run_id: str) -> bytes:
    text = f"{created_at!r} {run_id}"
    return f"{text} {zlib.crc32(text.encode()):08x}\n".encode()


def append_created(project_dir: Path | str, run_id: str, created_at: float) -> None:
    """Note that `run_id` of the project in `project_dir` started at `created_at` (its
    run.json's): one write to the end of the ledger, never waited for (its `.numbers/`
    made if the project has none: a server's, which claims no run numbers). Any failure
    is ignored: a run without a line is read from its run.json."""
    path = ledger_path(project_dir)
    try:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except FileNotFoundError:
            with suppress(FileExistsError):  # (made by another process meanwhile)
                os.mkdir(os.path.dirname(path))
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError:
        return
    try:
        os.write(fd, _line(created_at, run_id))
    except OSError:
        pass
    finally:
        os.close(fd)


def read_ledger(project_dir: Path | str) -> dict[str, float]:
    """run id -> created_at of every whole, intact line (the last line of an id wins); {}
    when there is no ledger."""
    try:
        with open(ledger_path(project_dir), "rb") as f:
            data = f.read()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for raw in data.split(b"\n")[:-1]:  # (after the last newline: a torn line, or nothing)
        text, _, crc = raw.rpartition(b" ")
        try:
            if int(crc, 16) != zlib.crc32(text) or len(crc) != 8:
                continue
            when, _, run_id = text.decode().partition(" ")
            created_at = float(when)
        except ValueError:  # (UnicodeDecodeError is one)
            continue
        if _ID.fullmatch(run_id) and created_at == created_at:  # (not NaN)
            out[run_id] = created_at
    return out


def start_in_run_json(run_dir: str) -> float | None:
    """A run's start as its run.json says, the one file read (what a listing's first build
    reads of a run no ledger line names); None if it cannot say (missing, unreadable, no
    number there): the run is then listed and described whole."""
    try:
        with open(os.path.join(run_dir, "run.json"), "rb") as f:
            created_at = json.loads(f.read()).get("created_at")
    except (OSError, ValueError, AttributeError):
        return None
    ok = isinstance(created_at, int | float) and not isinstance(created_at, bool)
    return float(created_at) if ok and created_at == created_at else None
