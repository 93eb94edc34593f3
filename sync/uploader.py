"""Shipping one run to a server: metadata, then the sealed segments the server lacks.

Resumable by construction: the server is asked which segments it has and only the others are
sent (a segment is immutable and named by its sha256, so "has the name" means "has the
bytes"). A run is marked synced locally - `sync.json` in its directory - only after the
server confirmed every segment of a run that is no longer running; a marked run whose files
have not changed since is skipped without a request, so a catch-up over a thousand synced
runs costs no network round trips.
"""

from __future__ import annotations

import errno
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flightlog._errors import (
    EntityNotFoundError,
    NotFoundError,
    NotLoggedInError,
    ServerRejectedError,
    ServerUnavailableError,
    SyncError,
    WrongServerError,
)
from flightlog.store.atomic import dumps
from flightlog.store.layout import RunPaths
from flightlog.store.liveness import RUNNING
from flightlog.store.reader import StoredRun
from flightlog.store.segments import list_segments
from flightlog.store.syncmark import read_mark, write_mark
from flightlog.store.takeover import may_seal, recover_journals, seal_taken, writers_by_id
from flightlog.store.threads import join_unwaited

from . import segment_upload
from .blob_upload import fingerprint, run_extras, sync_blobs, to_send
from .client import ServerClient
from .client_errors import entity_missing

STREAMS = ("history", "system")


@dataclass
class RunSync:
    """What syncing one run did."""

    target: str  # entity/project/id on the server
    sent: int = 0
    bytes: int = 0
    complete: bool = False  # everything confirmed and the run no longer running
    skipped: bool = False  # already marked synced and unchanged: no request made
    blobs: int = 0  # files, media and artifact files sent (sync/blob_upload.py)
    blob_bytes: int = 0
    pending: list[str] = field(default_factory=list)  # why it is not complete


@dataclass
class LocalRun:
    """A run as the uploader sees it: its sealed segments and a fingerprint of its metadata."""

    paths: RunPaths
    stored: StoredRun
    sealed: dict[str, list[Path]]
    open_segments: int
    fingerprint: str
    #: taken once, with the writer states that are sent: read later, a writer that exited
    #: meanwhile would look crashed, and a run sent as running would be marked synced
    running: bool
    #: what `up_to_date` read of the run's mark and files, for a server: (server, the entity
    #: marked, synced there and unchanged since). A sync asks it of each run several times,
    #: with the entity known or not yet; a new mark resets it
    fresh: tuple[str, str | None, bool] | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.paths.dir.parent.name}/{self.paths.dir.name}"

    def total_bytes(self) -> int:
        return sum(p.stat().st_size for ps in self.sealed.values() for p in ps)


class RunGone(FileNotFoundError):
    """The run's directory is gone (deleted locally): nothing of it is shipped, least of all
    the id-and-project run.json a missing directory reads as, over the server's copy."""


def load_local(paths: RunPaths) -> LocalRun:
    """Read a run for syncing; the open segments of writers proven gone are sealed first
    (they will never grow again, and only sealed segments are shipped). A writer that only
    looks crashed - a stalled host - keeps its segment (store/takeover.py). A run whose
    run.json cannot be read is still shipped: its segments, with the id and project its
    directory names."""
    join_unwaited()  # a run this process finished: its writer thread seals it first
    stored = StoredRun.load_any(paths)
    if stored.problem is not None and not paths.dir.is_dir():
        raise RunGone(errno.ENOENT, "the run was deleted here; the server keeps its copy")
    writers = writers_by_id(stored.writers)
    sealed: dict[str, list[Path]] = {}
    open_segments = 0
    try:
        recover_journals(paths, writers)  # rows a killed writer's segments lack
    except OSError:
        pass  # a read-only store: left to `flightlog doctor --repair`
    for stream in STREAMS:
        sealed[stream] = []
        for name, path in list_segments(paths.stream(stream)):
            if may_seal(name, path, writers):
                try:
                    taken = seal_taken(name, path)
                except OSError:
                    taken = None  # a read-only store: left to `flightlog doctor --repair`
                if taken is not None:
                    sealed[stream].append(taken)
                    continue
            if name.sealed:
                sealed[stream].append(path)
            else:
                open_segments += 1
    # what was just read, not the files again: metadata and writer states as loaded
    fingerprint = hashlib.sha256(dumps([stored.meta, stored.writers], indent=None)).hexdigest()
    return LocalRun(paths, stored, sealed, open_segments, fingerprint, stored.state == RUNNING)


