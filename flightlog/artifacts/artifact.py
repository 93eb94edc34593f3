"""`flightlog.Artifact` (wandb's `Artifact`): files, directories and references collected
before logging, and a stored version's files after it.

Before `log_artifact` an artifact only remembers where its entries come from; every path is
checked when it is added, so a bad one fails at the line that added it. Logging streams each
file into the store's content-addressed blobs (never whole in memory) and freezes the
artifact: from then on it is a version (`name:v3`), read through its manifest.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from flightlog._config import jsonable
from flightlog._errors import ArtifactError, ArtifactNotFoundError, UnsupportedError
from flightlog.store.blobs import BlobStore, sha256_file

from .names import check_artifact_name, check_entry_path
from .registry import Registry, Version
from .sources import fetch_file_ref, files_under, store_roots


@dataclass(frozen=True)
class Reference:
    """An entry that is a URI, kept as given and never fetched."""

    uri: str


@dataclass(frozen=True)
class ArtifactEntry:
    """One file (or reference) of a logged artifact version."""

    path: str
    digest: str | None  # sha256 of the content; None for a reference
    size: int | None
    ref: str | None
    _artifact: Artifact

    @property
    def name(self) -> str:
        """The entry's path, by the name wandb's `Artifact.files()` gives it (`File.name`)."""
        return self.path

    def download(self, root: str | os.PathLike[str] | None = None) -> str:
        """Copy this file out under `root` (the artifact's download directory by default);
        a file:// reference is copied from its place, another one is not fetched."""
        if self.ref is not None:
            dest = self._artifact._root(root) / check_entry_path(self.path)
            if fetch_file_ref(self.ref, dest) is None:
                raise ArtifactError(f"entry {self.path!r} refers to {self.ref}: not fetched")
            return str(dest)
        return str(self._artifact._export(self.path, self.digest or "", root))


class Artifact:
    """A set of files with a name and a type; logged, it is version N of that name."""

    def __init__(
        self,
        name: str,
        type: str,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        **_kwargs: Any,
    ) -> None:
        if not isinstance(type, str) or not type:
            raise ArtifactError(f"artifact type {type!r}: give a non-empty string, e.g. 'model'")
        if metadata is not None and not isinstance(metadata, dict):
            raise ArtifactError(f"artifact metadata must be a dict, not {metadata!r}")
        self.name = check_artifact_name(name)
        self.type = type
        self.description = description
        self.metadata: dict[str, Any] = jsonable(dict(metadata or {}), "metadata")
        self._staged: dict[str, Path | Reference] = {}
        self._staging: Path | None = None
        self._registry: Registry | None = None
        self._version: Version | None = None
        self.aliases: list[str] = []

    # -- before logging ----------------------------------------------------------------------
    def add_file(
        self, local_path: str | os.PathLike[str], name: str | None = None, **_kwargs: Any
    ) -> None:
        """Add one file as `name` (its base name by default)."""
        path = Path(local_path)
        if not path.is_file():
            raise ArtifactError(
                f"add_file({str(local_path)!r}): no such file; give the path of a file "
                "(add_dir() takes a directory)"
            )
        self._stage(name or path.name, path.resolve())

    def add_dir(
        self, local_path: str | os.PathLike[str], name: str | None = None, **_kwargs: Any
    ) -> None:
        """Add every file under a directory, keeping its relative path (under `name`)."""
        base = Path(local_path)
        if not base.is_dir():
            raise ArtifactError(
                f"add_dir({str(local_path)!r}): no such directory (add_file() takes a file)"
            )
        prefix = check_entry_path(name) + "/" if name else ""
        top = base.resolve()
        stores: list[str] = []
        staged = {
            check_entry_path(prefix + p.relative_to(top).as_posix()): p
            for p in sorted(files_under(top, store_roots(), stores))
        }
        if stores:
            warnings.warn(
                f"flightlog: add_dir({str(local_path)!r}): the flightlog store in {stores[0]} "
                "is left out: its files are the tracker's, and change while runs write",
                RuntimeWarning,
                stacklevel=2,
            )
        for entry, p in staged.items():
            self._check_free(entry, p)
        self._staged.update(staged)

    @contextmanager
    def new_file(self, name: str, mode: str = "x", encoding: str = "utf-8") -> Iterator[IO]:
        """Write a new file straight into the artifact: `with art.new_file("a.txt") as f:`."""
        entry = check_entry_path(name)
        self._check_free(entry, None)
        if self._staging is None:
            self._staging = Path(tempfile.mkdtemp(prefix="flightlog-artifact-"))
            weakref.finalize(self, shutil.rmtree, self._staging, ignore_errors=True)
        path = self._staging / entry
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = mode if "b" in mode else mode.replace("t", "")
        with open(path, mode.replace("x", "w"), encoding=None if "b" in mode else encoding) as f:
            yield f
        self._stage(entry, path)

    def add_reference(self, uri: str, name: str | None = None, **_kwargs: Any) -> None:
        """Add a URI (s3://, https://, file://...) kept as it is: not fetched, not hashed."""
        if not isinstance(uri, str) or not uri:
            raise ArtifactError(f"add_reference({uri!r}): give a URI string")
        self._stage(name or uri.rstrip("/").rsplit("/", 1)[-1] or uri, Reference(uri))

    def add(self, obj: Any, name: str) -> None:
        raise UnsupportedError(
            "Artifact.add(media, name): media objects in artifacts are not supported; "
            "save the object to a file and add_file() it"
        )

    def _check_free(self, entry: str, source: Path | Reference | None) -> None:
        if self._version is not None:
            raise ArtifactError(
                f"artifact {self.name} is logged already ({self._version.label}): make a new "
                "Artifact for new files"
            )
        old = self._staged.get(entry)
        if old is not None and old != source:
            raise ArtifactError(
                f"artifact {self.name} has an entry {entry!r} already; give this one another "
                "name (name=...)"
            )

    def _stage(self, name: str, source: Path | Reference) -> None:
        entry = check_entry_path(name)
        self._check_free(entry, source)
        self._staged[entry] = source

    def _build_manifest(self) -> dict[str, Any]:
        """Store the staged files as blobs and return the manifest (raises before storing
        anything if a staged file has gone). A version logged again is its own manifest, so
        it finds itself by digest and takes the new aliases, as in wandb (its files are no
        longer staged: building from them made an empty version and moved `latest` to it)."""
        assert self._registry is not None
        if self._version is not None:
            kept = ("name", "type", "description", "metadata", "entries", "size")
            return {k: v for k, v in self._version.manifest.items() if k in kept}
        gone = [str(s) for s in self._staged.values() if isinstance(s, Path) and not s.is_file()]
        if gone:
            raise ArtifactError(
                f"artifact {self.name}: {gone[0]} is gone since it was added; nothing was logged"
            )
        entries: dict[str, dict[str, Any]] = {}
        for entry, source in sorted(self._staged.items()):
            if isinstance(source, Reference):
                entries[entry] = {"ref": source.uri}
            else:
                blob = self._registry.blobs.put_file(source)
                entries[entry] = {"sha256": blob.sha256, "size": blob.size}
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "metadata": self.metadata,
            "entries": entries,
            "size": sum(e.get("size", 0) for e in entries.values()),
        }

    def _bind(self, registry: Registry, version: Version, aliases: list[str]) -> None:
        self._registry, self._version = registry, version
        self.aliases = aliases
        self._staged = {}
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    @classmethod
    def _from_version(cls, registry: Registry, version: Version) -> Artifact:
        m = version.manifest
        art = cls(version.name, str(m.get("type") or "unspecified"), m.get("description"))
        art.metadata = dict(m.get("metadata") or {})
        art._bind(
            registry,
            version,
            registry.aliases(version.project, version.name).get(version.version, []),
        )
        return art

    def _in_store(self, registry: Registry) -> Artifact:
        """This artifact as a run of `registry`'s store uses it: itself (a version read from
        a server is fetched into the store first: artifacts/server_artifact.py)."""
        return self

    # -- after logging -----------------------------------------------------------------------
    def _expect_type(self, type: str | None) -> Artifact:
        """This artifact, if it has `type` (when one is asked for)."""
        if type is not None and self.type != type:
            raise ArtifactError(
                f"artifact {self.qualified_name} has type {self.type!r}, not {type!r}"
            )
        return self

    def _logged(self, what: str) -> Version:
        if self._version is None:
            raise ArtifactError(
                f"artifact {self.name} has no {what} yet: log it first (run.log_artifact(art))"
            )
        return self._version

    @property
    def version(self) -> str:
        return f"v{self._logged('version').version}"

    @property
    def digest(self) -> str:
        return self._logged("digest").digest

    @property
    def project(self) -> str:
        return self._logged("project").project

    @property
    def qualified_name(self) -> str:
        v = self._logged("version")
        return f"{v.project}/{v.label}"

    @property
    def source_name(self) -> str:
        return self._logged("version").label

    @property
    def size(self) -> int:
        return int(self._logged("size").manifest.get("size") or 0)

    @property
    def manifest(self) -> dict[str, Any]:
        return self._logged("manifest").manifest

    def logged_by(self) -> dict[str, Any] | None:
        """The run that logged this version: {"project", "id"} (None when none did)."""
        return self._logged("lineage").manifest.get("logged_by")

    def used_by(self) -> list[dict[str, Any]]:
        """The runs that used this version, oldest first: [{"project", "id", "time"}]."""
        assert self._registry is not None
        return self._registry.used_by(self._logged("lineage"))

    def wait(self, timeout: float | None = None) -> Artifact:
        """Logging is done when log_artifact returns (kept for wandb's API)."""
        return self

    def files(self) -> list[ArtifactEntry]:
        v = self._logged("files")
        return [self._entry(p, e) for p, e in sorted(v.entries.items())]

    def get_entry(self, name: str) -> ArtifactEntry:
        entry = self._logged("files").entries.get(name)
        if entry is None:
            raise ArtifactNotFoundError(
                f"artifact {self.qualified_name} has no entry {name!r}; it has "
                f"{', '.join(sorted(self.manifest['entries'])[:10]) or 'no entries'}"
            )
        return self._entry(name, entry)

    get_path = get_entry

    def _entry(self, path: str, e: dict[str, Any]) -> ArtifactEntry:
        return ArtifactEntry(path, e.get("sha256"), e.get("size"), e.get("ref"), self)

    def download(self, root: str | os.PathLike[str] | None = None, **_kwargs: Any) -> str:
        """Copy the version's files into `root` (default ./artifacts/NAME:vN) with their
        relative paths, file:// references from where they point (as wandb); other
        references are not fetched, and a warning names them. Returns the directory."""
        v = self._logged("files")
        target = self._root(root)
        unfetched = []
        for path, e in sorted(v.entries.items()):
            if "sha256" in e:
                self._export(path, e["sha256"], target)
            elif e.get("ref") and fetch_file_ref(e["ref"], target / check_entry_path(path)) is None:
                unfetched.append(str(e["ref"]))
        target.mkdir(parents=True, exist_ok=True)
        if unfetched:
            warnings.warn(
                f"flightlog: artifact {self.qualified_name}: {len(unfetched)} reference(s) are "
                f"kept, not fetched: {', '.join(unfetched[:5])}; fetch them from there "
                "(ArtifactEntry.ref)",
                RuntimeWarning,
                stacklevel=2,
            )
        return str(target)

    def file(self, root: str | os.PathLike[str] | None = None) -> str:
        """The path of the one file of a single-file artifact, downloaded."""
        files = [e for e in self.files() if e.ref is None]
        if len(files) != 1:
            raise ArtifactError(
                f"artifact {self.qualified_name} has {len(files)} files, file() needs exactly "
                "one: use download()"
            )
        return files[0].download(root)

    def _root(self, root: str | os.PathLike[str] | None) -> Path:
        if root is not None:
            return Path(root)
        return Path("artifacts") / self.source_name

    def _export(self, path: str, sha256: str, root: str | os.PathLike[str] | Path | None) -> Path:
        dest = self._root(root) / check_entry_path(path)
        if dest.is_file() and sha256_file(dest)[0] == sha256:
            return dest
        return self._holding(path, sha256).export(sha256, dest)

    def _holding(self, path: str, sha256: str) -> BlobStore:
        """The blobs holding entry `path`'s content `sha256`: the store's (a version read
        from a server: its cache, artifacts/server_artifact.py)."""
        assert self._registry is not None
        if not self._registry.blobs.has(sha256):
            raise ArtifactNotFoundError(
                f"artifact {self.qualified_name}: the content of {path!r} is not in the store "
                f"({self._registry.blobs.dir}); fetch it again with `flightlog artifact get`"
            )
        return self._registry.blobs

    def __repr__(self) -> str:
        where = self._version.label if self._version else "not logged"
        return f"<flightlog Artifact {self.name} ({self.type}, {where})>"
