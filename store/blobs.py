"""Content-addressed blobs: media a run logged, artifact files, a run's files on the server.

    <dir>/<sha[:2]>/<sha256>            one file per distinct content, never rewritten

A blob is written to a temp file in the same directory tree while it is hashed, fsynced, then
renamed to its digest: a reader (or a history row's reference) never sees a partial blob, a
kill -9 leaves at most a temp file (`doctor --repair` removes it: `stale_temps`), and the same
content put twice is stored once. Files are streamed in chunks, so a multi-GB checkpoint
never sits in memory.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from flightlog.store.atomic import fsync_dir, temp_name

CHUNK = 1 << 20
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_TEMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class Blob:
    """A stored blob: its digest, size in bytes and where it lives."""

    sha256: str
    size: int
    path: Path


def check_sha256_name(sha256: str) -> str:
    """Validate a digest used in a path (a name from a client or a history row)."""
    if not isinstance(sha256, str) or not _SHA_RE.match(sha256):
        raise ValueError(f"invalid sha256 {sha256!r}: expected 64 lowercase hex digits")
    return sha256


class BlobStore:
    """One directory of content-addressed blobs (a run's `media/`, a store's `blobs/`)."""

    def __init__(self, directory: Path | str) -> None:
        self.dir = Path(directory)

    def path(self, sha256: str) -> Path:
        check_sha256_name(sha256)
        return self.dir / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def get(self, sha256: str) -> Blob | None:
        p = self.path(sha256)
        try:
            return Blob(sha256, p.stat().st_size, p)
        except OSError:
            return None

    def put_bytes(self, data: bytes | memoryview, *, durable: bool = True) -> Blob:
        return self.put_chunks([data], durable=durable)

    def put_file(self, source: Path | str, *, durable: bool = True) -> Blob:
        """Copy `source` in, hashing as it streams (memory stays at one chunk)."""
        with open(source, "rb") as f:
            return self.put_chunks(iter(lambda: f.read(CHUNK), b""), durable=durable)

    def put_chunks(
        self,
        chunks: Iterable[bytes | memoryview],
        *,
        durable: bool = True,
        expect: str | None = None,
    ) -> Blob:
        """Store the concatenated `chunks`; with `expect`, refuse content of another digest
        (an upload checked before it is placed). Raises ValueError on a mismatch."""
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f"{_TEMP_PREFIX}{secrets.token_hex(8)}"
        h = hashlib.sha256()
        size = 0
        try:
            with open(tmp, "wb") as f:
                for chunk in chunks:
                    h.update(chunk)
                    f.write(chunk)
                    size += len(chunk)
                if durable:
                    f.flush()
                    os.fsync(f.fileno())
            sha = h.hexdigest()
            if expect is not None and sha != expect:
                raise ValueError(f"content has sha256 {sha}, not the {expect} it was sent as")
            final = self.path(sha)
            if final.is_file() and final.stat().st_size == size:
                tmp.unlink()
            else:
                final.parent.mkdir(exist_ok=True)
                os.replace(tmp, final)
                if durable:
                    fsync_dir(final.parent)
            return Blob(sha, size, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def export(self, sha256: str, dest: Path | str) -> Path:
        """Copy a blob out to `dest` (a download), temp-then-rename so `dest` is never partial."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(dest)
        try:
            shutil.copyfile(self.path(sha256), tmp)
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return dest

    def stale_temps(self, idle_seconds: float) -> list[Path]:
        """Temp files a killed writer left: untouched for `idle_seconds` (a put under way
        writes its temp file as it streams, so its mtime keeps moving). `doctor` lists them
        and `doctor --repair` removes them."""
        cutoff = time.time() - idle_seconds
        out = []
        for tmp in self.dir.glob(f"{_TEMP_PREFIX}*"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    out.append(tmp)
            except FileNotFoundError:
                continue  # renamed into place or removed meanwhile
        return out


def sha256_file(path: Path | str) -> tuple[str, int]:
    """Digest and size of a file, streamed in chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size
