"""A shorter seal whose move out of the bucket's Hive tree failed after the longer was
recorded, or whose replica died between the record and the move, stayed in `segments/` for
good: nothing looked at it again, and the client's retry was answered "already stored" with
nothing else done; a direct reader of the bucket counted its rows twice (found by the bucket
helper, session 15). The catalog now keeps the replaced seal owed a move (`seal_moves`) until
it is done, a failed move answers 5xx, and the retry - told so by the query every upload
makes anyway, without listing the bucket - finishes it (test_seal_moves_owed.py: the
writer's next upload, a replica's start).

Two replicas share a catalog (SQLite) and a bucket on a local directory (the layout and the
moves are S3's); the move fails as a real filesystem does: a file stands where
`superseded/` must be made."""

from __future__ import annotations

from pathlib import Path

import pytest

from flightlog.sync.accounts import Accounts
from flightlog.sync.shared_store import SharedStore
from tests.test_server_seal_retirement import in_tree, replica, shorter_stored, upload


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, SharedStore, SharedStore, Path, Path]:
    """(the bucket, replicas a and b, a shorter and a longer seal of one segment), the
    shorter stored through a."""
    bucket, db = tmp_path / "bucket", tmp_path / "server-db" / "accounts.sqlite"
    Accounts(db.parent)
    a, b = (replica(tmp_path / name, bucket, db) for name in ("a", "b"))
    short, long = shorter_stored(tmp_path, a)
    return bucket, a, b, short, long


def test_a_shorter_seal_whose_move_failed_leaves_the_tree_on_the_clients_retry(
    stored: tuple[Path, SharedStore, SharedStore, Path, Path],
) -> None:
    bucket, a, b, short, long = stored
    blocker = bucket / "superseded"
    blocker.write_text("in the way")

    try:  # 201, the failure logged (or a 5xx, after which the client sends it again)
        upload(b, long)
    except OSError:
        pass
    assert in_tree(bucket, short) and in_tree(bucket, long)  # every row still in the tree
    assert [r.name for r in a.catalog.segments("alice", "p", "r1")] == [long.name]

    blocker.unlink()
    assert upload(a, long) is False  # sent again, through the other replica: already stored
    assert in_tree(bucket, long) and not in_tree(bucket, short)  # now: both, for good
    assert (bucket / "superseded" / "segments").is_dir()
    a.fetch_segments("alice", "p", "r1")  # the replicas still read it all
    assert (a.paths("alice", "p", "r1").history / long.name).is_file()


def test_a_retry_moves_nothing_the_recorded_seal_does_not_hold(
    stored: tuple[Path, SharedStore, SharedStore, Path, Path],
) -> None:
    """A seal of the same number in the tree that the recorded one does not hold (a longer
    one another replica is recording right now) stays where it is."""
    bucket, _, b, short, long = stored
    # the longer seal's object written, its record not yet made (another replica, mid-upload)
    key = b.objects.segment_key("alice", "p", "r1", "history", long.name)
    b.objects.put(key, long, long.name.rsplit("-", 1)[1].removesuffix(".parquet"))
    assert upload(b, short) is False  # a retry of the recorded seal
    assert in_tree(bucket, short) and in_tree(bucket, long)
