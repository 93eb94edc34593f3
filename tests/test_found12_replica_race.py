"""Two replicas storing one run's metadata at once, for real (two `flightlog server`
processes on one PostgreSQL and one bucket). A run logged by several nodes (a multi-node
job, each node's agent syncing the writers of its own processes) has its writers' states
sent by each node, through whichever replica the load balancer picks; the catalog merges
them (a state not sent again is kept). Read, then written without a lock, the merge lost
the states another replica stored in between: the run's summary lacked those writers'
values, its state was wrong, and no later sync sent them again."""

# ruff: noqa: F811 - the services' fixtures are imported, then named as parameters
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from flightlog.sync.db.catalog import Catalog
from tests.scale_cluster import Cluster
from tests.scale_services import S3Server, pg_url, postgres, s3_env, s3server  # noqa: F401
from tests.test_scale_replicas import (  # noqa: F401 - the cluster fixture
    client,
    cluster,
    pytestmark,
)

NODES = 16


def state(node: int) -> dict[str, object]:
    """Writer `n<node>`'s state, as a node's agent sends it: its summary names its node."""
    return {"writer": f"n{node}", "state": "running", "rows": 10, "summary": {f"node{node}": node}}


def test_every_nodes_writer_state_is_kept_when_nodes_sync_at_once(cluster: Cluster) -> None:
    key = cluster.user("alice")
    replicas = cluster.replicas
    catalog = Catalog(cluster.accounts.driver)
    for attempt in range(3):  # each a new run, its nodes all syncing at once
        run_id = f"multi{attempt}"

        def sync_node(node: int, run_id: str = run_id) -> None:
            with client(replicas[node % len(replicas)].url, key) as c:
                c.put_run("alice", "p", run_id, {"id": run_id, "name": run_id}, [state(node)])

        with ThreadPoolExecutor(NODES) as pool:
            list(pool.map(sync_node, range(NODES)))
        found = catalog.run("alice", "p", run_id)
        assert found is not None
        assert sorted(found[1]) == sorted(f"n{i}" for i in range(NODES)), attempt
        with client(replicas[0].url, key) as c:
            summary = c.run("alice", "p", run_id)["summary"]
        assert {k: v for k, v in summary.items() if k.startswith("node")} == {
            f"node{i}": i for i in range(NODES)
        }
