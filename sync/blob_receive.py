"""The server's blobs: each content stored once, readable only through a project that holds it.

The bytes live in an object store (sync/objstore.py) - the server root itself for one
machine, the bucket of `--store` for replicas - and what is known about them in the database
(sync/db/blob_table.py), so every replica answers alike and the code is the same for both:

    blobs/<sha[:2]>/<sha256>                           the content, once for the whole server
    blob_parts/<project hash>-<sha>-<offset>-<part sha256>   parts of an upload under way
    blob_refs, blob_parts, run_files (database)        which project holds which blob, the
                                                       whole parts of each upload, run files

An upload comes in parts at increasing offsets; each part is checked (sha256 of the body),
stored as an object of its own, and only then recorded, so after a crash of either side - or
of the replica that took the first parts - the upload resumes at the end of the last whole
part, on any replica. When the parts reach the declared size they are streamed through
sha256 into a local temp file: content that is not what its name says is refused and its
parts dropped, so a blob is placed (and its reference recorded) only when its digest and
size are right.

A project gains a blob only by uploading its bytes, even when the server already holds that
content for another project: knowing a digest is not proof of having the data, and a
reference granted on a digest alone would let anyone read any private blob whose digest
they learnt. The bytes sent again are checked and dropped; the blob is still stored once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flightlog.store.atomic import read_json
from flightlog.store.blobs import BlobStore, check_sha256_name
from flightlog.store.layout import iter_run_dirs

from .db.blob_table import BlobTable
from .objstore import ObjectStore, StoreError
from .receive import project_dir_name
from .refused import Refused

_OFFSET_WIDTH = 16
#: a run's file list as servers kept it in the run directory before the database did
LEGACY_RUN_FILES = "blobs.json"


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


def _end(parts: list[tuple[int, int]]) -> int:
    """The end of the last of these (start, size) parts that follow on from 0."""
    end = 0
    for start, size in parts:
        if start != end:
            break
        end = start + size
    return end


class BlobReceiver:
    """Blob uploads, project references and run file lists of one server (or replica set).
    `cache` is a local directory: temp files, and blobs fetched from a remote store to be
    served (content-addressed, so never stale)."""

    def __init__(self, objects: ObjectStore, table: BlobTable, cache: Path) -> None:
        self.objects = objects
        self.table = table
        self.cache = BlobStore(cache / "blobs")
        self.temp = cache / ".uploads"
        self._assemble = threading.Lock()

    @staticmethod
    def _part_key(entity: str, project: str, sha: str, start: int, part_sha: str) -> str:
        """One flat prefix: S3 clients (pyarrow's too) leave a directory marker object in
        place of every emptied "directory", so a tree per upload would leave one per blob."""
        where = hashlib.sha256(project_dir_name(entity, project).encode()).hexdigest()[:16]
        return f"blob_parts/{where}-{sha}-{start:0{_OFFSET_WIDTH}d}-{part_sha}"

    def holds(self, entity: str, project: str, sha: str) -> bool:
        """The project holds this blob (uploaded through it)."""
        return self.table.ref_size(entity, project, sha) is not None

    def held_size(self, entity: str, project: str, sha: str, what: str) -> int:
        """The size of the blob that `what` (a run file, an artifact entry) names: a list
        may name only blobs the project holds, else 409 saying to upload it first."""
        size = self.table.ref_size(entity, project, check_sha(sha))
        if size is None:
            raise Refused(
                f"{what}: blob {sha} is not in project {entity}/{project}: upload it first",
                "blob_not_found",
                409,
            )
        return size

    def path(self, entity: str, project: str, sha: str) -> Path:
        """A local file with the content of a blob the project holds, or 404 (the same answer
        whether the blob exists elsewhere or not: a reader learns nothing about other
        projects). From a remote store it is fetched once into the cache, sha256 checked."""
        if not self.holds(entity, project, check_sha(sha)):
            raise Refused(f"no blob {sha} in project {entity}/{project}", "blob_not_found", 404)
        key = ObjectStore.blob_key(sha)
        local = self.objects.local_path(key)
        if local is not None:
            return local
        cached = self.cache.get(sha)
        if cached is not None:
            return cached.path
        try:
            return self.cache.put_chunks(self.objects.chunks(key), expect=sha).path
        except ValueError as e:
            raise StoreError(f"{self.objects.uri}: {key}: {e}") from None

    def offset(self, entity: str, project: str, sha: str, size: int) -> int:
        """Bytes of an upload under way the server keeps: the end of its last whole part, or
        `size` once the blob is held - a concurrent upload of it (runs sharing a file, synced
        at once) placed it and dropped its parts, maybe between their reading and this."""
        have = _end([(start, n) for start, n, _ in self.table.parts(entity, project, sha)])
        return size if have < size and self.holds(entity, project, sha) else have

    def missing(
        self, entity: str, project: str, wanted: dict[str, int], held: dict[str, int] | None = None
    ) -> dict[str, int]:
        """The blobs the project lacks -> the offset their upload resumes at. `held`, if
        given, gets the sizes of the wanted blobs the project holds (what `put_run_files`
        would otherwise ask the database for one by one)."""
        sizes = self.table.held(entity, project, list(wanted))
        if held is not None:
            held.update(sizes)
        lacking = [sha for sha in wanted if sha not in sizes]
        parts = self.table.parts_among(entity, project, lacking)
        return {sha: _end(parts.get(sha, [])) for sha in lacking}

    def put_part(
        self, entity: str, project: str, sha: str, size: int, offset: int, tmp: Path, digest: str
    ) -> dict[str, Any]:
        """Keep an uploaded part (a complete temp file whose sha256 is `digest`); place the
        blob when the parts reach `size`. Returns {"offset": bytes kept, "stored": placed now}."""
        if self.holds(entity, project, sha):
            return {"offset": size, "stored": False}
        length = tmp.stat().st_size
        if offset + length > size:
            raise Refused(
                f"part at {offset} of {length} bytes goes past the blob's size {size}", "invalid"
            )
        have = self.offset(entity, project, sha, size)
        if offset > have:
            raise Refused(
                f"part at offset {offset}, but the server has {have} bytes of this blob: "
                "resume from there",
                "offset_mismatch",
                409,
            )
        if offset == have and (length or size == 0):
            key = self._part_key(entity, project, sha, offset, digest)
            try:
                self.objects.put(key, tmp, digest)
            except FileNotFoundError:
                # read back after a concurrent upload of the same blob placed it and dropped
                # its parts (runs sharing a file, synced at once): the blob is stored
                if self.holds(entity, project, sha):
                    return {"offset": size, "stored": False}
                raise
            if not self.table.add_part(entity, project, sha, offset, length, digest):
                kept = {start: part for start, _, part in self.table.parts(entity, project, sha)}
                if kept.get(offset) != digest:  # another upload kept other bytes here first
                    self.objects.delete(key)  # (the same bytes: the same key, theirs: kept)
            have = self.offset(entity, project, sha, size)
        if have < size:
            return {"offset": have, "stored": False}
        return {"offset": size, "stored": self._place(entity, project, sha, size)}

    def _place(self, entity: str, project: str, sha: str, size: int) -> bool:
        with self._assemble:
            if self.holds(entity, project, sha):
                self._drop_parts(entity, project, sha)  # a concurrent upload placed it
                return False
            key = ObjectStore.blob_key(sha)
            self.temp.mkdir(parents=True, exist_ok=True)
            tmp = self.temp / f".blob-{secrets.token_hex(8)}.tmp"
            try:
                try:
                    got, length = self._assemble_to(entity, project, sha, size, tmp)
                except FileNotFoundError:
                    if self.holds(entity, project, sha):  # placed by another replica meanwhile
                        return False
                    raise
                if got != sha:
                    self._drop_parts(entity, project, sha)
                    raise Refused(
                        f"content has sha256 {got}, not the {sha} it was sent as: the upload "
                        "was dropped",
                        "hash_mismatch",
                    )
                if length != size:  # the digest matched, so only a lying size gets here
                    raise Refused(f"blob {sha} has {length} bytes, not {size}", "invalid")
                stored = self.objects.put(key, tmp, sha)
            finally:
                tmp.unlink(missing_ok=True)
            self.table.add_ref(entity, project, sha, size)
            self._drop_parts(entity, project, sha)
            return stored

    def _assemble_to(
        self, entity: str, project: str, sha: str, size: int, tmp: Path
    ) -> tuple[str, int]:
        """The whole parts, in order, into `tmp`: (their sha256, their length)."""
        h = hashlib.sha256()
        length = 0
        with open(tmp, "wb") as out:
            for chunk in self._read(entity, project, sha, size):
                h.update(chunk)
                out.write(chunk)
                length += len(chunk)
        return h.hexdigest(), length

    def _read(self, entity: str, project: str, sha: str, size: int) -> Iterator[bytes]:
        end = 0
        for start, length, part_sha in self.table.parts(entity, project, sha):
            if start != end or end >= size:
                break
            yield from self.objects.chunks(self._part_key(entity, project, sha, start, part_sha))
            end = start + length

    def _drop_parts(self, entity: str, project: str, sha: str) -> None:
        parts = self.table.parts(entity, project, sha)
        self.table.drop_parts(entity, project, sha)
        for start, _, part_sha in parts:
            self.objects.delete(self._part_key(entity, project, sha, start, part_sha))

    # -- a run's files -----------------------------------------------------------------------
    def put_run_files(
        self,
        entity: str,
        project: str,
        run_id: str,
        files: Any,
        later: list[tuple[str, str, str, dict[str, Any]]] | None = None,
        held: dict[str, int] | None = None,
    ) -> int:
        """Record a run's files, `{name: {"sha256": ...}}`; each blob must be held by the
        project already (uploaded through it). `later`: the checked list is added to it,
        for `record_files` to write with the request's other runs' (one transaction).
        `held`: sizes of blobs the project was just found to hold (`missing`); the others
        are looked up."""
        held = held or {}
        if not isinstance(files, dict):
            raise Refused('"files" must map file names to {"sha256": ...}', "invalid")
        doc = {}
        for name, entry in files.items():
            sha = entry.get("sha256") if isinstance(entry, dict) else None
            if not name or name.startswith("/") or ".." in name.split("/") or len(name) > 1024:
                raise Refused(f"invalid file name {name[:100]!r}", "invalid_name")
            size = held.get(sha) if isinstance(sha, str) else None
            if size is None:
                size = self.held_size(entity, project, str(sha), f"file {name[:100]!r}")
            doc[name] = {"sha256": sha, "size": size}
        if later is None:
            self.table.put_run_files([(entity, project, run_id, doc)])
        else:
            later.append((entity, project, run_id, doc))
        return len(doc)

    def record_files(self, later: list[tuple[str, str, str, dict[str, Any]]]) -> None:
        """Write the file lists `put_run_files` checked and set aside, in one transaction."""
        if later:
            self.table.put_run_files(later)

    def run_files(self, entity: str, project: str, run_id: str) -> dict[str, dict[str, Any]]:
        return self.table.run_files(entity, project, run_id)


def adopt_local_files(root: Path, table: BlobTable) -> None:
    """A server root written before the database held blob references and run files
    (`blob_refs/@E/P/<aa>/<sha>`, `runs/@E/P/<run>/blobs.json`): recorded in the database,
    then the reference tree renamed `blob_refs.adopted` so that restarts skip it. Idempotent,
    so a crash halfway is finished by the next start. Uploads under way start again."""
    refs = root / "blob_refs"
    if not refs.is_dir():
        return
    blobs = BlobStore(root / "blobs")
    for ref in refs.glob("@*/*/??/*"):
        if blobs.has(ref.name):
            size = blobs.path(ref.name).stat().st_size
            table.add_ref(ref.parents[2].name[1:], ref.parents[1].name, ref.name, size)
    for paths in iter_run_dirs(root):
        entity, project, run_id = paths.address
        files = (read_json(paths.dir / LEGACY_RUN_FILES) or {}).get("files")
        if entity is not None and isinstance(files, dict):
            table.put_run_files([(entity, project, run_id, files)])
    refs.rename(root / "blob_refs.adopted")
