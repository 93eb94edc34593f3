"""The media of runs read from a server (`Api(host=)`): a reference's blob is fetched from
GET /blobs/{entity}/{project}/{sha256} when its file is first wanted, checked against its
sha256, and kept in a bounded on-disk cache that every run and process of this user shares:

    <cache>/blobs/<sha[:2]>/<sha256>    <cache>: FLIGHTLOG_CACHE_DIR, else the platform's
                                        user cache directory (~/.cache/flightlog on Linux)

A blob is content-addressed, so a cached copy never goes stale and is fetched once. It is
streamed to disk (store/blobs.py: a temp file hashed as it arrives, renamed into place only
when its digest is the one asked for), never held whole in memory. The cache keeps about
CACHE_BYTES: after a fetch takes it past that, the least recently used blobs (by mtime,
which each hit refreshes) are removed until it fits, never the blob just fetched.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from flightlog._errors import NotFoundError
from flightlog.store.blobs import Blob, BlobStore, check_sha256_name
from flightlog.store.media_ref import MediaRef, MediaSource

from .remote import RemoteReader

#: bytes the cache keeps, about (one blob bigger than that is kept alone)
CACHE_BYTES = 2 << 30


class BlobCache:
    """A directory of blobs fetched from servers, at most about `limit` bytes."""

    def __init__(self, directory: Path, limit: int = CACHE_BYTES) -> None:
        self.store = BlobStore(directory)
        self.limit = limit
        self._held: int | None = None  # bytes cached: counted once, at the first fetch
        self._lock = threading.Lock()

    @staticmethod
    @functools.cache
    def of(directory: Path) -> BlobCache:
        """The process's cache of `directory` (one running count of its bytes)."""
        return BlobCache(directory)

    def get(self, sha256: str) -> Path | None:
        """The cached blob, marked used now; None when it is not cached."""
        path = self.store.path(sha256)
        try:
            os.utime(path)
        except OSError:  # not cached (or removed by another process meanwhile)
            return None
        return path

    def add(self, fetch: Callable[[BlobStore], Blob]) -> Path:
        """`fetch(store)` puts a blob into the cache; then the oldest others go if it is
        over its limit."""
        blob = fetch(self.store)
        with self._lock:
            self._held = self._size() if self._held is None else self._held + blob.size
            if self._held > self.limit:
                self._held = self._evict(keep=blob.path)
        return blob.path

    def _entries(self) -> list[tuple[float, int, Path]]:
        """(mtime, size, path) of every cached blob (temp files of fetches under way are
        not in the two-character directories)."""
        out = []
        for sub in self.store.dir.glob("??"):
            for p in sub.iterdir():
                try:
                    st = p.stat()
                except OSError:
                    continue  # removed meanwhile
                out.append((st.st_mtime, st.st_size, p))
        return out

    def _size(self) -> int:
        return sum(size for _, size, _ in self._entries())

    def _evict(self, keep: Path) -> int:
        """Remove the least recently used blobs but `keep` until the cache fits; its size."""
        entries = sorted(self._entries())
        total = sum(size for _, size, _ in entries)
        for _, size, path in entries:
            if total <= self.limit:
                break
            if path != keep:
                path.unlink(missing_ok=True)
                total -= size
        return total


@dataclass(frozen=True)
class RemoteMedia(MediaSource):
    """The media references of one run on a server (`key`: the history key they were
    logged under, for errors): each file fetched into `cache` when first wanted."""

    reader: RemoteReader
    run_key: str
    shown: str
    cache: BlobCache
    key: str | None = None

    def at(self, key: str) -> RemoteMedia:
        return replace(self, key=key)

    def file(self, ref: MediaRef) -> Path:
        what = f"{ref.kind or 'media'} {self.key!r} of run {self.shown}"
        sha = ref.get("sha256")
        try:
            check_sha256_name(sha)  # type: ignore[arg-type]
        except ValueError:
            raise FileNotFoundError(f"{what} names no blob (sha256 {sha!r})") from None
        path = self.cache.get(str(sha))
        if path is not None:
            return path
        try:
            return self.cache.add(lambda store: self.reader.blob(self.run_key, str(sha), store))
        except NotFoundError as e:
            raise NotFoundError(
                f"{what}: blob {sha} cannot be read from the server ({e}); a blob it never "
                "received is sent by syncing the run again from a store that holds its "
                f"file ({ref.get('path')})"
            ) from None
