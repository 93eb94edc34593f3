"""Batches of segments (sync/batch_routes.py) on stateless replicas, for real: PostgreSQL
and an S3-compatible bucket behind two `flightlog server` processes. A batch is stored
through the replica's catalog and bucket exactly as single uploads are: once, whichever
replica answers, even when both receive the same batch at once."""

# ruff: noqa: F811 - the services' fixtures are imported, then named as parameters
from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from flightlog.sync.db.catalog import Catalog
from flightlog.sync.frames import BATCH_TYPE, frame_header
from tests.scale_cluster import Cluster
from tests.scale_services import (  # noqa: F401 - fixtures
    S3Server,
    pg_url,
    postgres,
    s3_env,
    s3server,
)
from tests.servers import segment_file, tidy_table
from tests.test_scale_replicas import (  # noqa: F401 - the cluster fixture
    alice_with_run,
    client,
    cluster,
    local_segments,
    segment_objects,
    train,
    with_env,
)

pytestmark = pytest.mark.slow


def test_a_run_of_small_segments_syncs_in_batches_through_replicas_once(
    cluster: Cluster, store: Path, s3_env: S3Server
) -> None:
    key = cluster.user("alice")
    run_id = train(rows=20, steps=2000)
    segments = local_segments(store, run_id)
    assert len(segments) >= 5  # about 100; fewer when a loaded machine merges flushes
    rc, out = with_env(cluster.env(key), "sync", "--all")
    assert rc == 0, out
    assert f"{len(segments)} segment(s) sent" in out
    catalog = Catalog(cluster.accounts.driver)
    assert sorted(s.name for s in catalog.segments("alice", "p", run_id)) == segments
    assert sorted(k.rsplit("/", 1)[1] for k in segment_objects(s3_env, cluster.store)) == segments
    for replica in cluster.replicas:
        with client(replica.url, key) as c:
            rows = c.history("alice", "p", run_id, keys=["i"])
        assert [r["i"] for r in rows] == list(range(2000))


def test_one_batch_sent_to_both_replicas_at_once_is_stored_once(
    cluster: Cluster, tmp_path: Path, s3_env: S3Server
) -> None:
    a, b = cluster.replicas
    key = alice_with_run(cluster, a, "twice")
    segs = [segment_file(tmp_path, tidy_table(50, start=s * 50), seq=s) for s in range(1, 9)]
    body = b"".join(frame_header("history", p) + p.read_bytes() for p in segs)
    barrier = threading.Barrier(2)
    answers: list[list[dict]] = []

    def post(url: str) -> None:
        barrier.wait()
        r = httpx.post(
            f"{url}/api/v1/runs/alice/p/r1/segments",
            content=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": BATCH_TYPE},
            timeout=120,
        )
        r.raise_for_status()
        answers.append(r.json()["results"])

    threads = [threading.Thread(target=post, args=(r.url,)) for r in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(answers) == 2
    for i, seg in enumerate(segs):  # one replica stored each, the other found it stored
        got = sorted((ans[i]["name"], ans[i]["status"]) for ans in answers)
        assert got == [(seg.name, 200), (seg.name, 201)]
    assert len(segment_objects(s3_env, cluster.store)) == len(segs)
    assert len(Catalog(cluster.accounts.driver).segments("alice", "p", "r1")) == len(segs)
    with client(b.url, key) as c:
        rows = c.history("alice", "p", "r1")
    assert [r["loss"] for r in rows] == [float(s) for s in range(50, 450)]
