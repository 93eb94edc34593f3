"""The run catalog: which runs a server holds (their run.json and writer states) and which
sealed segments of theirs are stored, in the database shared by every replica.

With segments in an object store there is no directory to list, and listing a bucket is slow
and only eventually tidy; the catalog is the one place that says what exists. A segment row is
inserted only after its object was written and its sha256 checked, so a row always names
readable bytes; the primary key (run, stream, writer, seq) makes two replicas storing the same
segment at once end with one row, and a different content for the same writer and sequence a
conflict - unless it is a longer seal of the same segment (sync/seal_growth.py), to which the
row then moves. The rows are also the run's sync state: what the server has confirmed.

The shorter seal a row moved off is kept in `seal_moves`, in the same transaction, until its
object has left the bucket's Hive tree (sync/seal_retirement.py `finish_moves`): a move that
failed, or a replica killed between the record and the move, is finished by the client's
retry, the writer's next upload, or a replica's start - none of which lists the bucket.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from flightlog.store.layout import sealed_segment_name

from ..writer_states import merged, run_json_behind
from .drivers import Driver


@dataclass(frozen=True)
class SegmentRow:
    stream: str
    writer: str
    seq: int
    sha256: str
    size: int

    @property
    def name(self) -> str:
        """The segment's file name, as the store names sealed segments."""
        return sealed_segment_name(self.writer, self.seq, self.sha256)


