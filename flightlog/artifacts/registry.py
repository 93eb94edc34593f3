"""Artifact versions in a store: numbered, aliased, deduplicated by content, with lineage.

    <root>/blobs/<sha[:2]>/<sha256>                           every file's content, once
    <root>/artifacts/<project>/<name>/versions/v<N>.json      a version's manifest (immutable)
    <root>/artifacts/<project>/<name>/digests/<digest>        N: the version with that content
    <root>/artifacts/<project>/<name>/aliases/<alias>.json    {"version": N} (moves)
    <root>/artifacts/<project>/<name>/used_by/v<N>/<p>.<id>.json  a run that used version N

A version's files are stored in the store's content-addressed `blobs/` (streamed and hashed
in chunks) before its manifest exists, so a manifest never names a missing blob. A version
number is claimed by hard-linking a complete manifest to `v<N>.json`, which fails if the name
exists (O_EXCL semantics: two processes never get the same number, a reader never sees half a
manifest), under a per-name `flock` so that two processes logging the same content at once
make one version. The lock dies with its process, so kill -9 never leaves a name locked, and
it is waited for a few seconds at most (store/file_lock.py): past that, or on a file system
without locks, a version is made without it (numbers stay unique; the same content logged
at that very moment by two processes may then make two versions).

The digest file is written before the number is taken, naming the number about to be
taken: a process killed between the two leaves a digest file naming a version that is
missing or holds other content, which is passed over (the manifest's digest is checked),
never a version that no digest file names, which the same content logged again would
have duplicated.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flightlog._errors import ArtifactNotFoundError
from flightlog.store.artifact_read import ArtifactReader
from flightlog.store.atomic import (
    atomic_write_bytes,
    atomic_write_json,
    dumps,
    fsync_dir,
    read_json,
)
from flightlog.store.blobs import BlobStore
from flightlog.store.file_lock import BUSY, LOCK_WAIT, flocked

from .names import LATEST, version_number


def manifest_digest(entries: dict[str, dict[str, Any]]) -> str:
    """The digest of a version: its entry paths and their contents (sha256 or reference),
    not its metadata, so the same files make the same version."""
    canon = {p: e.get("sha256") or {"ref": e.get("ref")} for p, e in sorted(entries.items())}
    return hashlib.sha256(dumps(canon, indent=None)).hexdigest()


@dataclass(frozen=True)
class Version:
    """One stored artifact version, as its manifest says."""

    project: str
    name: str
    version: int
    manifest: dict[str, Any]

    @property
    def digest(self) -> str:
        return str(self.manifest["digest"])

    @property
    def entries(self) -> dict[str, dict[str, Any]]:
        return self.manifest.get("entries") or {}

    @property
    def label(self) -> str:
        return f"{self.name}:v{self.version}"


class Registry(ArtifactReader):
    """The artifacts of one store (a local store, or a server's after a remote get)."""

    def __init__(self, root: Path | str) -> None:
        super().__init__(root)
        self.blobs = BlobStore(self.root / "blobs")

    # -- writing ---------------------------------------------------------------------------
    def commit(
        self,
        project: str,
        name: str,
        manifest: dict[str, Any],
        aliases: list[str],
        move_latest: bool = True,
    ) -> tuple[Version, bool]:
        """Store a manifest (its blobs already in `blobs/`) as a new version, or find the
        version with the same digest; give it `aliases` and `latest` (unless `move_latest`
        is False and the name has a latest already: a version fetched from a server).
        Returns (version, created)."""
        d = self.dir(project, name)
        for sub in ("versions", "digests", "aliases", "used_by"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        digest = manifest_digest(manifest.get("entries") or {})
        with flocked(d / ".lock") as held:
            if held == BUSY:
                warnings.warn(
                    f"flightlog: artifact {project}/{name}: another process held its lock for "
                    f"{LOCK_WAIT:g} s; this version is stored without it",
                    RuntimeWarning,
                    stacklevel=3,
                )
            n = self._version_of_digest(d, digest)
            created = n is None
            if n is None:
                n = self._claim(d, {**manifest, "digest": digest}, digest)
            if move_latest or not (d / "aliases" / f"{LATEST}.json").exists():
                aliases = [LATEST, *aliases]
            for alias in dict.fromkeys(aliases):
                atomic_write_json(d / "aliases" / f"{alias}.json", {"version": n})
        return self.get(project, name, n), created

    def _version_of_digest(self, d: Path, digest: str) -> int | None:
        """The version with content `digest`: the one its digest file names, if that
        version's manifest has this digest (see the module's docstring)."""
        try:
            n = int((d / "digests" / digest).read_text())
        except (OSError, ValueError):
            return None
        manifest = read_json(d / "versions" / f"v{n}.json")
        return n if manifest is not None and manifest.get("digest") == digest else None

    def _claim(self, d: Path, manifest: dict[str, Any], digest: str) -> int:
        """The next free version number, taken by linking the finished manifest to it once
        the digest file names it."""
        versions = d / "versions"
        n = max(self.numbers(d.parent.name, d.name), default=-1) + 1
        tmp = versions / f".tmp-{secrets.token_hex(8)}"
        try:
            while True:
                body = {**manifest, "version": n, "created_at": time.time()}
                with open(tmp, "wb") as f:
                    f.write(dumps(body))
                    f.flush()
                    os.fsync(f.fileno())
                atomic_write_bytes(d / "digests" / digest, str(n).encode())
                try:
                    os.link(tmp, versions / f"v{n}.json")
                except FileExistsError:
                    n += 1
                    continue
                fsync_dir(versions)
                return n
        finally:
            tmp.unlink(missing_ok=True)

    def record_use(self, v: Version, run_project: str, run_id: str) -> None:
        """Lineage: run `run_project/run_id` used version `v` (idempotent)."""
        d = self.dir(v.project, v.name) / "used_by" / f"v{v.version}"
        d.mkdir(parents=True, exist_ok=True)
        path = d / f"{run_project}.{run_id}.json"
        if not path.exists():
            atomic_write_json(path, {"project": run_project, "id": run_id, "time": time.time()})

    # -- reading ---------------------------------------------------------------------------
    def get(self, project: str, name: str, n: int) -> Version:
        manifest = read_json(self.dir(project, name) / "versions" / f"v{n}.json")
        if manifest is None:
            raise ArtifactNotFoundError(
                f"no artifact {project}/{name}:v{n} in {self.root}: "
                f"`flightlog artifact ls --project {project}` lists what there is"
            )
        return Version(project, name, n, manifest)

    def resolve(self, project: str, name: str, alias: str) -> Version:
        """`name:vN` or `name:alias` in a project."""
        if not (self.dir(project, name) / "versions").is_dir():
            raise ArtifactNotFoundError(
                f"no artifact named {name!r} in project {project} of {self.root}: "
                f"`flightlog artifact ls` lists the artifacts there are"
            )
        n = version_number(alias)
        if n is None:
            doc = read_json(self.dir(project, name) / "aliases" / f"{alias}.json")
            if doc is None or not isinstance(doc.get("version"), int):
                raise ArtifactNotFoundError(
                    f"no artifact {project}/{name}:{alias} in {self.root}: "
                    f"`flightlog artifact show {project}/{name}` lists its versions and aliases"
                )
            n = doc["version"]
        return self.get(project, name, n)

    def versions(self, project: str, name: str) -> list[Version]:
        return [self.get(project, name, n) for n in self.numbers(project, name)]

    def describe(self, v: Version, aliases: dict[int, list[str]] | None = None) -> dict[str, Any]:
        """A version as the CLI and the UI show it: name, aliases, size, lineage. `aliases`:
        the name's, when the caller describes several versions (read once, not per version)."""
        m = v.manifest
        if aliases is None:
            aliases = self.aliases(v.project, v.name)
        return {
            "project": v.project,
            "name": v.name,
            "version": f"v{v.version}",
            "type": m.get("type"),
            "aliases": aliases.get(v.version, []),
            "digest": v.digest,
            "size": m.get("size") or 0,
            "files": len(v.entries),
            "created_at": m.get("created_at"),
            "logged_by": m.get("logged_by"),
        }

    def used_by(self, v: Version) -> list[dict[str, Any]]:
        return self.uses(v.project, v.name, v.version)

    def project_of(self, name: str, project: str | None = None) -> str:
        """The project holding artifact `name`: `project` when given, else the one project
        that has that name (a reference may leave the project out when it is unambiguous)."""
        if project:
            return project
        projects = [p for p, n in self.names() if n == name]
        if len(projects) == 1:
            return projects[0]
        if not projects:
            raise ArtifactNotFoundError(
                f"no artifact named {name!r} in {self.root}: `flightlog artifact ls` lists them"
            )
        raise ArtifactNotFoundError(
            f"artifact {name!r} is in projects {', '.join(projects)}: name one, as PROJECT/{name}"
        )
