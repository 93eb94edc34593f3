"""The server's blobs: each content stored once, readable only through a project that holds it.

    <root>/blobs/<sha[:2]>/<sha256>                      the content, once for the whole server
    <root>/blob_refs/<entity>.<project>/<sha[:2]>/<sha>  the project holds that blob
    <root>/blob_parts/<entity>.<project>/<sha>/<offset>  parts of an upload under way
    <root>/runs/<entity>.<project>/<run>/blobs.json      a run's files: name -> sha256, size

An upload comes in parts at increasing offsets; each part is a file of its own, renamed into
`blob_parts/` only when it has arrived whole (and fsynced), so after a crash of either side
the upload resumes at the end of the last whole part. When the parts reach the declared size
they are streamed into the blob store through sha256 (`BlobStore.put_chunks(expect=...)`):
content that is not what its name says is refused and its parts dropped, so a blob is placed
only when its digest and size are right.

A project gains a blob only by uploading its bytes, even when the server already holds that
content for another project: knowing a digest is not proof of having the data, and a
reference granted on a digest alone would let anyone read any private blob whose digest
they learnt. The bytes sent again are checked and dropped; the blob is still stored once.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flightlog.store.atomic import atomic_write_bytes, dumps, fsync_dir, read_json
from flightlog.store.blobs import CHUNK, BlobStore, check_sha256_name
from flightlog.store.layout import RunPaths

from .receive import project_dir_name
from .refused import Refused

RUN_FILES = "blobs.json"
_OFFSET_WIDTH = 16


def check_sha(sha256: str) -> str:
    try:
        return check_sha256_name(sha256)
    except ValueError as e:
        raise Refused(str(e), "invalid_name") from None


def parse_json(body: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise Refused(f"{what} is not JSON", "invalid") from None
    if not isinstance(doc, dict):
        raise Refused(f"{what} must be a JSON object", "invalid")
    return doc


def blob_list(value: Any, limit: int) -> dict[str, int]:
    """`[{"sha256", "size"}, ...]` from a client, checked: digest -> size."""
    if not isinstance(value, list) or len(value) > limit:
        raise Refused(f'"blobs" must be a list of at most {limit} {{"sha256", "size"}}', "invalid")
    out: dict[str, int] = {}
    for b in value:
        sha = b.get("sha256") if isinstance(b, dict) else None
        size = b.get("size") if isinstance(b, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise Refused(f"blob {str(sha)[:70]!r}: size must be a whole number >= 0", "invalid")
        out[check_sha(str(sha))] = size
    return out


class BlobReceiver:
    """Blob uploads, project references and run file lists of one server root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = BlobStore(root / "blobs")
        self._assemble = threading.Lock()

    def _ref(self, entity: str, project: str, sha: str) -> Path:
        return self.root / "blob_refs" / project_dir_name(entity, project) / sha[:2] / sha

    def _parts(self, entity: str, project: str, sha: str) -> Path:
        return self.root / "blob_parts" / project_dir_name(entity, project) / sha

    def holds(self, entity: str, project: str, sha: str) -> bool:
        """The project holds this blob (uploaded through it), and the server has it."""
        return self._ref(entity, project, sha).exists() and self.blobs.has(sha)

    def path(self, entity: str, project: str, sha: str) -> Path:
        """Where a blob the project holds lives, or 404 (the same answer whether the blob
        exists elsewhere or not: a reader learns nothing about other projects)."""
        if not self.holds(entity, project, check_sha(sha)):
            raise Refused(f"no blob {sha} in project {entity}/{project}", "blob_not_found", 404)
        return self.blobs.path(sha)

    def offset(self, entity: str, project: str, sha: str) -> int:
        """Bytes of an upload under way the server keeps: the end of its last whole part."""
        end = 0
        for start, size in self._part_list(self._parts(entity, project, sha)):
            if start != end:
                break
            end = start + size
        return end

    def _part_list(self, directory: Path) -> list[tuple[int, int]]:
        out = []
        try:
            for p in directory.iterdir():
                if p.name.isdigit():
                    out.append((int(p.name), p.stat().st_size))
        except FileNotFoundError:
            return []
        return sorted(out)

    def missing(self, entity: str, project: str, wanted: dict[str, int]) -> dict[str, int]:
        """The blobs the project lacks -> the offset their upload resumes at."""
        return {
            sha: self.offset(entity, project, sha)
            for sha in wanted
            if not self.holds(entity, project, sha)
        }

    def put_part(
        self, entity: str, project: str, sha: str, size: int, offset: int, tmp: Path
    ) -> dict[str, Any]:
        """Keep an uploaded part (a complete, fsynced temp file); place the blob when the
        parts reach `size`. Returns {"offset": bytes kept, "stored": placed now}."""
        if self.holds(entity, project, sha):
            return {"offset": size, "stored": False}
        length = tmp.stat().st_size
        if offset + length > size:
            raise Refused(
                f"part at {offset} of {length} bytes goes past the blob's size {size}", "invalid"
            )
        parts = self._parts(entity, project, sha)
        have = self.offset(entity, project, sha)
        if offset > have:
            raise Refused(
                f"part at offset {offset}, but the server has {have} bytes of this blob: "
                "resume from there",
                "offset_mismatch",
                409,
            )
        if offset == have and (length or size == 0):
            parts.mkdir(parents=True, exist_ok=True)
            tmp.replace(parts / f"{offset:0{_OFFSET_WIDTH}d}")
            fsync_dir(parts)
            have = offset + length
        if have < size:
            return {"offset": have, "stored": False}
        return {"offset": size, "stored": self._place(entity, project, sha, size, parts)}

    def _place(self, entity: str, project: str, sha: str, size: int, parts: Path) -> bool:
        with self._assemble:
            if self.holds(entity, project, sha):
                return False
            stored = self.blobs.has(sha)
            if not stored:
                try:
                    blob = self.blobs.put_chunks(self._read(parts, size), expect=sha)
                except ValueError as e:
                    shutil.rmtree(parts, ignore_errors=True)
                    raise Refused(f"{e}: the upload was dropped", "hash_mismatch") from None
                if blob.size != size:  # the digest matched, so only a lying size gets here
                    raise Refused(f"blob {sha} has {blob.size} bytes, not {size}", "invalid")
            else:
                self._check(parts, sha, size)
            ref = self._ref(entity, project, sha)
            ref.parent.mkdir(parents=True, exist_ok=True)
            ref.touch()
            fsync_dir(ref.parent)
            shutil.rmtree(parts, ignore_errors=True)
            return not stored

    def _check(self, parts: Path, sha: str, size: int) -> None:
        """Bytes sent for content the server has already: hashed, then dropped."""
        h = hashlib.sha256()
        for chunk in self._read(parts, size):
            h.update(chunk)
        if h.hexdigest() != sha:
            shutil.rmtree(parts, ignore_errors=True)
            raise Refused(
                f"content has sha256 {h.hexdigest()}, not the {sha} it was sent as: the upload "
                "was dropped",
                "hash_mismatch",
            )

    def _read(self, parts: Path, size: int) -> Iterator[bytes]:
        end = 0
        for start, length in self._part_list(parts):
            if start != end or end >= size:
                break
            with open(parts / f"{start:0{_OFFSET_WIDTH}d}", "rb") as f:
                while chunk := f.read(CHUNK):
                    yield chunk
            end = start + length

    # -- a run's files -----------------------------------------------------------------------
    def put_run_files(self, entity: str, project: str, paths: RunPaths, files: Any) -> int:
        """Record a run's files, `{name: {"sha256": ...}}`; each blob must be held by the
        project already (uploaded through it)."""
        if not isinstance(files, dict):
            raise Refused('"files" must map file names to {"sha256": ...}', "invalid")
        doc = {}
        for name, entry in files.items():
            sha = entry.get("sha256") if isinstance(entry, dict) else None
            if not name or name.startswith("/") or ".." in name.split("/") or len(name) > 1024:
                raise Refused(f"invalid file name {name[:100]!r}", "invalid_name")
            if not isinstance(sha, str) or not self.holds(entity, project, check_sha(sha)):
                raise Refused(
                    f"file {name[:100]!r}: its blob is not in project {entity}/{project}: "
                    "upload it first",
                    "blob_not_found",
                    409,
                )
            doc[name] = {"sha256": sha, "size": self.blobs.path(sha).stat().st_size}
        atomic_write_bytes(paths.dir / RUN_FILES, dumps({"files": doc}))
        return len(doc)

    def run_files(self, paths: RunPaths) -> dict[str, dict[str, Any]]:
        doc = read_json(paths.dir / RUN_FILES) or {}
        files = doc.get("files")
        return files if isinstance(files, dict) else {}
