"""The artifact versions of a run on a team server (`Api(host=URL).run(path)`'s
`logged_artifacts()` and `used_artifacts()`), as the Artifacts a local run lists.

run.json names each version as the store that logged it numbered it, with its digest; the
server numbers versions in the order they arrive, so each is found there by its digest
(remote.server_version). A version's files are fetched when `download()` wants them, each
blob checked against its sha256 into the user's blob cache that media read from a server
share (sync/remote_blobs.py), then copied out. A version the server lacks (the run that
logged it never synced) is still listed, by name and type: what needs its files or number
raises ArtifactNotFoundError naming it and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flightlog._errors import (
    ArtifactNotFoundError,
    NotFoundError,
    PermissionDeniedError,
    UnsupportedError,
)

from .artifact import Artifact
from .names import ArtifactRef
from .registry import Registry, Version
from .remote import fetch, server_version

if TYPE_CHECKING:
    from flightlog.store.blobs import BlobStore
    from flightlog.sync.client import ServerClient
    from flightlog.sync.remote_blobs import BlobCache


@dataclass(frozen=True)
class ArtifactServer:
    """Where a server run's versions are read: the server (with the reader's key), the
    run's entity there, and the cache their files are fetched into."""

    client: ServerClient
    entity: str
    cache: BlobCache


class ServerArtifact(Artifact):
    """A version on a server, or one it lacks (`missing`: why, said when it is wanted)."""

    def __init__(
        self,
        server: ArtifactServer,
        name: str,
        type: str,
        found: tuple[Version, list[str]] | None,
        missing: str = "",
    ) -> None:
        manifest = found[0].manifest if found else {}
        super().__init__(name, type, manifest.get("description"))
        self.metadata = dict(manifest.get("metadata") or {})
        self._server = server
        self._missing = missing
        if found is not None:
            self._version, self.aliases = found

    def _logged(self, what: str) -> Version:
        if self._version is None:
            raise ArtifactNotFoundError(self._missing)
        return self._version

    def _holding(self, path: str, sha256: str) -> BlobStore:
        """The cache, holding the blob once fetched from the version's project."""
        from flightlog.sync.blob_client import download

        s, project = self._server, self.project
        if s.cache.get(sha256) is None:
            s.cache.add(
                lambda store: download(s.client, s.entity, project, sha256, store, durable=False)
            )
        return s.cache.store

    def _in_store(self, registry: Registry) -> Artifact:
        """The version fetched into `registry`'s store (the blobs it lacks), as a local run
        uses it: `run.use_artifact(api_run.logged_artifacts()[0])`."""
        v = self._logged("use")
        ref = ArtifactRef(v.name, f"v{v.version}", v.project, self._server.entity)
        version, _, _ = fetch(self._server.client, ref, registry)
        return Artifact._from_version(registry, version)

    def used_by(self) -> list[dict[str, Any]]:
        raise UnsupportedError(
            f"the runs that used {self._server.entity}/{self.qualified_name} are not read "
            f"from {self._server.client.shown}: `flightlog artifact get` it, then `flightlog "
            "artifact show` lists the local runs that used it"
        )

    def _build_manifest(self) -> dict[str, Any]:
        """Not logged by a local run (its files are on the server, not in the store): a run
        uses it (`_in_store`), and logs what it makes."""
        raise UnsupportedError(
            f"artifact {self._server.entity}/{self.qualified_name} is on "
            f"{self._server.client.shown}: fetch it into this store first (`flightlog artifact "
            f"get {self._server.entity}/{self.qualified_name} --host {self._server.client.shown}`"
            "), then use or log it by name"
        )


def server_artifacts(
    server: ArtifactServer, entries: list[dict[str, Any]], run: str, did: str
) -> list[ServerArtifact]:
    """The versions `entries` (run.json's, as `_api_run.artifact_entries` reads them) of
    run `run` (a path, for messages), which it `did` ("logged" or "used")."""
    out = []
    for e in entries:
        found, missing = _find(server, e, f"that run {run} {did}")
        kind = (found[0].manifest.get("type") if found else None) or e.get("type")
        out.append(
            ServerArtifact(server, str(e["name"]), str(kind or "unspecified"), found, missing)
        )
    return out


def _find(
    server: ArtifactServer, e: dict[str, Any], why: str
) -> tuple[tuple[Version, list[str]] | None, str]:
    """The server's version of run.json's entry `e` (None, and why, when there is none)."""
    project, name, local = str(e["project"]), str(e["name"]), str(e["version"])
    digest = str(e.get("digest") or "")
    where = f"artifact {server.entity}/{project}/{name}:{local} {why}"
    if not digest:
        return None, (
            f"{where} was recorded without its digest (by an older flightlog), so it cannot be "
            f"told apart on {server.client.shown}: fetch it by its number there with "
            f"`flightlog artifact get ENTITY/{project}/{name}:vN --host {server.client.shown}`"
        )
    try:
        number = int(local[1:]) if local[1:].isdigit() else None
        found = server_version(server.client, server.entity, project, name, digest, number)
    except (NotFoundError, PermissionDeniedError) as err:  # a project not there, or closed
        return None, f"{where}: {err}"
    return found, (
        f"{where} (numbered as where it was logged; digest {digest[:12]}) is not on "
        f"{server.client.shown}: `flightlog sync` the run that logged it, or read it with "
        "flightlog.Api() on the store that has it"
    )
