"""`run.delete()` through a replica (two replicas on one PostgreSQL and one bucket): its
runs live in the shared catalog and bucket, which the DELETE route does not change, so it
refuses (405) with the reason rather than delete the replica's cached copy alone - which
the next read would bring back from the catalog."""

# ruff: noqa: F811 - the services' fixtures are imported, then named as parameters
from __future__ import annotations

import pytest

import flightlog
from flightlog._errors import ServerRejectedError
from tests.scale_cluster import Cluster
from tests.scale_services import S3Server, pg_url, postgres, s3_env, s3server  # noqa: F401
from tests.test_scale_replicas import (  # noqa: F401 - the cluster fixture
    client,
    cluster,
    pytestmark,
)


def test_a_replica_refuses_to_delete_and_keeps_the_run(cluster: Cluster) -> None:
    key = cluster.user("alice")
    a, b = cluster.replicas
    with client(a.url, key) as c:
        c.put_run("alice", "p", "r1", {"id": "r1", "name": "r1", "project": "p"}, [])
    run = flightlog.Api(host=a.url, api_key=key).run("alice/p/r1")
    with pytest.raises(ServerRejectedError, match="replica") as refused:
        run.delete()
    assert "405" in str(refused.value) and "nothing was deleted" in str(refused.value)
    for replica in (a, b):
        assert flightlog.Api(host=replica.url, api_key=key).run("alice/p/r1").name == "r1"
