"""Seals that leave the bucket's Hive tree (`segments/`) for `superseded/` (objstore.py
`retire`), so that a direct reader of the bucket counts every row once, while the catalog
and the replicas still find them: a shorter seal of a segment once a longer one is recorded
(seal_growth.py), and a segment sealed from a writer's journal by a copy's sync once the
writer's own recorded seals hold its rows. A seal leaves only when a seal the catalog names
holds every row of it; the catalog only ever moves a row to a longer seal holding its rows,
so what is held once stays held, whichever replica looks and when.

An upload cut between recording its seal and moving the journal-sealed segments that seal
holds (a replica killed, a move that failed: a 5xx) is sent again by its client; the retry
finds its seal recorded and finishes the moves (`retire_recovered`). A shorter seal a
longer one replaced is kept in the catalog's `seal_moves`, in the transaction that records
the longer, until its move is done (`finish_moves`): a move that failed (a 5xx) or was cut
by a dead replica is finished by the client's retry, the writer's next upload, or a
replica's start - the catalog says whether one is owed, in the query each upload makes
anyway, so no upload lists the bucket.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flightlog.store.segments import segment_mark
from flightlog.store.takeover import RECOVERED_SEQ

from .db.catalog import Catalog, SegmentRow
from .objstore import ObjectStore
from .seal_growth import held, step_span

log = logging.getLogger("flightlog.server")


def fetch_segment(
    objects: ObjectStore, address: tuple[str, str, str], row: SegmentRow, directory: Path
) -> Path:
    """The file of `row` (its stream, name and sha256; the run at `address`: entity, project,
    id) in `directory`, downloaded from the object store and checked unless already there."""
    path = directory / row.name
    if not path.exists():
        key = ObjectStore.segment_key(*address, row.stream, row.name)
        objects.get_segment(key, path, row.sha256)
    return path


def retire_seal(objects: ObjectStore, address: tuple[str, str, str], row: SegmentRow) -> None:
    """Move the seal `row` of the run at `address` to `superseded/` (ObjectStore.retire):
    the catalog names another seal of its segment now, and a direct reader of the bucket's
    Hive tree counted its rows twice. A failure is logged, not raised: the upload it follows
    is stored and recorded, and the seal is still one the server reads right."""
    key = ObjectStore.segment_key(*address, row.stream, row.name)
    try:
        objects.retire(key)
    except OSError as e:
        log.warning("%s stays in the segments/ tree (move it to superseded/): %s", key, e)


def finish_moves(
    objects: ObjectStore, catalog: Catalog, owed: list[tuple[tuple[str, str, str], SegmentRow]]
) -> None:
    """Move each seal of `owed` (Catalog.seal_moves: replaced by a longer seal recorded)
    to `superseded/`, then strike it from the catalog's list. A move that fails raises
    (the upload's answer is a 5xx): the seal stays owed, and in the tree, never lost."""
    for address, seal in owed:
        objects.retire(ObjectStore.segment_key(*address, seal.stream, seal.name))
        catalog.seal_moved(*address, seal)


def retire_recovered(
    objects: ObjectStore,
    catalog: Catalog,
    address: tuple[str, str, str],
    stream: str,
    writer: str,
    directory: Path,
    memory: int,
) -> int:
    """Move to `superseded/` each segment sealed from `writer`'s journal by someone else
    (store/takeover.py: numbered from RECOVERED_SEQ; a store copied mid-run, synced from
    the copy) whose rows the writer's own seals recorded in the catalog hold: the job sealed
    them again itself, and a direct reader of the bucket's Hive tree counted them twice.
    Returns how many moved. Files compared are fetched into `directory`.

    Only seals the catalog names count, and the catalog only ever moves a row to a longer
    seal holding its rows: what is held once stays held, so a replica racing another (each
    recording a segment of the writer, then looking at what the catalog lists) retires
    nothing that is not. The catalog keeps naming the segment (the server reads it from
    `superseded/`, as a client asking what is stored is told). A comparison that fails is
    logged: the segment stays in the tree, read twice there, never lost; a move that fails
    raises (the upload's answer is a 5xx, and the client's retry, which finds its segment
    recorded, moves it)."""
    recovered = catalog.writer_segments(*address, stream, writer, RECOVERED_SEQ)
    if not recovered:
        return 0  # (one indexed look per upload: the common case)
    own = [r for r in catalog.writer_segments(*address, stream, writer) if r.seq < RECOVERED_SEQ]
    if not own:
        return 0  # the job's own seals are not here yet
    moved = 0
    for row in recovered:
        key = ObjectStore.segment_key(*address, stream, row.name)
        if objects.size(key) is None:
            continue  # moved already
        try:
            covered = _held_by_own(objects, address, row, own, directory, memory)
        except OSError as e:
            log.warning("%s stays in the segments/ tree (its writer's seals unread): %s", key, e)
            continue
        if covered:
            objects.retire(key)
            moved += 1
    return moved


def _held_by_own(
    objects: ObjectStore,
    address: tuple[str, str, str],
    recovered: SegmentRow,
    own: list[SegmentRow],
    directory: Path,
    memory: int,
) -> bool:
    """Whether the writer's seals `own` (by number) hold every row of `recovered`. Its
    newest seal must reach past its journal mark (a writer killed before it sealed them:
    one file read, and no); the seals compared are those whose steps meet its steps,
    newest first, down to one that ends before they start."""
    path = fetch_segment(objects, address, recovered, directory)
    mark, span = segment_mark(path), step_span(path)
    if mark is None or span is None:
        return False
    holders = []
    for i, row in enumerate(reversed(own)):
        seal = fetch_segment(objects, address, row, directory)
        reach = segment_mark(seal) if i == 0 else mark
        if reach is None or reach < mark:
            return False
        steps = step_span(seal)
        if steps is not None and steps[1] < span[0]:
            break
        if steps is None or steps[0] <= span[1]:
            holders.append(seal)
    return held(path, holders, memory)
