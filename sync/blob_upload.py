"""A run's blobs on their way to the server, after its segments: the run's files (console
log, diff.patch, saved files, code), its media, and the files of the artifact versions it
logged, then the lists that name them (the run's file list, each version's manifest).

Exactly once: the server is asked which blobs the project lacks and only those are sent,
each from where an interrupted upload stopped. What the server confirmed is kept in the
run's sync mark (`blobs`): the digest of each run file by size and mtime, so unchanged files
are not hashed again, the artifact versions pushed, and a fingerprint of the file and media
directories, so a synced run whose files did not change costs no request. The console log of
a running run waits for its end (see LIVE_FILES).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flightlog._errors import ArtifactNotFoundError, ServerRejectedError
from flightlog.artifacts.names import LATEST
from flightlog.artifacts.registry import Registry, Version
from flightlog.artifacts.remote import push
from flightlog.store.blobs import check_sha256_name, sha256_file
from flightlog.store.layout import RunPaths

from .blob_client import lacking, upload
from .client import ServerClient

if TYPE_CHECKING:
    from .uploader import LocalRun, RunSync

MEDIA = "media"
#: files a running run keeps appending to: sent when the run has ended, not as a new blob on
#: every pass of the agent (it syncs a running run every few seconds)
LIVE_FILES = frozenset({"output.log"})


def _walk(directory: Path) -> list[tuple[str, os.stat_result, Path]]:
    """(name relative to `directory`, stat, path) of each file, leaving out temp files."""
    out = []
    for dirpath, _, names in os.walk(directory):
        for n in names:
            if n.startswith(".") and (n.endswith(".tmp") or n.startswith(".tmp-")):
                continue
            p = Path(dirpath) / n
            try:
                st = p.stat()
            except OSError:
                continue
            out.append((p.relative_to(directory).as_posix(), st, p))
    return sorted(out, key=lambda t: t[0])


Listing = list[tuple[str, list[tuple[str, os.stat_result, Path]]]]


def _listing(paths: RunPaths) -> Listing:
    """The run's files, then its media: (directory name, `_walk` of it)."""
    return [(sub.name, _walk(sub)) for sub in (paths.files, paths.dir / MEDIA)]


def _fingerprint(listing: Listing) -> str:
    h = hashlib.sha256()
    for sub, found in listing:
        for name, st, _ in found:
            h.update(f"{sub}/{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def fingerprint(paths: RunPaths) -> str:
    """What the run's files and media look like on disk (names, sizes, times): a mark with
    the same fingerprint needs no blob request."""
    return _fingerprint(_listing(paths))


@dataclass
class RunBlobs:
    """The blobs of one run: sha256 -> (size, where the bytes are)."""

    fingerprint: str  # of the walk that found them (see `fingerprint`)
    blobs: dict[str, tuple[int, Path]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> sha, size, mtime
    versions: list[Version] = field(default_factory=list)

    def add(self, sha: str, size: int, path: Path) -> None:
        self.blobs.setdefault(sha, (size, path))


def collect(local: LocalRun, cached: dict[str, Any]) -> RunBlobs:
    """The run's blobs now, and the fingerprint of the same walk; a file whose size and
    mtime match `cached` keeps its digest."""
    listing = _listing(local.paths)
    out = RunBlobs(_fingerprint(listing))
    (_, files), (_, media) = listing
    for name, st, path in files:
        if local.running and name in LIVE_FILES:
            continue
        old = cached.get(name) or {}
        if old.get("size") == st.st_size and old.get("mtime_ns") == st.st_mtime_ns:
            sha = str(old["sha256"])
        else:
            sha, _ = sha256_file(path)
        out.files[name] = {"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
        out.add(sha, st.st_size, path)
    for name, st, path in media:
        sha = name.rsplit("/", 1)[-1]
        try:
            check_sha256_name(sha)
        except ValueError:
            continue
        out.add(sha, st.st_size, path)
    registry = Registry(local.paths.root)
    for a in local.stored.meta.get("artifacts") or []:
        try:
            v = registry.get(str(a["project"]), str(a["name"]), int(str(a["version"])[1:]))
        except (KeyError, TypeError, ValueError, ArtifactNotFoundError):
            continue  # recorded by an older flightlog, or removed from the store
        out.versions.append(v)
        for e in v.entries.values():
            if "sha256" in e:
                out.add(e["sha256"], int(e["size"]), registry.blobs.path(e["sha256"]))
    return out


def sync_blobs(
    client: ServerClient,
    local: LocalRun,
    entity: str,
    project: str,
    run_id: str,
    result: RunSync,
    state: dict[str, Any],
    on_part: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Send the blobs the server lacks, then the run's file list and the manifests of its
    artifact versions not pushed yet. `state` is the mark's `blobs` from the last sync;
    returns the new one."""
    found = collect(local, state.get("files") or {})
    changed: set[str] = set()
    for sha, offset in lacking(
        client, entity, project, {s: n for s, (n, _) in found.blobs.items()}
    ).items():
        size, path = found.blobs[sha]
        try:
            result.blob_bytes += upload(client, entity, project, sha, size, path, offset, on_part)
        except ServerRejectedError:
            if path.is_relative_to(local.paths.files) and _changed(path, sha):
                changed.add(sha)  # a file still being written: its next state goes next time
                continue
            raise
        result.blobs += 1
    files = {n: f for n, f in found.files.items() if f["sha256"] not in changed}
    client.request(
        "PUT",
        f"/runs/{entity}/{project}/{run_id}/files",
        json={"files": {n: {"sha256": f["sha256"]} for n, f in files.items()}},
    )
    pushed = set(state.get("artifacts") or [])
    registry = Registry(local.paths.root)
    for v in found.versions:
        if v.digest not in pushed:
            aliases = registry.aliases(v.project, v.name).get(v.version, [])
            push(client, entity, project, v, [a for a in aliases if a != LATEST])
            pushed.add(v.digest)
    if changed:
        result.pending.append(f"{len(changed)} file(s) changed while being sent")
    return {
        "fingerprint": "" if changed else found.fingerprint,
        "files": files,
        "artifacts": sorted(pushed),
    }


def _changed(path: Path, sha: str) -> bool:
    """A run file no longer has the content it was hashed with (the server refused it)."""
    try:
        return sha256_file(path)[0] != sha
    except OSError:
        return True