def up_to_date(local: LocalRun, server: str, entity: str | None) -> bool:
    """Marked synced to `server`, into `entity` when it is known without asking the server
    (Entities.known), and nothing changed since; the mark and files are read once per run
    and server (`LocalRun.fresh`), whichever entity is asked about. A run synced to the
    user's entity and now sent to a team's (`--entity`) is not up to date there."""
    if local.fresh is None or local.fresh[0] != server:
        local.fresh = (server, *_synced_into(local, server))
    _, marked, unchanged = local.fresh
    return unchanged and (entity is None or marked == entity)


def _synced_into(local: LocalRun, server: str) -> tuple[str | None, bool]:
    """The entity the run's mark says it was synced into on `server`, and whether it was
    synced completely and nothing changed since."""
    state = read_mark(local.paths)
    entity = state.get("entity")
    if not state.get("complete") or state.get("server") != server:
        return entity, False
    if state.get("fingerprint") != local.fingerprint or local.open_segments:
        return entity, False
    if (state.get("blobs") or {}).get("fingerprint") != fingerprint(local.paths, local.running):
        return entity, False
    confirmed = state.get("confirmed") or {}
    sent = all({p.name for p in local.sealed[s]} <= set(confirmed.get(s) or ()) for s in STREAMS)
    return entity, sent


#: refusals of any request to the server: no other request of a sync can work either
#: (forget_lost raises them; `flightlog sync` stops at the first)
NO_REQUEST_CAN_WORK = (NotLoggedInError, WrongServerError)


def forget_lost(client: ServerClient, runs: list[LocalRun], entities: Entities) -> int:
    """Clear the marks of runs marked synced that the server no longer has (its root
    restored from an older backup, a project deleted there), so that this sync sends them
    again; returns how many. One listing of run ids per project of marked runs (a mark
    alone said "synced" of runs the server had lost, and nothing ever sent them again),
    `up_to_date` kept for the sync that follows. A project the server does not know has
    lost them all. A refused key, or a URL that is no flightlog server's, is raised: those
    listings are the only requests of a sync whose runs are all marked, which said "synced"
    under a key the server refuses. Any other failure checks nothing (the sync that follows
    says what is wrong)."""
    server = client.creds.base_url
    by_project: dict[tuple[str, str], list[LocalRun]] = {}
    try:
        for local in runs:
            if up_to_date(local, server, entities.known(local)):
                where = (entities.of(local), names_of(local)[0])
                by_project.setdefault(where, []).append(local)
    except NO_REQUEST_CAN_WORK:
        raise
    except SyncError:  # asking for the key's user failed: the sync says why
        return 0
    lost = []
    for (entity, project), marked in by_project.items():
        try:
            there = client.run_ids(entity, project)
        except NotFoundError:
            there = set()
        except NO_REQUEST_CAN_WORK:
            raise
        except SyncError:
            continue
        lost += [local for local in marked if names_of(local)[1] not in there]
    for local in lost:
        write_mark(local.paths, {})
        local.fresh = None
    return len(lost)


