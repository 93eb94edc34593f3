"""Stateless replicas, for real: two `flightlog server` processes on one PostgreSQL and one
S3-compatible bucket, a client hitting either through a round-robin proxy; the sync tests'
key scenarios, concurrent uploads of one segment, a replica killed with -9 mid-sync, and the
health and metrics endpoints."""

# ruff: noqa: F811 - the services' fixtures are imported, then named as parameters
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from flightlog.sync.client import ServerClient
from flightlog.sync.credentials import Credentials
from flightlog.sync.db.catalog import Catalog
from tests.conftest import cli, python_script
from tests.scale_cluster import Cluster, Replica
from tests.scale_services import (  # noqa: F401 - fixtures
    S3Server,
    pg_url,
    postgres,
    s3_env,
    s3server,
)
from tests.servers import segment_file, tidy_table
from tests.test_sync_agent import TRAIN  # a run that seals a segment every `rows` steps

pytestmark = pytest.mark.slow

SEGMENT_KEY = re.compile(
    r"^flightlog/segments/stream=(history|system)/entity=alice/project=p/run_id=\w+/"
    r"[a-z0-9]+-\d{6}-[0-9a-f]{64}\.parquet$"
)


@pytest.fixture
def cluster(tmp_path: Path, pg_url: str, s3_env: S3Server) -> Iterator[Cluster]:
    c = Cluster(tmp_path / "cluster", pg_url, s3_env.new_bucket())
    yield c
    c.close()


def client(url: str, key: str) -> ServerClient:
    return ServerClient(Credentials(url, key, "file"), retries=0)


def alice_with_run(cluster: Cluster, through: Replica, name: str) -> str:
    """User alice's key, after creating her run alice/p/r1 (named `name`) via `through`."""
    key = cluster.user("alice")
    with client(through.url, key) as c:
        c.put_run("alice", "p", "r1", {"id": "r1", "name": name}, [])
    return key


