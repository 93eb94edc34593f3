"""A segment sealed from a writer's journal by a copy's sync (store/takeover.py, numbered
from RECOVERED_SEQ) leaves the bucket's Hive tree for `superseded/` once the writer's own
seals of its rows are recorded (sync/seal_retirement.py `retire_recovered`), and only then:
two replicas racing never move one whose rows no recorded seal holds, and a move that
fails leaves its rows in the tree (read twice there, never lost) until the client's retry
of its upload, answered "already stored", moves it.

The segments are made as the store makes them (store/sealing.py `write_sealed`, with the
journal mark in the footer): the copy's rows 0..1500 of journal 1, the job's segment 1
(rows 0..1999) and segment 2 (rows 2000..2999)."""

# ruff: noqa: F811 - the services' fixtures are imported, then named as parameters
from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pyarrow.dataset as ds
import pytest

from flightlog.cli import main
from flightlog.store.layout import SegmentName
from flightlog.store.sealing import write_sealed
from flightlog.store.takeover import RECOVERED_SEQ
from flightlog.sync.accounts import Accounts
from tests.scale_cluster import Cluster
from tests.scale_services import S3Server, pg_url, postgres, s3_env, s3server  # noqa: F401
from tests.servers import tidy_table
from tests.test_scale_replicas import (  # noqa: F401 - the cluster fixture
    client,
    cluster,
    pytestmark,
)
from tests.test_server_bucket_hive import readme_query, superseded
from tests.test_sync_batch import _placer


def sealed(directory: Path, seq: int, start: int, stop: int) -> Path:
    """Writer w1's sealed segment `seq` of steps start..stop-1 (one 'loss' row each),
    marking journal 1's first `stop` rows as held."""
    table = tidy_table(stop - start, start=start)
    name = SegmentName("w1", seq, None, False)
    directory.mkdir(parents=True, exist_ok=True)
    return write_sealed(directory, name, table.schema, table.to_batches(), lambda: (1, stop))