class Entities:
    """The entity each run goes to: the one asked for (`--entity`), else the run's own, else
    the key's user - asked once, as wandb's default entity."""

    def __init__(self, client: ServerClient, override: str | None = None) -> None:
        self.client = client
        self.override = override
        self._user: str | None = None

    def known(self, local: LocalRun) -> str | None:
        """The run's entity if it is known without asking the server."""
        entity = self.override or local.stored.meta.get("entity")
        return str(entity) if entity else None

    def of(self, local: LocalRun) -> str:
        if entity := self.known(local):
            return entity
        if self._user is None:
            self._user = str(self.client.whoami()["user"])
        return self._user

    def refused(self, e: SyncError) -> SyncError:
        """`e`, an unknown entity blamed on `--entity` when the entity came from there (the
        client, which cannot tell, names the run's entity)."""
        if isinstance(e, EntityNotFoundError) and self.override:
            return entity_missing(self.override, self.client.shown, "the --entity given")
        return e


def sync_run(
    client: ServerClient,
    local: LocalRun,
    entity: str,
    on_bytes: Callable[[int], None] | None = None,
    result: RunSync | None = None,
    on_blob_part: Callable[[int], None] | None = None,
    together: Together | None = None,
) -> RunSync:
    """Ship one run; raises the client's errors (the caller decides to retry or report).
    `on_bytes(size)` is called once per segment, sent or not, for progress bars. `result`,
    when given, is filled in as the server confirms segments, so a caller knows what was
    stored even when a later request fails. The run's blobs follow its segments
    (`on_blob_part(size)` after each part of one). `together`: the segments sent with its
    metadata and the server's answer, when a request for several runs carried them
    (sync_many)."""
    meta = local.stored.meta
    project, run_id = names_of(local)
    if result is None:
        result = RunSync("")
    result.target = f"{entity}/{project}/{run_id}"
    server = client.creds.base_url
    last = read_mark(local.paths)
    found = None
    refused: dict[str, str] = {}  # "stream/name" -> why, of segments sent with the metadata
    if up_to_date(local, server, entity):
        result.skipped = result.complete = True
        known: dict[str, Any] = {}
        have: dict[str, set[str]] = {}
    else:
        if together is not None:
            known, found, extras = together[2]
        else:
            known, found, extras = put_extras(local, last, result.target, server)
        doc = {"meta": meta, "writers": local.stored.writers, **extras}
        answer, refused = _together(client, local, last, result, doc, together)
        if answer is None:  # nothing new, too much to send unasked, or an older server
            have, answer = client.start_run(
                entity, project, run_id, meta, local.stored.writers, extras
            )
        else:
            have = {st: set(names) for st, names in (answer.get("segments") or {}).items()}
    todo: list[tuple[str, Path]] = []
    for stream in STREAMS:
        for path in local.sealed[stream]:
            if result.skipped or path.name in have.setdefault(stream, set()):
                if on_bytes:
                    on_bytes(path.stat().st_size)
            elif f"{stream}/{path.name}" not in refused:
                todo.append((stream, path))
    if todo or refused:
        _send(client, (entity, project, run_id), todo, have, result, on_bytes, refused)
    if result.skipped:
        return result
    blobs = known
    if found is not None:
        target = (entity, project, run_id)
        blobs = sync_blobs(client, local, target, result, known, found, answer, on_blob_part)
    if local.running:
        result.pending.append("still running")
    if local.open_segments:
        result.pending.append(f"{local.open_segments} open segment(s) not sealed yet")
    result.complete = not result.pending
    _mark(local, server, entity, result.target, have, result.complete, blobs)
    return result


def names_of(local: LocalRun) -> tuple[str, str]:
    """The run's project and id on the server."""
    meta = local.stored.meta
    return str(meta.get("project") or local.paths.dir.parent.name), str(
        meta.get("id") or local.paths.dir.name
    )


def put_extras(local: LocalRun, last: dict[str, Any], target: str, server: str) -> Extras:
    """What the run's PUT says of its files: (the blobs its mark knows, the files to send -
    None if none changed since the mark - and the PUT body's extras)."""
    known = (last.get("blobs") or {}) if last.get("server") == server else {}
    found = to_send(local, known, target)
    return known, found, run_extras(found) if found is not None else {}


