"""Blobs over HTTP, the client side: ask which the server lacks, send them in resumable parts,
fetch them back into a local blob store.

A blob goes in parts of `PART_BYTES` at increasing offsets; the server answers each with the
bytes it now keeps, and the "which do you lack" answer carries the offset an interrupted
upload resumes at, so a blob cut off by a dead server or network is continued, not started
again. A part sent twice (a retry after a lost answer) is ignored by the server. Memory is
one part (client) and one chunk (server).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flightlog._errors import SyncError
from flightlog.store.atomic import dumps
from flightlog.store.blobs import CHUNK, Blob, BlobStore

from .client import ServerClient

MB = 1024 * 1024
#: bytes per upload request (what the client holds in memory at once)
PART_BYTES = 8 * MB
#: blobs per "which do you lack" question
BATCH = 1000
#: seconds for one part's answer: the last part waits while the server hashes the whole blob
PART_TIMEOUT = 600.0
_JSON = {"Content-Type": "application/json"}


def lacking(
    client: ServerClient, entity: str, project: str, blobs: dict[str, int]
) -> dict[str, int]:
    """The blobs (sha256 -> size) the project lacks on the server -> the offset to resume at."""
    items = sorted(blobs.items())
    out: dict[str, int] = {}
    for i in range(0, len(items), BATCH):
        body = {"blobs": [{"sha256": s, "size": n} for s, n in items[i : i + BATCH]]}
        r = client.request(
            "POST",
            f"/blobs/{entity}/{project}/missing",
            content=dumps(body, indent=None),
            headers=_JSON,
        )
        out.update({s: int(o) for s, o in client.answer(r, "missing").items()})
    return out


def upload(
    client: ServerClient,
    entity: str,
    project: str,
    sha256: str,
    size: int,
    path: Path,
    offset: int = 0,
    on_part: Callable[[int], None] | None = None,
) -> int:
    """Send the blob at `path` from `offset` on; returns the bytes sent. `on_part(n)` after
    each part the server kept."""
    sent = 0
    url = f"/blobs/{entity}/{project}/{sha256}"
    with open(path, "rb") as f:
        while True:
            f.seek(offset)
            data = f.read(min(PART_BYTES, size - offset))
            r = client.request(
                "PUT",
                url,
                params={"size": size, "offset": offset},
                content=data,
                headers={"Content-Type": "application/octet-stream"},
                timeout=PART_TIMEOUT,
            )
            sent += len(data)
            if on_part is not None:
                on_part(len(data))
            kept = int(client.answer(r, "offset"))
            if kept >= size:
                return sent
            if kept <= offset:
                raise SyncError(
                    f"{client.shown} keeps {kept} bytes of blob {sha256} after a part "
                    f"at {offset}: the upload makes no progress; sync again later"
                )
            offset = kept


def download(
    client: ServerClient,
    entity: str,
    project: str,
    sha256: str,
    store: BlobStore,
    *,
    durable: bool = True,
) -> Blob:
    """Fetch one blob of a project into `store`, streamed through sha256: content that is not
    what its name says is not stored. `durable=False` for a cache (no fsync)."""
    with client.stream(f"/blobs/{entity}/{project}/{sha256}") as r:
        try:
            return store.put_chunks(r.iter_bytes(CHUNK), expect=sha256, durable=durable)
        except ValueError as e:
            raise SyncError(f"blob {sha256} from {client.shown}: {e}; nothing was stored") from None
