"""A run's screen read through a replica that did not receive it, for real (two replicas on
one PostgreSQL and one bucket): `flightlog tui --host` and `Api(host=)` behind a load
balancer ask any replica for a run's view (run_views.py). It read the replica's cache as it
was - a run synced through the other replica was "no run" (404), and a run grown since was
drawn without its new rows - where every other read route brings the cache up to date from
the catalog first."""

# ruff: noqa: F811 - the services' fixtures are imported, then named as parameters
from __future__ import annotations

from pathlib import Path

import httpx

from tests.scale_cluster import Cluster
from tests.scale_services import S3Server, pg_url, postgres, s3_env, s3server  # noqa: F401
from tests.servers import segment_file, tidy_table
from tests.test_scale_replicas import (  # noqa: F401 - the cluster fixture
    client,
    cluster,
    pytestmark,
)


def test_a_run_synced_through_one_replica_is_viewed_whole_through_the_other(
    cluster: Cluster, tmp_path: Path
) -> None:
    key = cluster.user("alice")
    a, b = cluster.replicas
    auth = {"Authorization": f"Bearer {key}"}
    with client(a.url, key) as c:
        c.put_run("alice", "p", "r1", {"id": "r1", "name": "r1"}, [])

    def put_through_a(seq: int) -> None:
        seg = segment_file(tmp_path / str(seq), tidy_table(100, start=(seq - 1) * 100), seq=seq)
        with client(a.url, key) as c:
            assert c.put_segment("alice", "p", "r1", "history", seg)  # stored (201)

    def view_on_b() -> tuple[float, int]:
        """(the last step drawn, the values counted) of B's view of the run."""
        r = httpx.get(f"{b.url}/api/v1/runs/alice/p/r1/view", headers=auth, timeout=60)
        assert r.status_code == 200, r.text
        buckets = r.json()["buckets"]
        return max(x["x_max"] for x in buckets), sum(x["n"] for x in buckets)

    put_through_a(1)
    assert view_on_b() == (99, 100)  # (before: 404 "no run alice/p/r1")
    put_through_a(2)
    assert view_on_b() == (199, 200)  # (before: the first 100 rows only)
    r = httpx.get(
        f"{b.url}/api/v1/runs/alice/p/r1/cursor",
        params={"keys": "loss", "at": 150},
        headers=auth,
        timeout=60,
    )
    assert r.status_code == 200 and [v["step"] for v in r.json()["values"]] == [150], r.text
