"""What replicas share besides segments, for real (two `flightlog server` processes on one
PostgreSQL and one S3-compatible bucket): a browser session opened on one replica and ended
on the other, a run synced through one replica listed by the other, and a blob uploaded in
parts to a replica killed with -9 and finished on the other."""

# ruff: noqa: F811 - the services' fixtures are imported, then named as parameters
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx

from flightlog.sync.sessions import COOKIE
from tests.scale_cluster import Cluster
from tests.scale_services import S3Server, pg_url, postgres, s3_env, s3server  # noqa: F401
from tests.servers import LiveServer, segment_file, tidy_table
from tests.test_scale_replicas import (  # noqa: F401 - the cluster fixture
    client,
    cluster,
    kill_with_half_a_body,
    pytestmark,
    wait_until,
)

MB = 1 << 20


def put_blob(url: str, key: str, content: bytes) -> str:
    """Upload a blob to project alice/p in one part; its sha256."""
    sha = hashlib.sha256(content).hexdigest()
    r = httpx.put(
        f"{url}/api/v1/blobs/alice/p/{sha}",
        params={"size": len(content), "offset": 0},
        content=content,
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    return sha


def test_a_session_opened_on_one_replica_is_valid_on_the_other_until_logout(cluster: Cluster):
    key = cluster.user("alice")
    a, b = cluster.replicas
    login = httpx.post(f"{a.url}/api/v1/session", json={"key": key}, timeout=30)
    assert login.status_code == 200, login.text
    cookies = {COOKIE: login.cookies[COOKIE]}
    me = httpx.get(f"{b.url}/api/v1/whoami", cookies=cookies, timeout=30)
    assert me.status_code == 200 and me.json()["user"] == "alice", me.text
    out = httpx.request("DELETE", f"{b.url}/api/v1/session", json={}, cookies=cookies, timeout=30)
    assert out.status_code == 200, out.text
    assert httpx.get(f"{a.url}/api/v1/whoami", cookies=cookies, timeout=30).status_code == 401


def test_a_run_synced_through_one_replica_is_listed_by_the_other(cluster: Cluster, tmp_path):
    key = cluster.user("alice")
    a, b = cluster.replicas
    auth = {"Authorization": f"Bearer {key}"}

    def sync_through_a(run_id: str, rows: int) -> None:
        seg = segment_file(tmp_path / run_id, tidy_table(rows), seq=1)
        with client(a.url, key) as c:
            c.put_run("alice", "p", run_id, {"id": run_id, "name": run_id}, [])
            assert c.put_segment("alice", "p", run_id, "history", seg)  # stored (201)

    def listed_by_b() -> dict[str, object]:
        r = httpx.get(f"{b.url}/api/v1/runs/alice/p", headers=auth, timeout=60)
        assert r.status_code == 200, r.text
        return {run["id"]: run for run in r.json()["runs"]}

    everything = httpx.get(f"{b.url}/api/v1/runs", headers=auth, timeout=60)
    assert everything.json()["runs"] == []  # B has built its index before the runs exist
    sync_through_a("r1", 30)
    wait_until(lambda: "r1" in listed_by_b(), 60, "replica B lists the run synced through A")
    sync_through_a("r2", 40)  # a change after B's index was built
    wait_until(lambda: set(listed_by_b()) == {"r1", "r2"}, 60, "B lists the second run too")
    with client(b.url, key) as c:
        assert [r["id"] for r in c.runs("alice", "p")] == ["r1", "r2"]
        assert len(c.history("alice", "p", "r2")) == 40


def test_a_blob_cut_off_by_a_killed_replica_resumes_on_the_other(
    cluster: Cluster, s3_env: S3Server
):
    key = cluster.user("alice")
    a, b = cluster.replicas
    auth = {"Authorization": f"Bearer {key}"}
    content = os.urandom(3 * MB + 12345)
    sha = hashlib.sha256(content).hexdigest()
    url = f"/api/v1/blobs/alice/p/{sha}"

    def part(replica_url: str, offset: int, length: int) -> httpx.Response:
        return httpx.put(
            f"{replica_url}{url}",
            params={"size": len(content), "offset": offset},
            content=content[offset : offset + length],
            headers=auth,
            timeout=120,
        )

    for offset in (0, MB):  # two whole parts through A
        r = part(a.url, offset, MB)
        assert r.status_code == 200 and r.json() == {"offset": offset + MB, "stored": False}
    # the third part is half sent when A is killed with -9
    body = content[2 * MB : 3 * MB]
    kill_with_half_a_body(a, f"{url}?size={len(content)}&offset={2 * MB}", key, body)
    # B knows where the upload stands: the two whole parts A kept, not the cut one
    lacking = httpx.post(
        f"{b.url}/api/v1/blobs/alice/p/missing",
        json={"blobs": [{"sha256": sha, "size": len(content)}]},
        headers=auth,
        timeout=60,
    )
    assert lacking.json() == {"missing": {sha: 2 * MB}}, lacking.text
    r = part(b.url, 2 * MB, len(content) - 2 * MB)
    assert r.status_code == 201 and r.json() == {"offset": len(content), "stored": True}, r.text
    got = httpx.get(f"{b.url}{url}", headers=auth, timeout=60)
    assert got.status_code == 200 and got.content == content
    objects = s3_env.objects(cluster.store)
    assert objects[f"flightlog/blobs/{sha[:2]}/{sha}"] == len(content)
    parts_left = [k for k in objects if "/blob_parts/" in k]
    assert parts_left in ([], ["flightlog/blob_parts/"])  # the parts became the blob


def test_an_artifact_committed_on_one_replica_resolves_on_the_other(cluster: Cluster):
    key = cluster.user("alice")
    a, b = cluster.replicas
    auth = {"Authorization": f"Bearer {key}"}
    weights = b"weights" * 1000
    sha = put_blob(a.url, key, weights)
    doc = {
        "manifest": {"type": "model", "entries": {"w.bin": {"sha256": sha}}},
        "aliases": ["best"],
    }
    made = httpx.put(f"{b.url}/api/v1/artifacts/alice/p/net", json=doc, headers=auth, timeout=60)
    assert made.status_code == 201 and made.json()["version"] == 0, made.text
    got = httpx.get(f"{a.url}/api/v1/artifacts/alice/p/net/best", headers=auth, timeout=60).json()
    assert got["version"] == 0 and got["aliases"] == ["latest", "best"]
    assert got["manifest"]["entries"] == {"w.bin": {"sha256": sha, "size": len(weights)}}
    again = httpx.put(f"{a.url}/api/v1/artifacts/alice/p/net", json=doc, headers=auth, timeout=60)
    assert again.status_code == 200 and again.json()["created"] is False  # same content
    doc["manifest"]["entries"]["extra.txt"] = {"sha256": sha}
    second = httpx.put(f"{a.url}/api/v1/artifacts/alice/p/net", json=doc, headers=auth, timeout=60)
    assert second.json()["version"] == 1
    latest = httpx.get(f"{b.url}/api/v1/artifacts/alice/p/net/latest", headers=auth, timeout=60)
    assert latest.json()["version"] == 1 and latest.json()["aliases"] == ["latest", "best"]
    v0 = httpx.get(f"{b.url}/api/v1/artifacts/alice/p/net/v0", headers=auth, timeout=60).json()
    assert v0["aliases"] == []


def test_migrate_carries_a_servers_blobs_files_and_artifacts_to_the_replicas(
    tmp_path: Path, pg_url: str, s3_env: S3Server
):
    from flightlog.cli import main

    one = LiveServer(tmp_path / "one").start()
    try:
        key = one.user("alice")
        auth = {"Authorization": f"Bearer {key}"}
        log = b"epoch 1\nepoch 2\n"
        with client(one.url, key) as c:
            c.put_run("alice", "p", "r1", {"id": "r1", "name": "old"}, [])
        sha = put_blob(one.url, key, log)
        files = {"files": {"output.log": {"sha256": sha}}}
        r = httpx.put(f"{one.url}/api/v1/runs/alice/p/r1/files", json=files, headers=auth)
        assert r.status_code == 200, r.text
        art = {"manifest": {"entries": {"log": {"sha256": sha}}}, "aliases": ["best"]}
        r = httpx.put(f"{one.url}/api/v1/artifacts/alice/p/logs", json=art, headers=auth)
        assert r.status_code == 201, r.text
    finally:
        one.stop()
    bucket = s3_env.new_bucket()
    args = ["server", "migrate", "--root", str(one.root), "--db", pg_url, "--store", bucket]
    assert main(args) == 0
    assert main(args) == 0  # again: nothing to do, nothing broken
    cluster = Cluster(tmp_path / "cluster", pg_url, bucket)
    try:
        for replica in cluster.replicas:
            got = httpx.get(
                f"{replica.url}/api/v1/runs/alice/p/r1/files/output.log", headers=auth, timeout=60
            )
            assert got.status_code == 200 and got.content == log, got.text
            art = httpx.get(
                f"{replica.url}/api/v1/artifacts/alice/p/logs/best", headers=auth, timeout=60
            ).json()
            assert art["version"] == 0 and art["aliases"] == ["latest", "best"], art
    finally:
        cluster.close()