def unconfirmed(
    local: LocalRun, last: dict[str, Any], target: str, server: str
) -> list[segment_upload.Item]:
    """The sealed segments the server should lack: those the sync mark does not list, or
    all of them if the run was never synced to this target."""
    same = last.get("server") == server and last.get("target") == target
    confirmed = (last.get("confirmed") or {}) if same else {}
    known = {s: set(confirmed.get(s) or ()) for s in STREAMS}
    return [(s, p) for s in STREAMS for p in local.sealed[s] if p.name not in known[s]]


def _together(
    client: ServerClient,
    local: LocalRun,
    last: dict[str, Any],
    result: RunSync,
    doc: dict[str, Any],
    together: Together | None = None,
) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """Send the run's PUT body with the segments the server should lack in one request
    (sync/run_sync_routes.py) - or take `together`, what a request for several runs sent
    and was answered. The answer (None if not sent: nothing new, more than one batch, or an
    older server) and the segments refused, "stream/name" -> why."""
    if together is not None:
        items, answer, _ = together
    else:
        items = unconfirmed(local, last, result.target, client.creds.base_url)
        if not items or len(segment_upload.plan(items)) > 1:
            return None, {}
        try:  # not retried: a link that cuts long requests still carries the usual ones
            answer = client.sync_run(*result.target.split("/"), doc, items, retries=0)
        except ServerUnavailableError:  # also a disk too full for the whole body: the
            return None, {}  # batches that follow are halved until what fits is stored
        if answer is None:
            return None, {}
    sent = segment_upload.Sent()
    sent.take(client, items, answer["results"])
    result.sent += len(sent.stored)
    result.bytes += sum(path.stat().st_size for _, path in sent.stored)
    if sent.failure is not None:
        raise sent.failure
    return answer, {r.split(": ", 1)[0]: r for r in sent.refused}


#: what a request for several runs (sync_many.py) sent of a run - its segments, and
#: `put_extras` for its PUT body - and the server's answer
Extras = tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]
Together = tuple[list[segment_upload.Item], dict[str, Any], Extras]


def _send(
    client: ServerClient,
    target: tuple[str, str, str],
    todo: list[tuple[str, Path]],
    have: dict[str, set[str]],
    result: RunSync,
    on_bytes: Callable[[int], None] | None,
    refused: dict[str, str] | None = None,
) -> None:
    """Send the segments the server lacks and count what it confirmed; then raise the first
    failure, or name every segment it refused (with those `refused` already)."""

    def done(items: list[tuple[str, Path]]) -> None:
        if on_bytes:
            for _, path in items:
                on_bytes(path.stat().st_size)

    sent = segment_upload.send(client, target, todo, done)
    sent.refused[:0] = (refused or {}).values()
    for stream, path in sent.confirmed:
        have[stream].add(path.name)
    result.sent += len(sent.stored)
    result.bytes += sum(path.stat().st_size for _, path in sent.stored)
    if sent.failure is not None:
        raise sent.failure
    if sent.refused:
        more = f" (and {len(sent.refused) - 3} more)" if len(sent.refused) > 3 else ""
        raise ServerRejectedError(
            f"{len(sent.refused)} segment(s) of {'/'.join(target)} refused; the others were "
            f"stored: {'; '.join(sent.refused[:3])}{more}"
        )


def _mark(
    local: LocalRun,
    server: str,
    entity: str,
    target: str,
    have: dict[str, set[str]],
    complete: bool,
    blobs: dict[str, Any],
) -> None:
    """Record what the server confirmed (the server stays the truth: this saves round trips
    and shows the state in `flightlog runs` and the UI)."""
    local.fresh = None
    write_mark(
        local.paths,
        {
            "server": server,
            "entity": entity,
            "target": target,
            "complete": complete,
            "fingerprint": local.fingerprint,
            "confirmed": {s: sorted(have.get(s, ())) for s in STREAMS},
            "blobs": blobs,
            "synced_at": time.time(),
        },
    )
