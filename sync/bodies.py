"""Request bodies with a size limit, an idle timeout and a deadline.

A body is refused (413) as soon as it is known to be too large, from Content-Length or while
it streams, and abandoned (408) when it stalls for `idle_timeout` or is not complete within
`body_timeout`: a client that trickles bytes (slow loris) cannot hold a request forever.
A segment body goes to a temp file as it arrives, hashed on the way, so an upload costs one
chunk of memory whatever its size. A batch body (many small segments in one request, see
batch_routes.py) is framed - a JSON header line, then the segment's bytes. A frame of a MB
or more goes to its own temp file the same way; smaller ones are gathered in memory (at most
a MB per request; a segment straight into memory Arrow allocated, which the check reads
without a copy, segment_check.py) and written, hashed and fsynced together in the thread
that then checks and places them (`write_parts`): a run's sync request - run.json and a
0.7 MB segment - costs one hop to a worker thread rather than six and a thread pool.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import logging
import os
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from flightlog.store.arrow_owned import writable

from .limits import ServerLimits
from .refused import Refused

log = logging.getLogger("flightlog.server")
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
    return await _to_file(_chunks(request, limits.max_upload, limits), directory, durable=True)


async def _to_file(pieces: AsyncIterator[Any], directory: Path, durable: bool) -> tuple[Path, str]:
    """Write `pieces` (bytes or memoryviews) to a new temp file, hashed on the way, one
    thread hop per MB. `durable`:
    fsynced before this returns; otherwise the caller fsyncs it (`fsync_all`) before it may
    be renamed into the store. The file is removed again if the body or the disk fails."""
    tmp = directory / f".upload-{secrets.token_hex(8)}.tmp"
    digest = hashlib.sha256()
    f = await run_in_threadpool(open, tmp, "xb")
    try:
        pending: list[bytes | memoryview] = []
        size = 0
        async for chunk in pieces:
            pending.append(chunk)
            size += len(chunk)
            if size >= WRITE_CHUNK:
                await run_in_threadpool(_write, f, digest, b"".join(pending))
                pending, size = [], 0
        await run_in_threadpool(_write, f, digest, b"".join(pending), True, durable)
    except BaseException:
        with suppress(OSError):
            f.close()  # may fail again on a full disk: the file goes all the same
        tmp.unlink(missing_ok=True)
        raise
    return tmp, digest.hexdigest()


def _write(f: BinaryIO, digest: Any, data: bytes, last: bool = False, durable: bool = True) -> None:
    """Hash and write a piece off the event loop; the last one closes the file, made durable
    first unless the caller batches the fsyncs."""
    digest.update(data)
    f.write(data)
    if last:
        f.flush()
        if durable:
            os.fsync(f.fileno())
        f.close()


#: the threads fsync_all waits on the disk with (made once: a pool a call cost ~1 ms)
_FSYNCS = 16
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def fsync_all(files: list[Path | int]) -> None:
    """fsync many files (or directories) at once, each a path or an open descriptor: the disk
    commits them together (for 4 KB files about 0.15 ms each here, against 2.4 ms one after
    another)."""
    global _pool
    if len(files) <= 1:  # no thread for one file
        for f in files:
            _fsync(f)
        return
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_FSYNCS, thread_name_prefix="fsync")
    list(_pool.map(_fsync, files))


def _fsync(file: Path | int) -> None:
    if isinstance(file, int):
        os.fsync(file)
        return
    fd = os.open(file, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: temp files a request keeps open until it fsyncs them (by descriptor: no open and close
#: again); the ones past it are closed at once and fsynced by path
KEEP_OPEN = 64


def create_file(path: Path, data: Any) -> int:
    """A new file at `path` holding `data` (bytes-like), left open: its descriptor, to fsync
    and close. Plain os calls rather than open(): a file object costs four more system calls
    (fstat, isatty, lseek, close's flush), each a hand-over of the GIL to whichever of the
    server's threads waits for it - a tenth of the futex calls of an upload."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data).cast("B")
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        os.close(fd)
        raise
    return fd


# -- a batch of segments in one body ---------------------------------------------------------
#: the longest frame header of a batch body
MAX_FRAME_HEADER = 1024


#: frames of the "run" stream (a run's metadata, run_sync_routes.py) stay in memory - read
#: once, never stored as they came - up to WRITE_CHUNK bytes of them per body; more go to
#: temp files as the others do
MEMORY_STREAM = "run"


@dataclass
class Part:
    """One frame of a batch body, as received: its temp file (or, until `write_parts`, its
    bytes), or why it was refused."""

    stream: str
    name: str
    size: int
    tmp: Path | None = None
    digest: str = ""
    refused: Refused | None = None
    #: a small frame's bytes (also once written, for the check): a segment's in memory
    #: Arrow allocated (`_Buffered.gather`), a run frame's as bytes (parsed as JSON)
    data: pa.Buffer | bytes | None = None
    memory_only: bool = False  # never written to a file (a MEMORY_STREAM frame)

    def body(self) -> bytes:
        """The frame's bytes, from memory or its temp file."""
        if isinstance(self.data, bytes):
            return self.data
        if self.data is not None:
            return self.data.to_pybytes()
        assert self.tmp is not None
        return self.tmp.read_bytes()


def write_parts(parts: list[Part], directory: Path, durable: bool = True) -> Refused | None:
    """Write the frames still in memory (but `memory_only` ones) to temp files in
    `directory`, hashed, then (`durable`) fsync every temp file of `parts` together and keep
    their bytes in `data` for the check (else they are let go). Blocking: run it in a worker
    thread. A full disk refuses the frame it hit and those after it (507, returned); the ones
    before stay. The caller removes the files."""
    full = None
    written: dict[Path, int] = {}  # the files written here, still open: fsynced by descriptor
    try:
        for p in parts:
            if p.data is None or p.memory_only or p.tmp is not None:
                continue
            if full is None:
                tmp = directory / f".upload-{secrets.token_hex(8)}.tmp"
                p.tmp = tmp  # set first: removed with the others if the write fails
                try:
                    fd = create_file(tmp, p.data)
                except OSError as e:
                    if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                        raise
                    tmp.unlink(missing_ok=True)
                    p.tmp, full = None, disk_full(e)
                else:
                    if durable and len(written) < KEEP_OPEN:
                        written[tmp] = fd
                    else:
                        os.close(fd)
                    p.digest = hashlib.sha256(p.data).hexdigest()
            if not durable or full is not None:
                p.data = None
            p.refused = p.refused or full
        if durable:
            fsync_all([written.get(p.tmp, p.tmp) for p in parts if p.tmp is not None])
    finally:
        for fd in written.values():
            os.close(fd)
    return full


class _Buffered:
    """Lines and counted runs of bytes over a body's chunks. The chunk at hand is kept as it
    came, with a position in it, and handed on in slices of it (memoryviews): a 0.7 MB
    segment used to be copied four times on its way through (appended to a buffer, sliced,
    made bytes, deleted from the buffer's front)."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        self._pos = 0  # what of _buf was handed on
        self._ended = False
        self.owed = 0

    async def _fill(self) -> bool:
        """The next chunk after what is left of this one; False at the body's end."""
        if self._ended:
            return False
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._ended = True
            return False
        rest = self._buf[self._pos :]  # (a frame header cut by the chunk's end, at most)
        self._buf, self._pos = (rest + chunk if rest else chunk), 0
        return True

    async def line(self, limit: int) -> bytes | None:
        """The next line (without its newline), or None where the body ends cleanly."""
        while True:
            i = self._buf.find(b"\n", self._pos, self._pos + limit + 1)
            if i >= 0:
                out = self._buf[self._pos : i]
                self._pos = i + 1
                return out
            if len(self._buf) - self._pos > limit:
                raise Refused(f"a frame header is longer than {limit} bytes", "invalid")
            if not await self._fill():
                if self._pos < len(self._buf):
                    raise Refused("the batch body ends inside a frame header", "invalid")
                return None

    async def take(self, n: int) -> AsyncIterator[bytes | memoryview]:
        """The next `n` bytes, as they arrive, in pieces that stay valid; `owed` says how
        many are still to come if the reader stops early (`skip` them)."""
        self.owed = n
        while self.owed > 0:
            if self._pos >= len(self._buf) and not await self._fill():
                raise Refused(
                    f"the batch body ends {self.owed} bytes short of a segment", "invalid"
                )
            start, end = self._pos, min(len(self._buf), self._pos + self.owed)
            whole = start == 0 and end == len(self._buf)
            piece = self._buf if whole else memoryview(self._buf)[start:end]
            self._pos = end
            self.owed -= end - start
            yield piece

    async def gather(self, n: int) -> pa.Buffer:
        """The next `n` bytes, copied as they arrive into one buffer Arrow allocated (what
        the segment check hands to Arrow: never a Python object, store/arrow_owned.py)."""
        buf, view = writable(n)
        pos = 0
        async for piece in self.take(n):
            view[pos : pos + len(piece)] = piece
            pos += len(piece)
        return buf

    async def skip(self, n: int) -> None:
        async for _ in self.take(n):
            pass


def disk_full(e: OSError) -> Refused:
    """The 507 of a segment the server had no space for (logged, as every full disk is)."""
    log.error("disk full: %s", e)
    return Refused(
        "the server's disk is full: this segment was not stored; sync again later",
        "insufficient_storage",
        507,
    )


def _frame(header: bytes) -> tuple[str, str, int]:
    try:
        doc = json.loads(header)
        stream, name, size = doc["stream"], doc["name"], doc["size"]
    except (ValueError, TypeError, KeyError):
        raise Refused(
            'a frame header must be {"stream": ..., "name": ..., "size": N} on one line',
            "invalid",
        ) from None
    if not (isinstance(stream, str) and isinstance(name, str) and type(size) is int):
        raise Refused("a frame header's stream and name are strings, its size an int", "invalid")
    if size < 0:
        raise Refused("a frame header's size is negative", "invalid")
    return stream, name, size


async def segments_to_files(
    request: Request,
    directory: Path,
    limits: ServerLimits,
    check_name: Callable[[str, str], object],
) -> list[Part]:
    """Stream a batch body - frames of a JSON header line `{"stream", "name", "size"}` and
    `size` raw bytes - into temp files: a large frame into its own as it arrives, hashed on
    the way; small ones into memory, written by `write_parts` once a MB is held (and by the
    caller for the rest, in its worker thread, fsyncing them all). A segment whose name
    `check_name` refuses, or a run frame over `max_meta`, is read past and carries its
    refusal, and so does each one that
    finds the disk full (507), so the segments that arrived before still land; a malformed
    body refuses the whole request, leaving no file."""
    body = _Buffered(_chunks(request, limits.max_upload, limits))
    parts: list[Part] = []
    held: list[Part] = []  # in memory, not yet written
    pending = kept = 0  # bytes held, and bytes of memory_only frames
    full: Refused | None = None  # the disk filled up: the rest is read past, answered 507
    try:
        while (header := await body.line(MAX_FRAME_HEADER)) is not None:
            if len(parts) >= limits.batch_segments:
                raise Refused(
                    f"a batch holds at most {limits.batch_segments} segments", "too_large", 413
                )
            part = Part(*_frame(header))
            parts.append(part)
            try:
                check_name(part.stream, part.name)
                if part.stream == MEMORY_STREAM and part.size > limits.max_meta:
                    raise Refused(
                        f"run metadata of {part.size} bytes; the server takes at most "
                        f"{limits.max_meta}",
                        "too_large",
                        413,
                    )
            except Refused as e:
                part.refused = e
            if part.refused is not None or full is not None:
                part.refused = part.refused or full
                await body.skip(part.size)
                continue
            if part.size < WRITE_CHUNK:
                if part.stream == MEMORY_STREAM and kept + part.size <= WRITE_CHUNK:
                    part.data = b"".join([piece async for piece in body.take(part.size)])
                    part.memory_only, kept = True, kept + part.size
                    continue
                part.data = await body.gather(part.size)
                held.append(part)
                pending += part.size
                if pending >= WRITE_CHUNK:
                    full = await run_in_threadpool(write_parts, held, directory, False)
                    held, pending = [], 0
                continue
            try:
                part.tmp, part.digest = await _to_file(body.take(part.size), directory, False)
            except OSError as e:
                if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
                part.refused = full = disk_full(e)
                await body.skip(body.owed)
    except BaseException:
        remove_parts(parts)
        raise
    return parts


def remove_parts(parts: list[Part]) -> None:
    """Remove the parts' temp files (whatever happened to the request)."""
    for p in parts:
        if p.tmp is not None:
            p.tmp.unlink(missing_ok=True)
