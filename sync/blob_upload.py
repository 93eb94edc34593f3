"""A run's blobs on their way to the server, after its segments: the run's files (console
log, diff.patch, saved files, code), its media, and the files of the artifact versions it
logged, then the lists that name them (the run's file list, each version's manifest).

Exactly once: the server is asked which blobs the project lacks and only those are sent,
each from where an interrupted upload stopped. What the server confirmed is kept in the
run's sync mark (`blobs`): the digest of each run file by size and mtime, so unchanged files
are not hashed again, the artifact versions pushed and the aliases each was given, and a
fingerprint of the file and media directories, so a run whose files did not change costs no
blob request when its segments are synced. The blobs and the file list ride on the run's
PUT (`run_extras`): its answer says which blobs the project lacks and whether it recorded
the list, so a run's files cost no request of their own unless some must be uploaded. The
console log of a running run waits for its end (see LIVE_FILES).
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
from flightlog.artifacts.remote import push, push_aliases
from flightlog.store.atomic import dumps, is_temp
from flightlog.store.blobs import check_sha256_name, sha256_file
from flightlog.store.layout import RunPaths

from .blob_client import BATCH, lacking, upload
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
            if is_temp(n):
                continue
            p = Path(dirpath) / n
            try:
                st = p.stat()
            except OSError:
                continue
            out.append((p.relative_to(directory).as_posix(), st, p))
    return sorted(out, key=lambda t: t[0])


Listing = list[tuple[str, list[tuple[str, os.stat_result, Path]]]]


def _listing(paths: RunPaths, running: bool) -> Listing:
    """The run's files, then its media: (directory name, `_walk` of it); a running run's
    LIVE_FILES are left out (they are not sent before its end)."""
    files = [f for f in _walk(paths.files) if not (running and f[0] in LIVE_FILES)]
    return [(paths.files.name, files), (MEDIA, _walk(paths.dir / MEDIA))]


def _fingerprint(listing: Listing) -> str:
    h = hashlib.sha256()
    for sub, found in listing:
        for name, st, _ in found:
            h.update(f"{sub}/{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def fingerprint(paths: RunPaths, running: bool = False) -> str:
    """What the run's files and media look like on disk (names, sizes, times): a mark with
    the same fingerprint needs no blob request."""
    return _fingerprint(_listing(paths, running))


def _refs(local: LocalRun) -> str:
    """The artifact versions the run's metadata names (a new one must be pushed)."""
    return hashlib.sha256(dumps(local.stored.meta.get("artifacts") or [], indent=None)).hexdigest()


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
    listing = _listing(local.paths, local.running)
    out = RunBlobs(_fingerprint(listing))
    (_, files), (_, media) = listing
    for name, st, path in files:
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


def to_send(local: LocalRun, state: dict[str, Any], target: str) -> RunBlobs | None:
    """The run's blobs now, or None when the last sync to `target` (`state`, the mark's
    `blobs`) confirmed them and its files, media and artifacts did not change since."""
    if (
        state.get("target") == target
        and state.get("fingerprint") == fingerprint(local.paths, local.running)
        and state.get("refs") == _refs(local)
    ):
        return None
    return collect(local, state.get("files") or {})


def run_extras(found: RunBlobs) -> dict[str, Any]:
    """What the run's PUT carries for `found` (sync/blob_routes.py `run_extras`)."""
    if len(found.blobs) > BATCH:
        return {}  # asked in batches by /missing
    return {
        "blobs": [{"sha256": s, "size": n} for s, (n, _) in sorted(found.blobs.items())],
        "files": {n: {"sha256": f["sha256"]} for n, f in found.files.items()},
    }


