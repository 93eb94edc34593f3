"""`flightlog server migrate` for real: the 1,000-run benchmark store (bench_index.py's
generator, through the real writer) as a server holds it, into a real PostgreSQL and an
S3-compatible bucket; killed -9 halfway and run again; every segment compared."""

# ruff: noqa: F811 - the services' fixtures are imported, then named as parameters
from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from flightlog.cli import main
from flightlog.store.layout import iter_run_dirs
from flightlog.sync.accounts import Accounts
from flightlog.sync.db.catalog import Catalog
from flightlog.sync.objstore import ObjectStore
from tests.scale_cluster import Replica
from tests.scale_services import S3Server, pg_url, postgres, s3_env, s3server  # noqa: F401

pytestmark = pytest.mark.slow
RUNS = int(os.environ.get("FLIGHTLOG_SCALE_RUNS", "1000"))
BENCH = Path(__file__).parent / "benchmarks" / "bench_index.py"


def server_root_of_the_benchmark_store(root: Path) -> None:
    """bench_index's 1,000 runs of 100 steps x 10 metrics, laid out as a server stores what
    user `bench` synced (runs/ENTITY.PROJECT/ID), with accounts."""
    spec = importlib.util.spec_from_file_location("bench_index", BENCH)
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.ensure_store(root, RUNS, 100)
    for project in list((root / "runs").iterdir()):
        project.rename(project.with_name(f"bench.{project.name}"))
    acc = Accounts(root)
    acc.add_user("bench")
    acc.add_user("ann")
    acc.add_team("vision", ["ann", "bench"])
    acc.set_visibility("bench", "proj-0", "open")


def test_migration_is_resumable_and_every_segment_arrives_intact(
    tmp_path: Path, pg_url: str, s3_env: S3Server
) -> None:
    root = tmp_path / "server"
    server_root_of_the_benchmark_store(root)
    key = Accounts(root).create_key("bench")
    local = {
        p.name: p
        for run in iter_run_dirs(root)
        for stream in ("history", "system")
        for p in (run.dir / stream).glob("*.parquet")
    }
    assert len(iter_run_dirs(root)) == RUNS and len(local) >= RUNS
    bucket = s3_env.new_bucket()
    args = ["server", "migrate", "--root", str(root), "--db", pg_url, "--store", bucket]

    # killed -9 partway through
    proc = subprocess.Popen([sys.executable, "-m", "flightlog.cli", *args], env=os.environ)
    catalog = Catalog(Accounts(db=pg_url).driver)
    end = time.monotonic() + 300
    while catalog.counts()[1] < len(local) // 4 and proc.poll() is None:
        assert time.monotonic() < end, "the migration did not get under way"
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    halfway = catalog.counts()[1]
    assert 0 < halfway < len(local), "the migration finished before the kill: more runs"

    # run again: it finishes, skipping what is there
    assert main(args) == 0
    runs, segments, size = catalog.counts()
    assert (runs, segments) == (RUNS, len(local))
    assert size == sum(p.stat().st_size for p in local.values())

    # every segment: in the catalog, in the bucket, byte for byte
    objects = ObjectStore.from_uri(bucket)
    stored = s3_env.objects(bucket)
    assert len(stored) == len(local)
    for k in stored:
        name = k.rsplit("/", 1)[1]
        assert (
            objects.sha256(k.split("/", 1)[1])
            == hashlib.sha256(local[name].read_bytes()).hexdigest()
        )

    # the accounts came along: the old key signs in, teams and visibility are as they were
    target = Accounts(db=pg_url)
    assert target.user_for_key(key) == "bench"
    assert target.teams_of("ann") == ["vision"]
    assert target.visibility("bench", "proj-0") == "open"

    # a replica on the migrated database and bucket serves a run as the old server did
    replica = Replica(tmp_path / "replica", target, pg_url, bucket).start()
    try:
        run_id = sorted(p.dir.name for p in iter_run_dirs(root, "bench.proj-1"))[0]
        r = httpx.get(
            f"{replica.url}/api/v1/runs/bench/proj-1/{run_id}/history",
            params={"keys": "metric_0", "limit": 1000},
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert [row["_step"] for row in r.json()["rows"]] == list(range(100))
    finally:
        replica.stop()
    print(f"{RUNS} runs, {len(local)} segments; killed after {halfway}, resumed to the end")
