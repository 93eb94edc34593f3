"""A server that checks an uploaded segment and exits at once exits cleanly.

The server's check hands an upload's bytes to Arrow. A buffer over a Python object (the
bytes a body was gathered into) is freed by whichever thread lets it go last, and that
thread takes the GIL to do so: an Arrow thread that gets there while the interpreter exits
aborts the process, exit code 134, "terminate called without an active exception"
(store/arrow_owned.py; test_exit_after_read.py found it in the readers). The server now
receives a segment's frame into memory Arrow allocated and reads a temp file into it.

The child here is test_exit_after_read's (one CPU, Arrow's pool threads SCHED_IDLE, the GIL
kept until a pool thread that woke has run, a slow exit), its read replaced by what the
batch routes do with a run's segment: the body read into frames by bodies.py, written and
fsynced, checked and placed by batch_routes.place_all in a fresh server store.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from starlette.requests import Request

from flightlog.sync.batch_routes import place_all
from flightlog.sync.bodies import remove_parts, segments_to_files, write_parts
from flightlog.sync.frames import frame_header
from flightlog.sync.receive import ReceivingStore, check_segment_name

from . import test_exit_after_read as readers
from .conftest import python_script

pytestmark = readers.pytestmark  # Linux: the child sets scheduling policies, reads /proc
logged = readers.logged  # the run p/r of 100 steps, its history one sealed segment
REPO = Path(__file__).resolve().parents[1]


def received(store: str) -> list[str]:
    """The run p/r's sealed segments of `store`, received as a batch body by a fresh server
    store, checked and placed: the names it stored."""
    segments = sorted(Path(store).glob("runs/p/r/history/*.parquet"))
    body = b"".join(frame_header("history", s) + s.read_bytes() for s in segments)
    server = ReceivingStore(tempfile.mkdtemp(prefix="server-"))
    server.put_run("alice", "p", "r", {"id": "r"}, [])
    parts = asyncio.run(_frames(body, server))
    try:
        write_parts(parts, server.uploads)
        results = place_all(server, server.paths("alice", "p", "r"), parts)
    finally:
        remove_parts(parts)
    return [r["name"] for r in results if r.get("stored")]


async def _frames(body: bytes, server: ReceivingStore) -> list:
    """The body as the batch routes read it (an ASGI request of one message)."""

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    headers = [(b"content-length", str(len(body)).encode())]
    request = Request({"type": "http", "method": "POST", "headers": headers}, receive)
    return await segments_to_files(request, server.uploads, server.limits, check_segment_name)


def test_a_server_exits_cleanly_right_after_checking_an_upload(logged: Path) -> None:
    here = "__import__('tests.test_server_exit_after_check', fromlist=['_'])"
    read = f"{here}.received({str(logged)!r})"
    child = readers.CHILD.format(store=str(logged), read=read, ending="")
    res = python_script(
        child, env={"PYTHONFAULTHANDLER": "1", "PYTHONPATH": str(REPO)}, timeout=120
    )
    assert (res.returncode, res.stdout, res.stderr) == (0, "1\n", "")