def sync_blobs(
    client: ServerClient,
    local: LocalRun,
    target: tuple[str, str, str],
    result: RunSync,
    state: dict[str, Any],
    found: RunBlobs,
    answer: dict[str, Any],
    on_part: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Send the blobs the server lacks, then the run's file list and the manifests of its
    artifact versions not pushed yet. `state` is the mark's `blobs` from the last sync,
    `answer` the run PUT's (its `missing` and `files`, when the server gave them); returns
    the new state."""
    entity, project, run_id = target
    if "missing" in answer:
        missing = {str(s): int(o) for s, o in answer["missing"].items()}
    else:  # an older server, or too many blobs for one PUT
        missing = lacking(client, entity, project, {s: n for s, (n, _) in found.blobs.items()})
    changed: set[str] = set()
    for sha, offset in missing.items():
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
    if "files" not in answer or changed:  # not recorded with the run's PUT
        client.request(
            "PUT",
            f"/runs/{entity}/{project}/{run_id}/files",
            json={"files": {n: {"sha256": f["sha256"]} for n, f in files.items()}},
        )
    pushed = _pushed(found.versions, state.get("artifacts") or [])
    sent = _push_versions(client, (entity, project), local, found.versions, pushed, state)
    if changed:
        result.pending.append(f"{len(changed)} file(s) changed while being sent")
    return {
        "target": "/".join(target),
        "fingerprint": "" if changed else found.fingerprint,
        "refs": _refs(local),
        "files": files,
        "artifacts": sorted(pushed),
        "aliases": {k: sorted(a) for k, a in sorted(sent.items()) if a},
    }


def _push_versions(
    client: ServerClient,
    where: tuple[str, str],
    local: LocalRun,
    versions: list[Version],
    pushed: set[str],
    state: dict[str, Any],
) -> dict[str, set[str]]:
    """Push the versions not in `pushed` (adding them), and the aliases given to pushed
    ones since (the best checkpoint logged again as `best`) without moving the server's
    `latest`; returns the aliases the server was given, per pushed version, for the mark.
    An older server, with no alias route, is given none: they stay unsent, tried again
    on a later sync. A mark from before aliases were kept counts as sent the aliases a
    version has now that the server has, on it or on another (sending one again could take
    back one the server moved since): an alias given here after that mark was written,
    which the server never had, is sent (`_on_server`: a request an alias, once)."""
    registry = Registry(local.paths.root)
    marked = state.get("aliases")
    sent: dict[str, set[str]] = {}
    for v in versions:
        key = _pushed_key(v)
        if key in sent:
            continue  # listed twice in run.json: logged again (with an alias)
        now = [a for a in registry.aliases(v.project, v.name).get(v.version, []) if a != LATEST]
        if key not in pushed:
            push(client, *where, v, now)
            pushed.add(key)
            sent[key] = set(now)
            continue
        if marked is None:
            had = {a for a in now if _on_server(client, where, v.name, a)}
        else:
            had = set(marked.get(key) or ())
        sent[key] = had & set(now)  # an alias moved to another version goes again if back
        new = [a for a in now if a not in had]
        if new and push_aliases(client, *where, v, new):
            sent[key].update(new)
    return sent


def _on_server(client: ServerClient, where: tuple[str, str], name: str, alias: str) -> bool:
    """Whether the server's artifact `name` has `alias`, on any of its versions."""
    r = client.request("GET", f"/artifacts/{where[0]}/{where[1]}/{name}/{alias}", allow=(404,))
    return r.status_code != 404


def _pushed_key(v: Version) -> str:
    """How the mark names a pushed version: its name and digest (the same files logged
    under two names are two versions, each to push)."""
    return f"{v.project}/{v.name}:{v.digest}"


def _pushed(versions: list[Version], marked: list[str]) -> set[str]:
    """The versions a mark says were pushed. A mark written before `_pushed_key` holds bare
    digests, each standing for the first version with that digest (the one pushed then):
    those are not pushed again (a push moves the server's `latest`)."""
    pushed = {m for m in marked if ":" in m}
    bare = {m for m in marked if ":" not in m}
    for v in versions:
        if v.digest in bare:
            bare.discard(v.digest)
            pushed.add(_pushed_key(v))
    return pushed


def _changed(path: Path, sha: str) -> bool:
    """A run file no longer has the content it was hashed with (the server refused it)."""
    try:
        return sha256_file(path)[0] != sha
    except OSError:
        return True