@pytest.fixture
def seals(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(the copy's recovered segment, the job's segment 1, its segment 2)."""
    return (
        sealed(tmp_path / "copy", RECOVERED_SEQ + 1, 0, 1501),
        sealed(tmp_path / "job", 1, 0, 2000),
        sealed(tmp_path / "job", 2, 2000, 3000),
    )


def put(url: str, key: str, run_id: str, seal: Path) -> httpx.Response:
    return httpx.put(
        f"{url}/api/v1/runs/alice/p/{run_id}/segments/history/{seal.name}",
        content=seal.read_bytes(),
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    )


def at_once(*puts: tuple[str, str, str, Path]) -> list[httpx.Response]:
    answers: list[httpx.Response] = []
    threads = [threading.Thread(target=lambda a=a: answers.append(put(*a))) for a in puts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def new_run(cluster: Cluster, key: str, run_id: str) -> None:
    with client(cluster.replicas[0].url, key) as c:
        c.put_run("alice", "p", run_id, {"id": run_id, "name": run_id}, [])


def read_everywhere(cluster: Cluster, key: str, run_id: str) -> Iterator[list[float]]:
    for replica in cluster.replicas:
        with client(replica.url, key) as c:
            yield [r["loss"] for r in c.history("alice", "p", run_id, keys=["loss"])]


def test_a_recovered_segment_stays_until_the_seal_holding_its_rows_is_recorded(
    cluster: Cluster, s3_env: S3Server, seals: tuple[Path, Path, Path]
) -> None:
    key = cluster.user("alice")
    a, b = cluster.replicas
    copy, job1, job2 = seals
    new_run(cluster, key, "r1")
    # the job's segment 2 reaches past the copy's mark, but holds none of its rows
    answers = at_once((a.url, key, "r1", copy), (b.url, key, "r1", job2))
    assert sorted(r.status_code for r in answers) == [201, 201], [r.text for r in answers]
    assert readme_query(s3_env, cluster.store) == {"r1": 1501 + 1000}
    assert superseded(s3_env, cluster.store) == []

    assert at_once((b.url, key, "r1", job1), (a.url, key, "r1", copy))[0].status_code in (200, 201)
    assert readme_query(s3_env, cluster.store) == {"r1": 3000}  # before: 4501
    assert superseded(s3_env, cluster.store) == [copy.name]
    with client(a.url, key) as c:  # the client is told it is stored: nothing to send again
        assert copy.name in c.segments("alice", "p", "r1")["history"]
    for losses in read_everywhere(cluster, key, "r1"):
        assert losses == [float(s) for s in range(3000)], len(losses)


def test_replicas_storing_the_copys_segment_and_the_jobs_at_once_leave_each_row_once(
    cluster: Cluster, s3_env: S3Server, seals: tuple[Path, Path, Path]
) -> None:
    """Each replica records its upload, then looks at what the catalog lists: whichever
    committed last sees the other's, in either order."""
    key = cluster.user("alice")
    a, b = cluster.replicas
    copy, job1, job2 = seals
    runs = [f"r{i}" for i in range(4)]
    for i, run_id in enumerate(runs):
        new_run(cluster, key, run_id)
        first, second = (a, b) if i % 2 else (b, a)
        at_once((first.url, key, run_id, copy), (second.url, key, run_id, job1))
        assert put(second.url, key, run_id, job2).status_code == 201
    assert readme_query(s3_env, cluster.store) == {r: 3000 for r in runs}
    assert superseded(s3_env, cluster.store) == [copy.name] * len(runs)


def test_a_move_that_fails_leaves_the_rows_in_the_tree_and_the_retry_moves_them(
    tmp_path: Path, pg_url: str, seals: tuple[Path, Path, Path]
) -> None:
    """A bucket on a local directory (`--store DIR`), where the move's target directory
    cannot be made: a file stands where it goes."""
    bucket = tmp_path / "bucket"
    cluster = Cluster(tmp_path / "cluster", pg_url, str(bucket))
    try:
        key = cluster.user("alice")
        a, b = cluster.replicas
        copy, job1, _ = seals
        new_run(cluster, key, "r1")
        assert put(a.url, key, "r1", copy).status_code == 201
        blocker = bucket / "superseded" / "segments"
        blocker.parent.mkdir(parents=True)
        blocker.write_text("in the way")

        failed = put(b.url, key, "r1", job1)
        assert failed.status_code == 500, failed.text  # the client tries again
        assert hive_rows(bucket) == 1501 + 2000  # both still there: read twice, never lost
        for losses in read_everywhere(cluster, key, "r1"):
            assert losses == [float(s) for s in range(2000)], len(losses)

        blocker.unlink()
        retried = put(a.url, key, "r1", job1)  # the retry, through the other replica
        assert (retried.status_code, retried.json()) == (200, {"stored": False}), retried.text
        assert hive_rows(bucket) == 2000
        assert [p.name for p in (bucket / "superseded").rglob("*.parquet")] == [copy.name]
        for losses in read_everywhere(cluster, key, "r1"):
            assert losses == [float(s) for s in range(2000)], len(losses)
    finally:
        cluster.close()


def test_a_migration_taken_between_the_copys_sync_and_the_jobs_leaves_each_row_once(
    tmp_path: Path, pg_url: str, s3_env: S3Server, seals: tuple[Path, Path, Path]
) -> None:
    """`server migrate` of a one-machine server that keeps serving: the copy's segment
    migrated first, the job's seals received and migrated by the next run, then once more
    (resumable: nothing left to do)."""
    root, bucket = tmp_path / "server", s3_env.new_bucket()
    Accounts(root).add_user("alice")
    _, place = _placer(root)
    args = ["server", "migrate", "--root", str(root), "--db", pg_url, "--store", bucket]
    copy, job1, job2 = seals
    assert place(copy) is True
    assert main(args) == 0
    assert readme_query(s3_env, bucket) == {"r1": 1501}
    for seal in (job1, job2):
        assert place(seal) is True
    for _ in range(2):
        assert main(args) == 0
        assert readme_query(s3_env, bucket) == {"r1": 3000}  # before: 4501
        assert superseded(s3_env, bucket) == [copy.name]


def hive_rows(bucket: Path) -> int:
    """Rows of alice's runs in the bucket's Hive tree, read as the README reads it."""
    history = ds.dataset(bucket / "segments" / "stream=history", partitioning="hive")
    with duckdb.connect() as con:
        con.register("history", history)
        found = con.execute("SELECT count(*) FROM history WHERE entity = 'alice'").fetchone()
    assert found is not None
    return int(found[0])
