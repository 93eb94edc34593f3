"""Request bodies with a size limit, an idle timeout and a deadline.

A body is refused (413) as soon as it is known to be too large, from Content-Length or while
it streams, and abandoned (408) when it stalls for `idle_timeout` or is not complete within
`body_timeout`: a client that trickles bytes (slow loris) cannot hold a request forever.
A segment body goes to a temp file as it arrives, hashed on the way, so an upload costs one
chunk of memory whatever its size.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, BinaryIO

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from .limits import ServerLimits
from .refused import Refused

#: bytes gathered before one write to the temp file (one thread hop per MB, not per chunk)
WRITE_CHUNK = 1024 * 1024


async def _chunks(request: Request, limit: int, limits: ServerLimits) -> AsyncIterator[bytes]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refused(f"body of {declared} bytes exceeds the limit of {limit}", "too_large", 413)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.body_timeout
    stream = request.stream().__aiter__()
    size = 0
    while True:
        left = deadline - loop.time()
        try:
            async with asyncio.timeout(min(limits.idle_timeout, max(left, 0.0))):
                chunk = await stream.__anext__()
        except StopAsyncIteration:
            return
        except TimeoutError:
            why = (
                f"not complete after {limits.body_timeout:g} s"
                if left <= limits.idle_timeout
                else f"no data for {limits.idle_timeout:g} s"
            )
            raise Refused(f"request body {why}: send it at once", "body_timeout", 408) from None
        size += len(chunk)
        if size > limit:
            raise Refused(f"body exceeds the limit of {limit} bytes", "too_large", 413)
        yield chunk


async def read_body(request: Request, limit: int, limits: ServerLimits) -> bytes:
    """A small body (metadata) in memory, within `limit` bytes and the time limits."""
    return b"".join([c async for c in _chunks(request, limit, limits)])


async def body_to_file(request: Request, directory: Path, limits: ServerLimits) -> tuple[Path, str]:
    """Stream a segment body into a new temp file in `directory`: (its path, its sha256).
    The file is removed again if the body is refused or the disk fails."""
    tmp = directory / f".upload-{secrets.token_hex(8)}.tmp"
    digest = hashlib.sha256()
    f = await run_in_threadpool(open, tmp, "xb")
    try:
        pending: list[bytes] = []
        size = 0
        async for chunk in _chunks(request, limits.max_upload, limits):
            pending.append(chunk)
            size += len(chunk)
            if size >= WRITE_CHUNK:
                await run_in_threadpool(_write, f, digest, b"".join(pending))
                pending, size = [], 0
        await run_in_threadpool(_write, f, digest, b"".join(pending), True)
    except BaseException:
        try:
            f.close()  # may fail again on a full disk: the file goes all the same
        except OSError:
            pass
        tmp.unlink(missing_ok=True)
        raise
    return tmp, digest.hexdigest()


def _write(f: BinaryIO, digest: Any, data: bytes, last: bool = False) -> None:
    """Hash and write a piece off the event loop; the last one is made durable before the
    file may be renamed into the store."""
    digest.update(data)
    f.write(data)
    if last:
        f.flush()
        os.fsync(f.fileno())
        f.close()
