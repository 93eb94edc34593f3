"""What `flightlog server migrate` reports: `N segment(s) copied, M already there` counts
each segment of the old server once, in one of the two (or as damaged). A replica of the
new cluster that recorded a segment while the migration uploaded it (the old server keeps
serving, and the job syncs to the new one too) left it out of both counts (another seal of
it) or counted it as copied (the same seal). The SQLite accounts of another root and a
file:// bucket stand in for PostgreSQL and S3 (sync/migrate_store.py takes either)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flightlog.store.blobs import sha256_file
from flightlog.sync.accounts import Accounts
from flightlog.sync.db.catalog import Catalog, SegmentRow
from flightlog.sync.migrate_store import migrate
from flightlog.sync.objstore import ObjectStore
from tests.servers import segment_file, tidy_table
from tests.test_sync_batch import _placer


def _row(path: Path) -> SegmentRow:
    return SegmentRow("history", "w1", 1, sha256_file(path)[0], path.stat().st_size)


def test_segments_are_counted_copied_then_already_there(tmp_path: Path) -> None:
    root = tmp_path / "server"
    _, place = _placer(root)
    for seq in (1, 2):
        place(segment_file(tmp_path / "job", tidy_table(100), seq=seq))
    target = Accounts(tmp_path / "target")
    bucket = ObjectStore.from_uri(f"file://{tmp_path / 'bucket'}")
    first = migrate(root, target, bucket)
    assert (first.segments, first.skipped, first.damaged) == (2, 0, [])
    again = migrate(root, target, bucket)
    assert (again.segments, again.skipped, again.damaged) == (0, 2, [])


@pytest.mark.parametrize("replica_seal", ["the same", "a longer"])
def test_a_segment_a_replica_records_meanwhile_is_counted_already_there(
    tmp_path: Path, replica_seal: str
) -> None:
    root = tmp_path / "server"
    _, place = _placer(root)
    ours = segment_file(tmp_path / "copy", tidy_table(1500), seq=1)
    place(ours)
    theirs = (
        ours if replica_seal == "the same" else segment_file(tmp_path / "job", tidy_table(3000))
    )
    target = Accounts(tmp_path / "target")

    class RacedBucket(ObjectStore):
        """The new cluster's bucket, real, whose first upload a replica races: while the
        migration uploads the segment, the replica records its seal of it."""

        raced = False

        def put(self, key: str, source: Path, sha256: str) -> bool:
            wrote = super().put(key, source, sha256)
            if not RacedBucket.raced:
                RacedBucket.raced = True
                Catalog(target.driver).add_segment("alice", "p", "r1", _row(theirs))
            return wrote

    report = migrate(root, target, RacedBucket.from_uri(f"file://{tmp_path / 'bucket'}"))
    assert RacedBucket.raced
    assert (report.segments, report.skipped, report.damaged) == (0, 1, [])
    assert [s.sha256 for s in Catalog(target.driver).segments("alice", "p", "r1")] == [
        _row(theirs).sha256
    ]
