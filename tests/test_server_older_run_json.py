"""An older copy's run.json synced after the newer one: a store copied off a compute node
mid-run (rsync to a login node) and synced from the copy after the node synced the finished
run. The copy's run.json has the run's first name and config; the server kept whatever came
last, so the finished run went back to them for good (writer states were already kept by
their progress, sync/writer_states.py). On the one-machine server and on replicas."""

# ruff: noqa: F811 - the services' fixtures are imported, then named as parameters
from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import cli
from .scale_cluster import Cluster
from .scale_services import S3Server, pg_url, postgres, s3_env, s3server  # noqa: F401
from .servers import LiveServer
from .test_found2_copied_store import copied_mid_run
from .test_scale_replicas import client, with_env

TRAIN = """
import time, flightlog
from pathlib import Path
run = flightlog.init(project="p", id="copied", name="first-name", config={"lr": 0.1},
                     mode="offline", settings={"flush_interval": 0.01})
for s in range(300):
    run.log({"loss": float(s)})
run.save()
print("copy now", flush=True)
while not Path("go").exists():
    time.sleep(0.01)
run.name = "final-name"
run.config.update({"lr": 0.2}, allow_val_change=True)
run.summary["best"] = 7.0
for s in range(300, 600):
    run.log({"loss": float(s)})
run.finish()
"""


def _final(run: dict) -> tuple:
    return run["meta"]["name"], run["meta"]["config"]["lr"], run["summary"].get("best")


def test_an_older_copy_synced_last_leaves_the_runs_final_name_and_config(
    server: LiveServer, key: str, store: Path, tmp_path: Path
) -> None:
    copy = copied_mid_run(store, tmp_path, TRAIN, at_step=299)
    node = cli("sync", "--all")  # the node syncs its own store, the job done
    assert node.returncode == 0, node.stdout + node.stderr
    with server.client(key) as c:
        assert _final(c.run("alice", "p", "copied")) == ("final-name", 0.2, 7.0)
    late = cli("sync", "--all", "--root", str(copy))  # the copy, taken mid-run, syncs last
    assert late.returncode == 0, late.stdout + late.stderr
    with server.client(key) as c:
        after = c.run("alice", "p", "copied")
    assert _final(after) == ("final-name", 0.2, 7.0), after["meta"]
    assert after["state"] == "finished"


@pytest.mark.slow
def test_an_older_copy_synced_last_through_a_replica_leaves_the_final_name_and_config(
    tmp_path: Path, pg_url: str, s3_env: S3Server, store: Path
) -> None:
    cluster = Cluster(tmp_path / "cluster", pg_url, s3_env.new_bucket())
    try:
        key = cluster.user("alice")
        copy = copied_mid_run(store, tmp_path, TRAIN, at_step=299)
        a, b = cluster.replicas
        rc, out = with_env(a.env(key), "sync", "--all")
        assert rc == 0, out
        rc, out = with_env(b.env(key), "sync", "--all", "--root", str(copy))
        assert rc == 0, out
        for replica in cluster.replicas:
            with client(replica.url, key) as c:
                after = c.run("alice", "p", "copied")
            assert _final(after) == ("final-name", 0.2, 7.0), after["meta"]
    finally:
        cluster.close()
