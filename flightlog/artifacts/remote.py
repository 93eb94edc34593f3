"""Artifact versions and a flightlog server: push a logged version (its blobs already sent),
fetch one into the local store with only the blobs the store lacks.

The server numbers versions itself, in the order they arrive, deduplicated by digest (as the
local store does): a version fetched from the server is committed locally by content, so
`e/p/model:v3` there may be `p/model:v1` here; the digest is the same on both sides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flightlog.store.atomic import dumps

from .names import LATEST, ArtifactRef
from .registry import Registry, Version

if TYPE_CHECKING:
    from flightlog.sync.client import ServerClient


def push(
    client: ServerClient, entity: str, project: str, version: Version, aliases: list[str]
) -> dict[str, Any]:
    """Send a version's manifest (every file's blob must be on the server in that project)."""
    r = client.request(
        "PUT",
        f"/artifacts/{entity}/{project}/{version.name}",
        content=dumps({"manifest": version.manifest, "aliases": aliases}, indent=None),
        headers={"Content-Type": "application/json"},
    )
    return r.json()


def fetch(client: ServerClient, ref: ArtifactRef, registry: Registry) -> tuple[Version, int, int]:
    """Fetch `entity/project/name:alias` into the local store (its project `project`), with
    the server's aliases of that version (`latest` only if the name has none here).
    Returns (the local version, blobs fetched, bytes fetched)."""
    from flightlog.sync.blob_client import download

    assert ref.entity and ref.project
    doc = client.request(
        "GET", f"/artifacts/{ref.entity}/{ref.project}/{ref.name}/{ref.alias}"
    ).json()
    manifest = doc["manifest"]
    fetched = size = 0
    shas = {e["sha256"] for e in manifest.get("entries", {}).values() if "sha256" in e}
    for sha in sorted(shas):
        if not registry.blobs.has(sha):
            blob = download(client, ref.entity, ref.project, sha, registry.blobs)
            fetched, size = fetched + 1, size + blob.size
    aliases = [a for a in doc.get("aliases") or [] if a != LATEST]
    version, _ = registry.commit(ref.project, ref.name, manifest, aliases, move_latest=False)
    return version, fetched, size
