"""Where a server keeps segments (and blobs) when one disk is not enough: any filesystem
pyarrow.fs reaches - S3 and S3-compatible stores (MinIO, Ceph RGW), or a local directory -
under one prefix, with keys that name their content.

Why pyarrow.fs and not fsspec: pyarrow is already a core dependency and ships an S3 client
(multipart uploads, the usual AWS variables and ~/.aws config, AWS_ENDPOINT_URL for
S3-compatible stores); fsspec would add s3fs, aiobotocore and botocore for the same calls.

Layout (Hive-style partitions, plain Parquet, so DuckDB, Spark, Trino or Polars read the
bucket as one table):

    PREFIX/segments/stream=history/entity=E/project=P/run_id=R/<writer>-<seq>-<sha256>.parquet
    PREFIX/superseded/segments/stream=.../<writer>-<seq>-<sha256>.parquet   rows held twice
    PREFIX/blobs/<sha[:2]>/<sha256>
    PREFIX/blob_parts/<project hash>-<sha256>-<offset>-<part sha256>   uploads under way

The `segments/` tree holds one seal per writer and number, the one the catalog names, so a
reader of the bucket counts every row once. A segment sealed twice (a store copied mid-run,
sealed there, then sealed longer by the run itself: seal_growth.py) has its shorter seal
moved to `superseded/` once the longer is recorded (`retire`), and a seal the catalog ended
up not naming (an upload that lost a race to a longer one) too, and a segment sealed from
the copy's journal (store/takeover.py) whose rows the job's own seals hold (the catalog
names it still: the server finds it there); readers that learnt a moved seal's name just
before it moved find it there (`get_segment`).

The invariants, as litestream states its own:
1. A key's content never changes: the sha256 is in the key, and a key that exists is never
   written again (`put` checks first; two replicas racing write identical bytes).
2. Nothing is visible before it is whole and checked: the caller checks the sha256 of its
   local temp file, an S3 object appears only when its upload completes (an upload cut by a
   kill -9 leaves an incomplete multipart upload, which no reader sees - expire them with a
   bucket lifecycle rule), a local file is written to a temp name, fsynced and renamed; then
   `put` reads the object back and checks its sha256 before returning, and only then does the
   server record it in the catalog, which is what readers list.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.fs as pafs

from flightlog.store.atomic import atomic_copy, temp_name

CHUNK = 1 << 20


class StoreError(OSError):
    """The object store failed or holds a damaged object."""


class ObjectStore:
    """Content-addressed objects under `base` of a pyarrow filesystem."""

    def __init__(self, fs: pafs.FileSystem, base: str, uri: str) -> None:
        self.fs = fs
        self.base = base.rstrip("/")
        self.uri = uri
        self.local = isinstance(fs, pafs.LocalFileSystem)

    @classmethod
    def from_uri(cls, uri: str) -> ObjectStore:
        """`s3://BUCKET/PREFIX` (credentials, region and endpoint as the AWS tools take them),
        `file:///DIR` or a plain directory."""
        parsed = urlparse(uri)
        if parsed.scheme in ("", "file"):
            path = Path(parsed.path if parsed.scheme else uri).resolve()
            path.mkdir(parents=True, exist_ok=True)
            return cls(pafs.LocalFileSystem(), str(path), uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(
                f"unknown store {uri!r}: use s3://BUCKET/PREFIX or file:///DIR "
                "(or leave --store out to keep segments under --root)"
            )
        try:
            fs = pafs.S3FileSystem(**_s3_options())
        except Exception as e:
            raise ValueError(f"cannot open {uri}: {e}") from None
        return cls(fs, f"{parsed.netloc}{parsed.path}", uri)

    # -- keys ---------------------------------------------------------------------------
    @staticmethod
    def segment_key(entity: str, project: str, run_id: str, stream: str, name: str) -> str:
        return f"segments/stream={stream}/entity={entity}/project={project}/run_id={run_id}/{name}"

    @staticmethod
    def superseded_key(segment_key: str) -> str:
        """Where a shorter seal is kept once it leaves the `segments/` tree."""
        return f"superseded/{segment_key}"

    @staticmethod
    def blob_key(sha256: str) -> str:
        return f"blobs/{sha256[:2]}/{sha256}"

    def _path(self, key: str) -> str:
        return f"{self.base}/{key}"

    # -- operations ---------------------------------------------------------------------
    def size(self, key: str) -> int | None:
        """The object's size, or None when there is no such object."""
        info = self.fs.get_file_info(self._path(key))
        return info.size if info.type == pafs.FileType.File else None

    def put(self, key: str, source: Path, sha256: str) -> bool:
        """Store the (already checked) file `source` as `key` unless it is there; True when
        this call wrote it. The object is read back and its sha256 checked before returning."""
        size = source.stat().st_size
        if self.size(key) == size:
            return False
        path = self._path(key)
        if self.local:
            self._put_local(path, source)
        else:
            with open(source, "rb") as src, self.fs.open_output_stream(path) as out:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
        got = self.sha256(key)
        if got != sha256:
            self.fs.delete_file(path)
            raise StoreError(f"{self.uri}: {key} read back as sha256 {got}, not {sha256}")
        return True

    def _put_local(self, path: str, source: Path) -> None:
        """Temp name, fsync, rename: a local object is whole or absent, as on S3."""
        final = Path(path)
        final.parent.mkdir(parents=True, exist_ok=True)
        atomic_copy(source, final)

    def sha256(self, key: str) -> str:
        h = hashlib.sha256()
        for chunk in self.chunks(key):
            h.update(chunk)
        return h.hexdigest()

    def get(self, key: str, dest: Path, sha256: str) -> Path:
        """Copy an object to `dest` (temp then rename), checking its sha256 on the way."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(dest)
        h = hashlib.sha256()
        try:
            with self.fs.open_input_stream(self._path(key)) as src, open(tmp, "wb") as out:
                while chunk := src.read(CHUNK):
                    h.update(chunk)
                    out.write(chunk)
            if h.hexdigest() != sha256:
                raise StoreError(f"{self.uri}: {key} has sha256 {h.hexdigest()}, not {sha256}")
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return dest

    def get_segment(self, key: str, dest: Path, sha256: str) -> Path:
        """`get` a segment from the `segments/` tree, or from `superseded/` when it moved
        there (`retire`) after the caller read its name from the catalog."""
        try:
            return self.get(key, dest, sha256)
        except FileNotFoundError:
            return self.get(self.superseded_key(key), dest, sha256)

    def retire(self, key: str) -> None:
        """Move the segment `key` to `superseded/` (absent: already moved). A rename on a
        local store; a server-side copy then a delete on S3, so the object is under one key
        or both at every moment, never none."""
        src, dst = self._path(key), self._path(self.superseded_key(key))
        if self.local:
            Path(dst).parent.mkdir(parents=True, exist_ok=True)
        try:
            if self.local:
                self.fs.move(src, dst)
            else:
                self.fs.copy_file(src, dst)
                self.fs.delete_file(src)
        except OSError:  # (S3 names a missing key in a plain OSError)
            if self.size(key) is not None or self.size(self.superseded_key(key)) is None:
                raise

    def chunks(self, key: str) -> Iterator[bytes]:
        """An object's content, streamed."""
        with self.fs.open_input_stream(self._path(key)) as f:
            while chunk := f.read(CHUNK):
                yield chunk

    def local_path(self, key: str) -> Path | None:
        """The file holding `key` when the store is a local directory (served as it is)."""
        return Path(self._path(key)) if self.local else None

    def delete(self, key: str) -> None:
        """Remove an object that is no longer needed (upload parts); absent is fine."""
        try:
            self.fs.delete_file(self._path(key))
        except FileNotFoundError:
            pass

    def check(self) -> None:
        """Raise unless the store answers and its bucket (or directory) exists."""
        top = self.base if self.local else self.base.split("/", 1)[0]
        if self.fs.get_file_info(top).type == pafs.FileType.NotFound:
            raise StoreError(f"{self.uri}: {top} does not exist")
        self.fs.get_file_info(pafs.FileSelector(self.base, allow_not_found=True))


def _s3_options() -> dict[str, object]:
    """What pyarrow does not take from the environment by itself: the endpoint (older
    pyarrow) and plain http for an endpoint given as http://."""
    opts: dict[str, object] = {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        u = urlparse(endpoint)
        opts["endpoint_override"] = u.netloc or u.path
        opts["scheme"] = u.scheme or "https"
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        opts["region"] = region
    return opts
