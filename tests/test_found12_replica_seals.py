"""Two seals of one segment on replicas that share a bucket and a PostgreSQL catalog, for
real: a store copied off a compute node mid-run (rsync to a login node), synced from the
copy, copied again after the job and synced again (tests/test_found2_copied_store.py has
the whole story). The one-machine server keeps both seals and reads the longer
(sync/seal_growth.py); a replica refused the job's longer seal with a 409 for ever, so
`flightlog sync` failed on every try and the rows only the job's seal holds never reached
the team server."""

# ruff: noqa: F811 - the services' fixtures are imported, then named as parameters
from __future__ import annotations

from pathlib import Path

import httpx

from flightlog.cli import main
from flightlog.sync.accounts import Accounts
from flightlog.sync.db.catalog import Catalog
from tests.scale_cluster import Cluster, Replica
from tests.scale_services import S3Server, pg_url, postgres, s3_env, s3server  # noqa: F401
from tests.servers import segment_file, tidy_table
from tests.test_found2_copied_store import copied_mid_run, copy_store
from tests.test_scale_replicas import (  # noqa: F401 - the cluster fixture
    client,
    cluster,
    pytestmark,
    with_env,
)
from tests.test_sync_batch import _placer


def test_a_store_synced_from_copies_reaches_the_replicas_whole(
    cluster: Cluster, store: Path, tmp_path: Path
) -> None:
    key = cluster.user("alice")
    copy = copied_mid_run(store, tmp_path)

    rc, out = with_env(cluster.env(key), "sync", "--all", "--root", str(copy))
    assert rc == 0, out
    copy_store(store, copy)  # the next rsync, after the job ended
    rc, out = with_env(cluster.env(key), "sync", "--all", "--root", str(copy))
    assert rc == 0, out  # (before: "already stored with different content" - a 409)

    for replica in cluster.replicas:  # either replica reads the longer seal
        with client(replica.url, key) as c:
            rows = c.history("alice", "p", "copied", keys=["loss"])
        assert [r["loss"] for r in rows] == [float(s) for s in range(3000)], len(rows)
    rc, out = with_env(cluster.env(key), "sync", "--all", "--root", str(copy))
    assert rc == 0 and "synced" in out, out


def test_the_longer_seal_is_stored_the_shorter_after_it_is_stored_other_rows_conflict(
    cluster: Cluster, tmp_path: Path
) -> None:
    """Each through another replica: the catalog, not a replica's cache, decides."""
    key = cluster.user("alice")
    a, b = cluster.replicas
    with client(a.url, key) as c:
        c.put_run("alice", "p", "r1", {"id": "r1", "name": "r1"}, [])
    short = segment_file(tmp_path / "copy", tidy_table(1500), seq=1)
    long = segment_file(tmp_path / "job", tidy_table(3000), seq=1)
    other = segment_file(tmp_path / "other", tidy_table(4000, start=10), seq=1)

    def put(url: str, seg: Path) -> httpx.Response:
        return httpx.put(
            f"{url}/api/v1/runs/alice/p/r1/segments/history/{seg.name}",
            content=seg.read_bytes(),
            headers={"Authorization": f"Bearer {key}"},
            timeout=120,
        )

    assert put(a.url, short).status_code == 201
    got = put(b.url, long)
    assert (got.status_code, got.json()) == (201, {"stored": True}), got.text
    got = put(a.url, short)  # what the longer holds: already stored
    assert (got.status_code, got.json()) == (200, {"stored": False}), got.text
    got = put(a.url, long)
    assert (got.status_code, got.json()) == (200, {"stored": False}), got.text
    got = put(b.url, other)
    assert got.status_code == 409 and "different content" in got.json()["message"], got.text
    for replica in cluster.replicas:
        with client(replica.url, key) as c:
            assert c.segments("alice", "p", "r1")["history"] == {long.name}
            rows = c.history("alice", "p", "r1", keys=["loss"])
        assert len(rows) == 3000


def test_a_segment_sealed_longer_after_a_migration_is_migrated_by_the_next(
    tmp_path: Path, pg_url: str, s3_env: S3Server
) -> None:
    """`flightlog server migrate` is run again to catch up while the old server keeps
    serving; meanwhile the old server received the job's longer seal of a segment it had
    migrated shorter. Before: "1 damaged segment(s) left behind", and the rows only the
    longer seal holds never reached the replicas."""
    root = tmp_path / "server"
    Accounts(root).add_user("alice")
    _, place = _placer(root)
    short = segment_file(tmp_path / "copy", tidy_table(1500), seq=1)
    long = segment_file(tmp_path / "job", tidy_table(3000), seq=1)
    assert place(short) is True
    bucket = s3_env.new_bucket()
    args = ["server", "migrate", "--root", str(root), "--db", pg_url, "--store", bucket]
    assert main(args) == 0
    assert place(long) is True  # the old server keeps both, and reads the longer
    assert main(args) == 0
    assert main(args) == 0  # and once more: nothing left to do

    target = Accounts(db=pg_url)
    catalog = Catalog(target.driver)
    assert [s.name for s in catalog.segments("alice", "p", "r1")] == [long.name]
    key = target.create_key("alice")
    replica = Replica(tmp_path / "replica", target, pg_url, bucket).start()
    try:
        with client(replica.url, key) as c:
            assert len(c.history("alice", "p", "r1", keys=["loss"])) == 3000
    finally:
        replica.stop()