class Catalog:
    def __init__(self, driver: Driver) -> None:
        self.driver = driver

    def put_run(
        self, entity: str, project: str, run_id: str, meta: str, writers: dict[str, str]
    ) -> bool:
        """Store run.json and the writers' states (JSON text, as validated); True when new.
        Writer states merge: a state not sent again is kept. The merge holds the run's row
        locked: the nodes of a multi-node run each sync their own writers' states, through
        any replica, at once - read, then written unlocked, the last write dropped the state
        the other had just stored."""
        now = time.time()
        lock = " FOR UPDATE" if self.driver.dialect == "postgresql" else ""  # SQLite: tx(lock)
        where = "WHERE entity = ? AND project = ? AND run_id = ?"
        key = [entity, project, run_id]
        with self.driver.tx(lock=True) as db:
            new = db.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [entity, project, run_id, meta, json.dumps(writers), now, now],
            ).rowcount
            if not new:
                sql = f"SELECT writers FROM runs {where}{lock}"
                row = db.execute(sql, key).fetchone()
                assert row is not None  # there: the insert found it, and runs are never removed
                stored = json.loads(row[0])  # (writer_states.py: which are the later)
                behind = run_json_behind(stored, writers)  # an older copy's run.json: kept out
                db.execute(
                    f"UPDATE runs SET meta = COALESCE(?, meta), writers = ?, updated = ? {where}",
                    [None if behind else meta, json.dumps(merged(stored, writers)), now, *key],
                )
        return new == 1

    def run(self, entity: str, project: str, run_id: str) -> tuple[str, dict[str, str]] | None:
        """(run.json text, {writer: state text}) or None when the run is not here."""
        with self.driver.tx() as db:
            row = db.execute(
                "SELECT meta, writers FROM runs WHERE entity = ? AND project = ? AND run_id = ?",
                [entity, project, run_id],
            ).fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def run_ids(
        self, entity: str, project: str, after: str = "", limit: int | None = None
    ) -> list[str]:
        sql = (
            "SELECT run_id FROM runs WHERE entity = ? AND project = ? AND run_id > ? "
            "ORDER BY run_id"
        )
        params: list[Any] = [entity, project, after]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self.driver.tx() as db:
            return [r[0] for r in db.execute(sql, params).fetchall()]

    def runs(self) -> list[tuple[str, str, str]]:
        """(entity, project, run_id) of every run."""
        with self.driver.tx() as db:
            return [
                tuple(r)
                for r in db.execute(
                    "SELECT entity, project, run_id FROM runs ORDER BY entity, project, run_id"
                ).fetchall()
            ]

    def changed_since(self, since: float) -> list[tuple[str, str, str, float]]:
        """(entity, project, run_id, updated) of the runs whose metadata or segments were
        stored after `since` (by any replica), oldest first."""
        with self.driver.tx() as db:
            rows = db.execute(
                "SELECT entity, project, run_id, updated FROM runs WHERE updated > ? "
                "ORDER BY updated",
                [since],
            ).fetchall()
        return [(r[0], r[1], r[2], float(r[3])) for r in rows]

    def segments(self, entity: str, project: str, run_id: str) -> list[SegmentRow]:
        with self.driver.tx() as db:
            rows = db.execute(
                "SELECT stream, writer, seq, sha256, size FROM segments WHERE entity = ? AND "
                "project = ? AND run_id = ? ORDER BY stream, writer, seq",
                [entity, project, run_id],
            ).fetchall()
        return [SegmentRow(r[0], r[1], int(r[2]), r[3], int(r[4])) for r in rows]

    def writer_segments(
        self, entity: str, project: str, run_id: str, stream: str, writer: str, from_seq: int = 0
    ) -> list[SegmentRow]:
        """One writer's segments of a stream numbered `from_seq` or more, by number (a range
        of the primary key: asked after every upload, it reads no other writer's rows)."""
        with self.driver.tx() as db:
            rows = db.execute(
                "SELECT stream, writer, seq, sha256, size FROM segments WHERE entity = ? AND "
                "project = ? AND run_id = ? AND stream = ? AND writer = ? AND seq >= ? "
                "ORDER BY seq",
                [entity, project, run_id, stream, writer, from_seq],
            ).fetchall()
        return [SegmentRow(r[0], r[1], int(r[2]), r[3], int(r[4])) for r in rows]

    def segment(
        self, entity: str, project: str, run_id: str, stream: str, writer: str, seq: int
    ) -> str | None:
        """The sha256 stored for this writer's segment number, or None."""
        with self.driver.tx() as db:
            row = db.execute(
                "SELECT sha256 FROM segments WHERE entity = ? AND project = ? AND run_id = ? "
                "AND stream = ? AND writer = ? AND seq = ?",
                [entity, project, run_id, stream, writer, seq],
            ).fetchone()
        return row[0] if row else None

    def placed(
        self, entity: str, project: str, run_id: str, stream: str, writer: str, seq: int
    ) -> tuple[str | None, bool]:
        """(the sha256 stored for this writer's segment number or None, whether any seal of
        the writer's segments of `stream` still waits to leave the Hive tree): asked once per
        upload, in one query (two lookups by primary key prefix)."""
        address = [entity, project, run_id, stream, writer]
        with self.driver.tx() as db:
            row = db.execute(
                "SELECT (SELECT sha256 FROM segments WHERE entity = ? AND project = ? AND "
                "run_id = ? AND stream = ? AND writer = ? AND seq = ?), EXISTS (SELECT 1 FROM "
                "seal_moves WHERE entity = ? AND project = ? AND run_id = ? AND stream = ? AND "
                "writer = ?)",
                [*address, seq, *address],
            ).fetchone()
        return row[0], bool(row[1])

    def seal_moves(
        self,
        entity: str | None = None,
        project: str = "",
        run_id: str = "",
        stream: str = "",
        writer: str = "",
    ) -> list[tuple[tuple[str, str, str], SegmentRow]]:
        """((entity, project, run_id), seal) of the shorter seals that still wait to leave
        the Hive tree: one writer's of one stream, or every run's when `entity` is None (a
        replica's start)."""
        sql = "SELECT entity, project, run_id, stream, writer, seq, sha256, size FROM seal_moves"
        params: list[Any] = []
        if entity is not None:
            sql += " WHERE entity = ? AND project = ? AND run_id = ? AND stream = ? AND writer = ?"
            params = [entity, project, run_id, stream, writer]
        with self.driver.tx() as db:
            rows = db.execute(sql + " ORDER BY 1, 2, 3, 4, 5, 6", params).fetchall()
        return [
            ((r[0], r[1], r[2]), SegmentRow(r[3], r[4], int(r[5]), r[6], int(r[7]))) for r in rows
        ]

    def seal_moved(self, entity: str, project: str, run_id: str, seal: SegmentRow) -> None:
        """`seal` (from `seal_moves`) has left the Hive tree."""
        with self.driver.tx() as db:
            db.execute(
                "DELETE FROM seal_moves WHERE entity = ? AND project = ? AND run_id = ? AND "
                "stream = ? AND writer = ? AND seq = ? AND sha256 = ?",
                [entity, project, run_id, *_key(seal), seal.sha256],
            )

    def add_segment(
        self, entity: str, project: str, run_id: str, seg: SegmentRow, replacing: str | None = None
    ) -> str | None:
        """Record a stored segment. None when this call recorded it, else the sha256 already
        recorded for its writer and number (the same one: a no-op; another: a conflict).
        `replacing`: the sha256 recorded now, of a shorter seal of the same segment whose rows
        `seg` holds (sync/seal_growth.py); the row is moved to `seg` only if it still names
        that one (two replicas growing it at once: one wins, the other is answered with it).
        Readers then read the longer; the shorter is kept in `seal_moves` until the caller
        has moved its object out of the bucket's Hive tree (seal_retirement.py
        finish_moves)."""
        now = time.time()
        with self.driver.tx() as db:
            if replacing is None:
                n = db.execute(
                    "INSERT INTO segments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    [entity, project, run_id, *_key(seg), seg.sha256, seg.size, now],
                ).rowcount
            else:  # the shorter's move is owed from here (whichever replica's update wins)
                db.execute(
                    "INSERT INTO seal_moves SELECT entity, project, run_id, stream, writer, seq, "
                    "sha256, size FROM segments WHERE entity = ? AND project = ? AND run_id = ? "
                    "AND stream = ? AND writer = ? AND seq = ? AND sha256 = ? "
                    "ON CONFLICT DO NOTHING",
                    [entity, project, run_id, *_key(seg), replacing],
                )
                n = db.execute(
                    "UPDATE segments SET sha256 = ?, size = ?, stored = ? WHERE entity = ? AND "
                    "project = ? AND run_id = ? AND stream = ? AND writer = ? AND seq = ? AND "
                    "sha256 = ?",
                    [seg.sha256, seg.size, now, entity, project, run_id, *_key(seg), replacing],
                ).rowcount
            if n == 1:  # the run changed: listings on every replica catch up (changed_since)
                db.execute(
                    "UPDATE runs SET updated = ? WHERE entity = ? AND project = ? AND run_id = ?",
                    [now, entity, project, run_id],
                )
        if n == 1:
            return None
        return self.segment(entity, project, run_id, seg.stream, seg.writer, seg.seq)

    def counts(self) -> tuple[int, int, int]:
        """Runs, segments and their bytes: what `migrate` and `/metrics` report."""
        with self.driver.tx() as db:
            runs = db.execute("SELECT count(*) FROM runs").fetchone()
            segs = db.execute("SELECT count(*), coalesce(sum(size), 0) FROM segments").fetchone()
        return int(runs[0]), int(segs[0]), int(segs[1])


def _key(seg: SegmentRow) -> tuple[str, str, int]:
    """A segment row's stream, writer and number: what names it within its run."""
    return seg.stream, seg.writer, seg.seq
