"""Artifact versions and a flightlog server: push a logged version (its blobs already sent),
fetch one into the local store with only the blobs the store lacks, find the server's
version holding a run's logged content.

The server numbers versions itself, in the order they arrive, deduplicated by digest (as the
local store does): a version fetched from the server is committed locally by content, so
`e/p/model:v3` there may be `p/model:v1` here; the digest is the same on both sides.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from flightlog._errors import ArtifactError
from flightlog.store.atomic import dumps
from flightlog.store.blobs import check_sha256_name

from .names import LATEST, ArtifactRef, check_alias, check_entry_path
from .registry import Registry, Version, manifest_digest

if TYPE_CHECKING:
    from flightlog.sync.client import ServerClient


def push(
    client: ServerClient, entity: str, project: str, version: Version, aliases: list[str]
) -> int:
    """Send a version's manifest (every file's blob must be on the server in that project);
    the server's number of that version."""
    r = client.request(
        "PUT",
        f"/artifacts/{entity}/{project}/{version.name}",
        content=dumps({"manifest": version.manifest, "aliases": aliases}, indent=None),
        headers={"Content-Type": "application/json"},
    )
    return int(client.answer(r, "version"))


def push_aliases(
    client: ServerClient, entity: str, project: str, version: Version, aliases: list[str]
) -> bool:
    """Give a version pushed before the aliases it got since (its `latest` left where it is
    on the server); False when the server is older and has no such route (nothing sent)."""
    r = client.request(
        "POST",
        f"/artifacts/{entity}/{project}/{version.name}/aliases",
        content=dumps({"manifest": version.manifest, "aliases": aliases}, indent=None),
        headers={"Content-Type": "application/json"},
        allow=(405,),
    )
    if r.status_code == 405:
        return False
    client.answer(r, "version")
    return True


def fetch(client: ServerClient, ref: ArtifactRef, registry: Registry) -> tuple[Version, int, int]:
    """Fetch `entity/project/name:alias` into the local store (its project `project`), with
    the server's aliases of that version (`latest` only if the name has none here).
    Returns (the local version, blobs fetched, bytes fetched)."""
    from flightlog.sync.blob_client import download

    assert ref.entity and ref.project
    r = client.request("GET", f"/artifacts/{ref.entity}/{ref.project}/{ref.name}/{ref.alias}")
    doc = client.document(r, "manifest")  # (a server's answer, else WrongServerError)
    manifest = doc["manifest"]
    shas = _checked_blobs(manifest, str(ref))
    fetched = size = 0
    for sha in sorted(shas):
        if not registry.blobs.has(sha):
            blob = download(client, ref.entity, ref.project, sha, registry.blobs)
            fetched, size = fetched + 1, size + blob.size
    aliases = [check_alias(str(a)) for a in doc.get("aliases") or [] if a != LATEST]
    version, _ = registry.commit(ref.project, ref.name, manifest, aliases, move_latest=False)
    return version, fetched, size


def server_version(
    client: ServerClient, entity: str, project: str, name: str, digest: str, number: int | None
) -> tuple[Version, list[str]] | None:
    """The server's version of `entity/project/name` holding the content `digest`, and its
    aliases; None when it has none. Version `number` (the local store's number) is asked
    first: a name logged on one machine has the same numbers on both sides. Else each
    version from the newest down (the server numbers versions as they arrive, and has no
    route that finds one by digest)."""
    answers: dict[int, dict[str, Any] | None] = {}

    def answer(n: int) -> dict[str, Any] | None:
        if n not in answers:
            answers[n] = _answer(client, entity, project, name, f"v{n}")
        return answers[n]

    def candidates() -> Iterator[dict[str, Any] | None]:
        if number is not None:
            yield answer(number)
        latest = _answer(client, entity, project, name, LATEST)
        if latest is not None:
            answers[int(latest["version"])] = latest
            yield from (answer(n) for n in range(int(latest["version"]), -1, -1))

    doc = next(
        (d for d in candidates() if d and manifest_digest(d["manifest"]["entries"]) == digest),
        None,
    )
    if doc is None:
        return None
    manifest = {**doc["manifest"], "digest": digest}
    aliases = [str(a) for a in doc.get("aliases") or []]
    return Version(project, name, int(doc["version"]), manifest), aliases


def _answer(
    client: ServerClient, entity: str, project: str, name: str, alias: str
) -> dict[str, Any] | None:
    """The server's `{"version", "manifest", "aliases"}` of `name:alias`, its manifest
    checked (`_checked_blobs`); None when it has no such version (another refusal, such as
    a project this key may not read, raises as any)."""
    from flightlog.sync.client_errors import error_code, refusal

    url = f"/artifacts/{entity}/{project}/{name}/{alias}"
    r = client.request("GET", url, allow=(404,))
    if r.status_code == 404:
        if error_code(r) == "artifact_not_found":
            return None
        raise refusal(r, url, client.creds)
    doc = client.document(r, "version", "manifest")
    _checked_blobs(doc["manifest"], f"{entity}/{project}/{name}:{alias}")
    return doc


def _checked_blobs(manifest: Any, what: str) -> set[str]:
    """The blobs a server's manifest names, after checking every entry: a path that would
    land outside the download directory, or a digest that is not one, is refused before
    anything is stored."""
    entries = manifest.get("entries") if isinstance(manifest, dict) else None
    if not isinstance(entries, dict):
        raise ArtifactError(f"the server's manifest of {what} has no entries: nothing was stored")
    shas = set()
    for path, e in entries.items():
        try:
            if check_entry_path(path) != path:
                raise ValueError(f"entry name {path!r} is not a plain relative path")
            if not isinstance(e, dict):
                raise ValueError(f"entry {path!r} is not an object")
            if "sha256" in e:
                shas.add(check_sha256_name(e["sha256"]))
        except ValueError as err:
            raise ArtifactError(
                f"the server's manifest of {what} is refused: {err}; nothing was stored"
            ) from None
    return shas
