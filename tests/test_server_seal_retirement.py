"""A seal this replica uploaded but did not record leaves the bucket's Hive tree only once
the catalog is known to name a seal it can never replace. Two replicas share a catalog and
a bucket (a local directory: the layout and moves are the same as on S3); the catalog failing
as this replica records its upload (a connection lost, a full disk) said nothing about what
the catalog names: the seal may be the one another replica recorded meanwhile (the same bytes
under the same key), and moving it to `superseded/` took the recorded seal out of the tree a
direct reader of the bucket reads."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from flightlog.sync.accounts import Accounts
from flightlog.sync.db.catalog import Catalog
from flightlog.sync.db.drivers import SqliteDriver
from flightlog.sync.limits import ServerLimits
from flightlog.sync.objstore import ObjectStore
from flightlog.sync.receive import check_segment_name
from flightlog.sync.shared_store import SharedStore
from tests.servers import segment_file, tidy_table


def replica(root: Path, bucket: Path, db: Path) -> SharedStore:
    """A replica's store over the shared bucket and catalog (a connection of its own)."""
    return SharedStore(
        root, ServerLimits(), ObjectStore.from_uri(str(bucket)), Catalog(SqliteDriver(db))
    )


def upload(store: SharedStore, seal: Path) -> bool:
    """`seal` uploaded to run alice/p/r1 through `store`, as the routes place it."""
    tmp = store.uploads / f"{seal.name}.tmp"
    shutil.copy(seal, tmp)
    seg = check_segment_name("history", seal.name)
    return store.place_segment(store.paths("alice", "p", "r1"), "history", seg, tmp, seg.sha256)


def shorter_stored(tmp_path: Path, a: SharedStore) -> tuple[Path, Path]:
    """(a shorter and a longer seal of one segment of run alice/p/r1), the shorter stored
    through replica `a` (a copy's seal, then the job's own)."""
    a.put_run("alice", "p", "r1", {"id": "r1", "name": "r1"}, [])
    short, long = (
        segment_file(tmp_path / where, tidy_table(steps), seq=1)
        for where, steps in (("copy", 1500), ("job", 3000))
    )
    assert upload(a, short) is True
    return short, long


def in_tree(bucket: Path, seal: Path) -> bool:
    key = ObjectStore.segment_key("alice", "p", "r1", "history", seal.name)
    return (bucket / key).is_file()


def test_a_seal_recorded_by_another_replica_stays_in_the_tree_when_the_catalog_fails(
    tmp_path: Path,
) -> None:
    bucket, db = tmp_path / "bucket", tmp_path / "server-db" / "accounts.sqlite"
    Accounts(db.parent)  # the shared database, its tables made
    a, b = (replica(tmp_path / name, bucket, db) for name in ("a", "b"))
    short, long = shorter_stored(tmp_path, a)

    recorded = a.catalog.add_segment

    def fails_after_the_other_records(*args, **kw):
        # replica b stores the same longer seal meanwhile (the same key, recorded), then
        # this replica's catalog connection fails before it learns so
        assert upload(b, long) is True
        raise sqlite3.OperationalError("disk I/O error")

    a.catalog.add_segment = fails_after_the_other_records
    with pytest.raises(sqlite3.OperationalError):
        upload(a, long)  # answered 5xx: the client sends it again
    a.catalog.add_segment = recorded

    seg = check_segment_name("history", long.name)
    assert b.catalog.segment("alice", "p", "r1", "history", seg.writer, seg.seq) == seg.sha256
    assert in_tree(bucket, long)  # before: moved to superseded/, the recorded seal
    assert not in_tree(bucket, short)
    assert upload(a, long) is False  # the client's retry: already stored
    assert in_tree(bucket, long)


def test_a_seal_left_by_a_failed_upload_leaves_the_tree_when_its_retry_finds_a_longer_one(
    tmp_path: Path,
) -> None:
    """The catalog failed as replica a recorded its upload: the seal stays in the tree, and
    the client's retry decides. Meanwhile replica b recorded a longer seal: the retry finds
    nothing to store, and the seal the failed upload left must leave the tree then (a direct
    reader of the bucket counted its rows twice)."""
    bucket, db = tmp_path / "bucket", tmp_path / "server-db" / "accounts.sqlite"
    Accounts(db.parent)
    a, b = (replica(tmp_path / name, bucket, db) for name in ("a", "b"))
    a.put_run("alice", "p", "r1", {"id": "r1", "name": "r1"}, [])
    short, mid, long = (
        segment_file(tmp_path / where, tidy_table(steps), seq=1)
        for where, steps in (("copy", 1000), ("mid", 2000), ("job", 3000))
    )
    assert upload(a, short) is True
    recorded = a.catalog.add_segment

    def fails(*args, **kw):
        raise sqlite3.OperationalError("disk I/O error")

    a.catalog.add_segment = fails
    with pytest.raises(sqlite3.OperationalError):
        upload(a, mid)  # answered 5xx: the client sends it again
    a.catalog.add_segment = recorded
    assert in_tree(bucket, mid)
    assert upload(b, long) is True  # the longer seal, recorded through replica b
    assert upload(a, mid) is False  # the retry: nothing the stored seal lacks
    assert in_tree(bucket, long) and not in_tree(bucket, short)
    assert not in_tree(bucket, mid)
