"""The bucket's Hive tree read directly, as README "Beyond one machine" shows, holds each
segment once. A segment sealed twice (a store copied off a compute node mid-run and synced,
then sealed longer by the job: tests/test_found2_copied_store.py) had both seals under
`segments/`, so a direct reader counted the shorter's rows twice; now the shorter moves to
`superseded/` once the longer is recorded, through replicas (racing too) and through
`flightlog server migrate`, and the server still reads every row.

The README's query is read as it shows it from Python (pyarrow's Hive dataset over the S3
stand-in), its SQL run by DuckDB over that dataset: DuckDB's own S3 reader (httpfs) is an
extension it downloads, which a test machine without network cannot."""

# ruff: noqa: F811 - the services' fixtures are imported, then named as parameters
from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from flightlog.cli import main
from flightlog.sync.accounts import Accounts
from tests.scale_cluster import Cluster
from tests.scale_services import S3Server, pg_url, postgres, s3_env, s3server  # noqa: F401
from tests.servers import segment_file, tidy_table
from tests.test_found2_copied_store import TRAIN, copied_mid_run, copy_store
from tests.test_scale_replicas import (  # noqa: F401 - the cluster fixture
    client,
    cluster,
    pytestmark,
    with_env,
)
from tests.test_sync_batch import _placer


def readme_query(s3: S3Server, uri: str) -> dict[str, int]:
    """Rows of key 'loss' per run of entity alice, read from the bucket's Hive tree as the
    README reads it (no server involved)."""
    fs = pafs.S3FileSystem(
        access_key="testing",
        secret_key="testing",
        region="us-east-1",
        endpoint_override=s3.endpoint.removeprefix("http://"),
        scheme="http",
    )
    history = ds.dataset(f"{uri[5:]}/segments/stream=history", filesystem=fs, partitioning="hive")
    with duckdb.connect() as con:
        con.register("history", history)
        rows = con.execute(
            "SELECT run_id, count(*) FROM history WHERE entity = 'alice' AND key = 'loss' "
            "GROUP BY run_id"
        ).fetchall()
    return {str(r): int(n) for r, n in rows}


def superseded(s3: S3Server, uri: str) -> list[str]:
    return sorted(k.rsplit("/", 1)[1] for k in s3.objects(uri) if "/superseded/" in k)


def test_a_store_synced_from_copies_is_read_once_from_the_bucket(
    cluster: Cluster, store: Path, tmp_path: Path, s3_env: S3Server
) -> None:
    key = cluster.user("alice")
    copy = copied_mid_run(store, tmp_path, in_segment=True)
    rc, out = with_env(cluster.env(key), "sync", "--all", "--root", str(copy))
    assert rc == 0, out
    copy_store(store, copy)  # the next rsync, after the job ended: both seals of segment 1
    rc, out = with_env(cluster.env(key), "sync", "--all", "--root", str(copy))
    assert rc == 0, out

    assert readme_query(s3_env, cluster.store) == {"copied": 3000}  # before: 4501
    assert len(superseded(s3_env, cluster.store)) == 1  # moved, never deleted
    for replica in cluster.replicas:
        with client(replica.url, key) as c:
            rows = c.history("alice", "p", "copied", keys=["loss"])
        assert [r["loss"] for r in rows] == [float(s) for s in range(3000)], len(rows)


def test_a_copy_taken_while_rows_were_only_in_the_journal_is_read_once_from_the_bucket(
    cluster: Cluster, store: Path, tmp_path: Path, s3_env: S3Server
) -> None:
    """As above, the copy taken while the rows are in the journal alone (the writer has not
    yet written them into a segment: a copy at any moment of a fast loop; made certain here
    by the longest flush interval, 60 s)."""
    key = cluster.user("alice")
    slow = TRAIN.replace('"flush_interval": 0.01', '"flush_interval": 60')
    assert slow != TRAIN
    copy = copied_mid_run(store, tmp_path, slow, at_step=1500)
    for _ in range(2):
        rc, out = with_env(cluster.env(key), "sync", "--all", "--root", str(copy))
        assert rc == 0, out
        copy_store(store, copy)
    assert readme_query(s3_env, cluster.store) == {"copied": 3000}  # before: 4501
    assert len(superseded(s3_env, cluster.store)) == 1  # the copy's, sealed from its journal
    for replica in cluster.replicas:
        with client(replica.url, key) as c:
            rows = c.history("alice", "p", "copied", keys=["loss"])
        assert [r["loss"] for r in rows] == [float(s) for s in range(3000)], len(rows)
    rc, out = with_env(cluster.env(key), "sync", "--all", "--root", str(copy))
    assert rc == 0 and "synced" in out and "0 segment(s) sent" in out, out  # nothing resent


def test_replicas_racing_to_store_the_longer_seal_leave_one_seal_in_the_bucket(
    cluster: Cluster, tmp_path: Path, s3_env: S3Server
) -> None:
    key = cluster.user("alice")
    a, b = cluster.replicas
    short, long = (
        segment_file(tmp_path / where, tidy_table(steps), seq=1)
        for where, steps in (("copy", 1500), ("job", 3000))
    )
    with client(a.url, key) as c:
        c.put_run("alice", "p", "r1", {"id": "r1", "name": "r1"}, [])
        assert c.put_segment("alice", "p", "r1", "history", short) is True
    stored: list[bool] = []

    def put(url: str, seal: Path) -> None:
        with client(url, key) as c:
            stored.append(c.put_segment("alice", "p", "r1", "history", seal))

    racers = [
        threading.Thread(target=put, args=racer)
        for racer in ((a.url, long), (b.url, long), (b.url, short))
    ]
    for t in racers:
        t.start()
    for t in racers:
        t.join()
    assert sorted(stored) == [False, False, True], stored  # the longer stored once

    assert readme_query(s3_env, cluster.store) == {"r1": 3000}
    assert superseded(s3_env, cluster.store) == [short.name]
    for replica in cluster.replicas:
        with client(replica.url, key) as c:
            assert len(c.history("alice", "p", "r1", keys=["loss"])) == 3000


def test_a_longer_seal_migrated_after_the_shorter_leaves_one_seal_in_the_bucket(
    tmp_path: Path, pg_url: str, s3_env: S3Server
) -> None:
    root, bucket = tmp_path / "server", s3_env.new_bucket()
    Accounts(root).add_user("alice")
    _, place = _placer(root)
    args = ["server", "migrate", "--root", str(root), "--db", pg_url, "--store", bucket]
    short, long = (
        segment_file(tmp_path / where, tidy_table(steps), seq=1)
        for where, steps in (("copy", 1500), ("job", 3000))
    )
    for seal in (short, long):  # the old server, still serving, keeps both seals
        assert place(seal) is True
        assert main(args) == 0  # each migrated as it came

    assert readme_query(s3_env, bucket) == {"r1": 3000}
    assert superseded(s3_env, bucket) == [short.name]
