"""The receiving store of a server replica that shares nothing local: run metadata and the
list of stored segments in the catalog (the database), segment bytes in an object store.

It answers the same calls as `ReceivingStore` (receive.py), which it uses for validation and
as its read cache: `root/cache` is an ordinary store holding the runs this replica has served,
filled from the catalog and the bucket on demand. Segments are immutable and named by their
sha256, so a cached segment is never stale; run.json and writer states are rewritten from the
catalog on every read. Any replica can therefore answer any request, and losing a replica
(kill -9, a replaced machine) loses only its cache and the uploads it had not answered.

An upload is placed in this order: its sha256 and content checked in a local temp file, the
object written (or found already there), read back and checked, then recorded in the
catalog, and only then answered 201. Two replicas storing the same segment at once both
write the same key (identical bytes) and one catalog row wins; the other answers 200
`{"stored": false}`. Under the same writer and number, a longer seal that holds every row of
the stored one (a store copied mid-run, sealed there, then sealed by the run itself:
seal_growth.py) is stored beside it and the catalog row moves to it, a shorter one is
already stored, and any other content is a 409 - as a one-machine server answers. The seal
the catalog no longer names (or never came to name) then leaves the bucket's Hive tree for
`superseded/` (seal_retirement.py, objstore.py), so readers of the bucket count its rows
once, and so does a segment sealed from a writer's journal by a copy's sync once the
writer's own seals holding its rows are recorded: looked at after every segment of its
writer is recorded or found recorded, so that the client's retry of an upload cut between
its steps (a move that failed is a 5xx) finishes the move. A replaced seal's move is owed
in the catalog until done: the client's retry, the writer's next upload or a replica's
start does it (`finish_moves`). Only the upload that replaced the seal answers 5xx when the
move fails; later ones log it and try again at the writer's next upload.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from flightlog.store.arrow_owned import Bytes
from flightlog.store.atomic import atomic_write_bytes
from flightlog.store.layout import RunPaths, SegmentName, run_key

from .db.catalog import Catalog, SegmentRow
from .limits import ServerLimits
from .objstore import ObjectStore
from .receive import STREAMS, ReceivingStore, check_digest, conflict, key_of, run_documents
from .refused import Refused, run_missing
from .seal_growth import grown
from .seal_retirement import fetch_segment, finish_moves, retire_recovered, retire_seal
from .segment_check import check_segment_file

log = logging.getLogger("flightlog.server")
CACHE = "cache"
#: seconds each look for changed runs reaches back past the newest change seen
CLOCK_SLACK = 10.0


class SharedStore:
    def __init__(
        self, root: Path | str, limits: ServerLimits, objects: ObjectStore, catalog: Catalog
    ) -> None:
        self.cache = ReceivingStore(Path(root) / CACHE, limits)
        self.root = self.cache.root
        self.uploads = self.cache.uploads
        self.limits = limits
        self.objects = objects
        self.catalog = catalog
        #: called with a run's key after this replica stored its metadata or a segment
        self.on_change: Callable[[str], None] = lambda run_key: None
        self._seen: dict[tuple[str, str, str], float] = {}  # run -> `updated` brought in
        self._seen_until = 0.0

    def paths(self, entity: str, project: str, run_id: str) -> RunPaths:
        return self.cache.paths(entity, project, run_id)

    def uploading(self, paths: RunPaths, creating: bool = False) -> contextlib.nullcontext[None]:
        """Nothing to hold: a replica's runs are not deleted (run_delete_routes.py)."""
        return contextlib.nullcontext()

    def require_run(self, entity: str, project: str, run_id: str) -> RunPaths:
        if self.catalog.run(entity, project, run_id) is None:
            raise run_missing(entity, project, run_id)
        return self.paths(entity, project, run_id)

    def put_run(
        self, entity: str, project: str, run_id: str, meta: dict[str, Any], writers: list[Any]
    ) -> bool:
        """Check as receive.py does, write into the cache, then record the same documents in
        the catalog; True when the catalog did not have the run."""
        paths = self.paths(entity, project, run_id)
        body, states = run_documents(entity, project, run_id, meta, writers)
        self.cache.write_run(paths, body, states)
        texts = {wid: b.decode() for wid, b in states.items()}
        new = self.catalog.put_run(entity, project, run_id, body.decode(), texts)
        self.on_change(key_of(paths))
        return new

    def segments(self, entity: str, project: str, run_id: str) -> dict[str, list[str]] | None:
        if self.catalog.run(entity, project, run_id) is None:
            return None
        out: dict[str, list[str]] = {s: [] for s in STREAMS}
        for row in self.catalog.segments(entity, project, run_id):
            out[row.stream].append(row.name)
        return out

    def place_segment(
        self,
        paths: RunPaths,
        stream: str,
        seg: SegmentName,
        tmp: Path,
        digest: str,
        contents: Bytes | None = None,
    ) -> bool:
        """Check, store once in the bucket, record; False when it was already stored
        (`contents`: the file's bytes, if the caller holds them). A longer seal of a segment
        stored shorter takes its place in the catalog, a shorter one is already stored, any
        other content is a conflict: as a one-machine server answers (receive.py)."""
        entity, project, run_id = paths.address
        assert entity is not None, f"{paths.dir} is not a server run directory"
        check_digest(seg, digest)
        row = SegmentRow(stream, seg.writer, seg.seq, digest, tmp.stat().st_size)
        known, owed = self.catalog.placed(entity, project, run_id, stream, seg.writer, seg.seq)
        if owed:  # a shorter seal of this writer's that an earlier upload left in the tree
            try:
                self._finish_moves(paths, row)
            except OSError as e:  # still owed: never holds back the writer's uploads
                log.warning("replaced seals stay in the segments/ tree for now: %s", e)
        if known == digest:  # a retry, perhaps of an upload cut between its steps
            self._retire_recovered(paths, row)
            return False
        check_segment_file(tmp if contents is None else contents, seg.writer, self.limits.segment)
        address = (entity, project, run_id)
        key = ObjectStore.segment_key(*address, stream, row.name)
        written = unwanted = False  # unwanted: the catalog names a seal this one never replaces
        try:
            while True:
                try:
                    if known is not None and not self._grows(paths, seg, row, known, tmp):
                        unwanted = True
                        return False  # a shorter seal of what is stored: nothing it lacks
                except Refused:
                    unwanted = True  # another content under this number: a conflict
                    raise
                if not written:
                    self.objects.put(key, tmp, seg.sha256)
                    written = True
                was = known
                known = self.catalog.add_segment(entity, project, run_id, row, replacing=was)
                if known is None:
                    directory = paths.stream(stream)
                    directory.mkdir(parents=True, exist_ok=True)
                    os.replace(tmp, directory / row.name)  # this replica's cache
                    self.on_change(key_of(paths))
                    if was is not None:  # the shorter seal leaves the Hive tree (objstore.py)
                        self._finish_moves(paths, row)
                    self._retire_recovered(paths, row)
                    return True
                if known == digest:  # recorded by another replica meanwhile
                    self._retire_recovered(paths, row)
                    return False
        finally:
            # stored, then not recorded: out of the tree - only when the catalog named a seal
            # this one cannot replace. A failure (the catalog's, the fetch of the stored seal)
            # says nothing of what the catalog names: another replica may have recorded these
            # very bytes, under this key, meanwhile. The client sends it again, and that
            # upload decides: it retires what an earlier one left (one HEAD, on this path
            # only - a shorter seal or a conflict).
            if unwanted and (written or self.objects.size(key) is not None):
                retire_seal(self.objects, address, row)

    def _finish_moves(self, paths: RunPaths, row: SegmentRow) -> None:
        """The shorter seals of `row`'s writer that longer ones replaced leave the Hive
        tree (seal_retirement.py `finish_moves`; a failure raises: a 5xx, sent again)."""
        entity, project, run_id = paths.address
        assert entity is not None
        owed = self.catalog.seal_moves(entity, project, run_id, row.stream, row.writer)
        finish_moves(self.objects, self.catalog, owed)

    def finish_moves(self) -> None:
        """At a replica's start: the seals replaced by longer ones that an upload cut short
        (a failed move, a killed replica) and no client sent again left in the Hive tree
        leave it. A failure is logged: the next upload of their writer tries again."""
        try:
            finish_moves(self.objects, self.catalog, self.catalog.seal_moves())
        except OSError as e:
            log.warning("replaced seals stay in the segments/ tree for now: %s", e)

    def _retire_recovered(self, paths: RunPaths, row: SegmentRow) -> None:
        """After `row` was recorded, or found recorded (a retry finishes what an upload cut
        between its steps left): the segments sealed from its writer's journal that its
        writer's recorded seals hold leave the Hive tree (seal_retirement.py)."""
        entity, project, run_id = paths.address
        assert entity is not None
        address, where = (entity, project, run_id), paths.stream(row.stream)
        retire_recovered(
            self.objects,
            self.catalog,
            address,
            row.stream,
            row.writer,
            where,
            self.limits.read_memory,
        )

    def _grows(
        self, paths: RunPaths, seg: SegmentName, row: SegmentRow, stored: str, new: Path
    ) -> bool:
        """Whether `new` (`seg`, `row`) is a longer seal of the segment stored with sha256
        `stored` (False: a shorter one, nothing to store), or Refused as a conflict
        (seal_growth.py). The stored file is compared from this replica's cache, fetched
        into it if missing (`fetch_segment`)."""
        entity, project, run_id = paths.address
        assert entity is not None
        was = replace(row, sha256=stored)
        path = fetch_segment(self.objects, (entity, project, run_id), was, paths.stream(row.stream))
        longer = grown(path, new, self.limits.read_memory)
        if longer is None:
            raise conflict(seg, f"sha256 {stored}")
        return longer

    # -- reads: the cache, brought up to date from the catalog -------------------------
    def run_ids(self, entity: str, project: str) -> list[str]:
        return self.catalog.run_ids(entity, project)

    def readable(self, entity: str, project: str, run_id: str) -> RunPaths:
        """The run's cache directory with run.json and writer states as the catalog has
        them (no segments: `fetch_segments` brings those)."""
        paths = self.paths(entity, project, run_id)
        found = self.catalog.run(entity, project, run_id)
        if found is None:
            return paths
        meta, states = found
        for d in (paths.writers, paths.history, paths.system):
            d.mkdir(parents=True, exist_ok=True)
        for wid, text in states.items():
            _write_if_changed(paths.writer_state(wid), text.encode())
        _write_if_changed(paths.meta, meta.encode())
        return paths

    def fetch_segments(self, entity: str, project: str, run_id: str) -> None:
        """Download the run's segments this replica's cache lacks (checked by sha256)."""
        paths = self.paths(entity, project, run_id)
        for row in self.catalog.segments(entity, project, run_id):
            fetch_segment(self.objects, (entity, project, run_id), row, paths.stream(row.stream))

    def changed_runs(self) -> list[str]:
        """Keys of the runs the catalog says changed since the last call - through any
        replica - each brought into the cache (run.json, writer states, segments) for the
        listing index to describe. Timestamps come from several machines and transactions
        commit out of order, so every call looks CLOCK_SLACK seconds further back and skips
        the runs whose `updated` it has already brought in."""
        since = self._seen_until - CLOCK_SLACK
        out = []
        for entity, project, run_id, updated in self.catalog.changed_since(since):
            run = (entity, project, run_id)
            if self._seen.get(run) == updated:
                continue
            self.readable(entity, project, run_id)
            self.fetch_segments(entity, project, run_id)
            self._seen[run] = updated
            self._seen_until = max(self._seen_until, updated)
            out.append(run_key(project, run_id, entity))
        horizon = self._seen_until - CLOCK_SLACK
        self._seen = {r: t for r, t in self._seen.items() if t > horizon}
        return out

    def check(self) -> None:
        """Raise unless the object store answers."""
        self.objects.check()


def _write_if_changed(path: Path, body: bytes) -> None:
    try:
        if path.read_bytes() == body:
            return
    except OSError:
        pass
    atomic_write_bytes(path, body)


def open_store(
    root: Path | str, limits: ServerLimits, uri: str | None, catalog: Catalog
) -> ReceivingStore | SharedStore:
    """`--store URI`: segments in that object store; without it, under `root` as always."""
    if uri is None:
        return ReceivingStore(root, limits)
    objects = ObjectStore.from_uri(uri)
    try:
        objects.check()  # fail at start, not at the first upload
    except OSError as e:
        raise ValueError(
            f"cannot use the store {uri}: {e} - check that the bucket exists and the "
            "AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "variables (or ~/.aws) point at it"
        ) from None
    store = SharedStore(root, limits, objects, catalog)
    store.finish_moves()
    return store