def with_env(env: dict[str, str], *args: str, timeout: float = 120) -> tuple[int, str]:
    r = subprocess.run(
        [sys.executable, "-m", "flightlog.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
    )
    return r.returncode, r.stdout + r.stderr


def local_segments(store: Path, run_id: str) -> list[str]:
    d = store / "runs" / "p" / run_id
    return sorted(p.name for s in ("history", "system") for p in (d / s).glob("*.parquet"))


def segment_objects(s3: S3Server, uri: str) -> dict[str, int]:
    """The bucket's segment objects (blobs and upload parts left out)."""
    return {k: n for k, n in s3.objects(uri).items() if k.startswith("flightlog/segments/")}


def files_of(url: str, key: str, run_id: str) -> list[tuple[str, bytes]]:
    """(name, content) of each of a run's files, as one replica serves them."""
    auth = {"Authorization": f"Bearer {key}"}
    base = f"{url}/api/v1/runs/alice/p/{run_id}/files"
    listed = httpx.get(base, headers=auth, timeout=60).json()["files"]
    return [
        (f["name"], httpx.get(f"{base}/{f['name']}", headers=auth, timeout=60).content)
        for f in listed
    ]


def wait_until(cond: Callable[[], object], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}")


def kill_with_half_a_body(replica: Replica, path: str, key: str, body: bytes) -> None:
    """PUT `body` to `path` on the replica and kill it with -9 once it is receiving it, with
    half of it sent: a crash in the middle of an upload."""
    with socket.create_connection(("127.0.0.1", replica.port)) as s:
        s.sendall(
            f"PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) // 2]
        )
        uploads = replica.root / "cache" / ".uploads"
        wait_until(lambda: any(uploads.glob(".upload-*")), 60, "the replica is receiving it")
        replica.kill()


def train(rows: int, steps: int) -> str:
    r = python_script(TRAIN.format(rows=rows, steps=steps, pause=0.03), timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_a_run_synced_through_two_replicas_reads_the_same_from_either(
    cluster: Cluster, store: Path, s3_env: S3Server
) -> None:
    key = cluster.user("alice")
    bob = cluster.user("bob")
    run_id = train(rows=200, steps=2000)
    segments = local_segments(store, run_id)
    assert len(segments) >= 4  # about 10; fewer when a loaded machine merges flushes

    rc, out = with_env(cluster.env(key), "sync", "--all")
    assert rc == 0, out
    assert f"{len(segments)} segment(s) sent" in out
    assert len(cluster.proxy.hits) == 2, "both replicas answered requests"
    for replica in cluster.replicas:  # either replica serves the whole run
        with client(replica.url, key) as c:
            rows = c.history("alice", "p", run_id, keys=["i"])
            assert [r["i"] for r in rows] == list(range(2000))
            assert [r["id"] for r in c.runs("alice", "p")] == [run_id]
            assert c.run("alice", "p", run_id)["state"] == "finished"
    # a second sync finds everything there: the catalog answers for every replica
    rc, out = with_env(cluster.env(key), "sync", "--all")
    assert rc == 0 and "synced" in out
    # the run's files (uploaded as blobs to one replica, listed through the other) are
    # served alike by either replica
    files = [files_of(r.url, key, run_id) for r in cluster.replicas]
    assert files[0] == files[1] and files[0], files
    # one object per segment, under Hive-style, content-addressed keys
    objects = segment_objects(s3_env, cluster.store)
    assert len(objects) == len(segments)
    assert all(SEGMENT_KEY.match(k) for k in objects), list(objects)[:3]
    assert sorted(k.rsplit("/", 1)[1] for k in objects) == segments
    # permissions are the database's, whichever replica answers
    with client(cluster.proxy.url, bob) as c, pytest.raises(Exception, match="no project alice/p"):
        c.history("alice", "p", run_id)

    # what a load balancer and Prometheus ask
    for replica in cluster.replicas:
        health = httpx.get(f"{replica.url}/healthz", timeout=30)
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    metrics = "".join(httpx.get(f"{r.url}/metrics", timeout=30).text for r in cluster.replicas)
    stored = sum(
        float(m) for m in re.findall(r'flightlog_segments_total\{outcome="stored"\} (\S+)', metrics)
    )
    assert stored == len(segments)
    assert 'flightlog_request_seconds_bucket{le="0.1",method="PUT"' in metrics
    assert 'flightlog_db_connections{state="open"}' in metrics


def test_one_segment_sent_to_both_replicas_at_once_is_stored_once(
    cluster: Cluster, tmp_path: Path, s3_env: S3Server
) -> None:
    a, b = cluster.replicas
    key = alice_with_run(cluster, a, "twice")
    statuses: list[list[int]] = []
    for seq in range(1, 7):
        seg = segment_file(tmp_path / "segs", tidy_table(50, start=seq * 50), seq=seq)
        body = seg.read_bytes()
        barrier = threading.Barrier(2)
        got: list[int] = []

        def put(
            url: str, name: str = seg.name, data: bytes = body, barrier=barrier, got=got
        ) -> None:
            barrier.wait()
            r = httpx.put(
                f"{url}/api/v1/runs/alice/p/r1/segments/history/{name}",
                content=data,
                headers={"Authorization": f"Bearer {key}"},
                timeout=120,
            )
            got.append(r.status_code)

        threads = [threading.Thread(target=put, args=(r.url,)) for r in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        statuses.append(sorted(got))
    # two successes each time: one stored it, the other found it stored
    assert statuses == [[200, 201]] * 6
    assert len(s3_env.objects(cluster.store)) == 6
    assert len(Catalog(cluster.accounts.driver).segments("alice", "p", "r1")) == 6
    with client(b.url, key) as c:
        rows = c.history("alice", "p", "r1")
    assert [r["loss"] for r in rows] == [float(s) for s in range(50, 350)]


def test_a_replica_killed_mid_sync_loses_nothing(
    cluster: Cluster, store: Path, s3_env: S3Server
) -> None:
    key = cluster.user("alice")
    run_id = train(rows=100, steps=12_000)
    segments = local_segments(store, run_id)
    catalog = Catalog(cluster.accounts.driver)
    agent = subprocess.Popen(
        [sys.executable, "-m", "flightlog.cli", "sync", "--watch", str(store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **cluster.env(key)},
    )
    try:
        wait_until(lambda: len(catalog.segments("alice", "p", run_id)) >= 10, 120, "sync under way")
        cluster.replicas[0].kill()  # kill -9, whatever it was doing
        killed_at = len(catalog.segments("alice", "p", run_id))
        assert killed_at < len(segments), "the sync finished before the kill: a bigger run"

        def synced() -> bool:
            r = cli("runs", "--root", str(store), "--json")
            return [run["sync"] for run in json.loads(r.stdout)] == ["synced"]

        wait_until(synced, 180, "the agent finished through the surviving replica")
    finally:
        agent.terminate()
        log = agent.communicate(timeout=30)[0]
    with client(cluster.replicas[1].url, key) as c:
        rows = c.history("alice", "p", run_id, keys=["i"])
    assert [r["i"] for r in rows] == list(range(12_000)), log[-2000:]
    assert sorted(s.name for s in catalog.segments("alice", "p", run_id)) == segments
    assert sorted(k.rsplit("/", 1)[1] for k in segment_objects(s3_env, cluster.store)) == segments
    print(f"replica killed after {killed_at}/{len(segments)} segments")


def test_a_replica_whose_bucket_is_gone_fails_its_health_check(
    tmp_path: Path, pg_url: str, s3_env: S3Server, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    from flightlog.cli import main
    from flightlog.sync.accounts import Accounts

    # a bucket that is not there stops the server at start, naming what to check
    rc = main(["server", "--root", str(tmp_path / "x"), "--db", pg_url, "--store", "s3://nope/x"])
    err = capsys.readouterr().err
    assert rc == 1 and "cannot use the store s3://nope/x" in err and "AWS_ENDPOINT_URL" in err
    # one that goes away later: the load balancer is told
    uri = s3_env.new_bucket()
    replica = Replica(tmp_path / "r", Accounts(db=pg_url), pg_url, uri).start()
    try:
        assert httpx.get(f"{replica.url}/healthz", timeout=30).status_code == 200
        s3 = boto3.client(
            "s3",
            endpoint_url=s3_env.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        s3.delete_bucket(Bucket=uri[5:].split("/")[0])
        r = httpx.get(f"{replica.url}/healthz", timeout=30)
        assert r.status_code == 503
        assert r.json()["db"].startswith("ok") and "does not exist" in r.json()["store"]
    finally:
        replica.stop()


def test_a_replica_killed_in_the_middle_of_an_upload_leaves_nothing_half_stored(
    cluster: Cluster, tmp_path: Path, s3_env: S3Server
) -> None:
    a, b = cluster.replicas
    key = alice_with_run(cluster, b, "cut")
    seg = segment_file(tmp_path / "segs", tidy_table(20_000, keys=("loss", "acc")), seq=1)
    body = seg.read_bytes()
    path = f"/api/v1/runs/alice/p/r1/segments/history/{seg.name}"
    kill_with_half_a_body(a, path, key, body)
    assert s3_env.objects(cluster.store) == {}
    with client(b.url, key) as c:
        assert c.segments("alice", "p", "r1")["history"] == set()
    # the client sends it again; the other replica stores it whole
    r = httpx.put(
        f"{b.url}{path}", content=body, headers={"Authorization": f"Bearer {key}"}, timeout=120
    )
    assert r.status_code == 201, r.text
    assert list(s3_env.objects(cluster.store).values()) == [len(body)]
    with client(b.url, key) as c:
        assert len(c.history("alice", "p", "r1", keys=["loss"])) == 20_000
