"""The object-store abstraction (sync/objstore.py) on a local directory and on a real
S3-compatible server: content-addressed keys written once, never overwritten, checked by
sha256, and a Hive layout other engines read as one table."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pytest

from flightlog.sync.objstore import ObjectStore, StoreError
from tests.scale_services import S3Server, s3_env, s3server  # noqa: F401 - fixtures
from tests.servers import segment_file, tidy_table


@pytest.fixture(params=["local", "s3"])
def objects(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return ObjectStore.from_uri(f"file://{tmp_path / 'bucket'}")
    s3: S3Server = request.getfixturevalue("s3_env")
    return ObjectStore.from_uri(s3.new_bucket())


def _file(tmp_path: Path, body: bytes) -> tuple[Path, str]:
    p = tmp_path / hashlib.sha256(body).hexdigest()[:8]
    p.write_bytes(body)
    return p, hashlib.sha256(body).hexdigest()


def test_an_object_is_written_once_and_never_overwritten(
    objects: ObjectStore, tmp_path: Path
) -> None:
    a, sha_a = _file(tmp_path, b"A" * 1000)
    b, _ = _file(tmp_path, b"B" * 1000)
    key = ObjectStore.blob_key(sha_a)
    assert objects.put(key, a, sha_a) is True
    assert objects.put(key, a, sha_a) is False  # already there: nothing written
    assert objects.put(key, b, sha_a) is False  # a key that exists is never written again
    assert objects.sha256(key) == sha_a
    out = objects.get(key, tmp_path / "out" / "a", sha_a)
    assert out.read_bytes() == b"A" * 1000


def test_an_object_that_reads_back_wrong_is_removed_not_kept(
    objects: ObjectStore, tmp_path: Path
) -> None:
    a, sha_a = _file(tmp_path, b"payload")
    key = ObjectStore.blob_key("c" * 64)
    with pytest.raises(StoreError, match="read back as sha256"):
        objects.put(key, a, "c" * 64)  # the content is not what its key promises
    assert objects.size(key) is None
    objects.put(ObjectStore.blob_key(sha_a), a, sha_a)
    with pytest.raises(StoreError, match="has sha256"):
        objects.get(ObjectStore.blob_key(sha_a), tmp_path / "x", "d" * 64)
    assert not (tmp_path / "x").exists()  # a download that does not check out is not kept


def test_segments_form_a_hive_table_duckdb_and_pyarrow_read(
    objects: ObjectStore, tmp_path: Path
) -> None:
    for run_id, steps in (("r1", 3), ("r2", 5)):
        seg = segment_file(tmp_path / run_id, tidy_table(steps), writer="w1", seq=1)
        sha = seg.name.rsplit("-", 1)[1].removesuffix(".parquet")
        key = ObjectStore.segment_key("alice", "mnist", run_id, "history", seg.name)
        assert key.startswith("segments/stream=history/entity=alice/project=mnist/")
        objects.put(key, seg, sha)
    # pyarrow.dataset (what Polars and Spark do with a Hive layout), on either filesystem
    table = ds.dataset(
        f"{objects.base}/segments", filesystem=objects.fs, format="parquet", partitioning="hive"
    ).to_table()
    assert sorted(set(table["run_id"].to_pylist())) == ["r1", "r2"]
    assert table.num_rows == 8 and set(table["entity"].to_pylist()) == {"alice"}
    if objects.local:  # DuckDB reads the same files (on S3 through its httpfs extension)
        files = f"{objects.base}/segments/*/*/*/*/*.parquet"
        got = duckdb.sql(
            f"SELECT run_id, max(step) FROM read_parquet('{files}', hive_partitioning = true) "
            "WHERE entity = 'alice' GROUP BY run_id ORDER BY run_id"
        ).fetchall()
        assert got == [("r1", 2), ("r2", 4)]


def test_an_unknown_store_names_the_forms_it_takes() -> None:
    with pytest.raises(ValueError, match="use s3://BUCKET/PREFIX or file:///DIR"):
        ObjectStore.from_uri("gs://bucket/x")


def test_a_one_machine_server_answers_health_and_metrics_too(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from flightlog.sync.server import create_app

    with TestClient(create_app(tmp_path / "server")) as c:
        health = c.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert c.get("/api/v1/whoami").status_code == 401
        text = c.get("/metrics").text
    # one series per route template, never per raw path
    assert 'flightlog_requests_total{method="GET",route="/api/v1/whoami",status="401"} 1.0' in text
    assert 'flightlog_db_connections{state="open"}' in text


def test_one_server_on_sqlite_and_a_file_store_keeps_segments_in_the_store(
    tmp_path: Path,
) -> None:
    """--store without --db: the catalog in the SQLite file, segments under the store's
    Hive layout; answers as the plain server does (201, then 200, 409 for other content)."""
    from fastapi.testclient import TestClient

    from flightlog.sync.accounts import Accounts
    from flightlog.sync.server import create_app

    root, bucket = tmp_path / "server", tmp_path / "bucket"
    root.mkdir()
    acc = Accounts(root)
    acc.add_user("alice")
    h = {"Authorization": f"Bearer {acc.create_key('alice')}"}
    seg = segment_file(tmp_path / "s", tidy_table(40), seq=1)
    other = segment_file(tmp_path / "o", tidy_table(41, start=5), seq=1)  # not its rows
    url = "/api/v1/runs/alice/p/r1"
    with TestClient(create_app(root, store_uri=f"file://{bucket}")) as c:
        assert c.put(url, json={"meta": {"id": "r1"}, "writers": []}, headers=h).status_code == 201
        put = f"{url}/segments/history/"
        assert c.put(put + seg.name, content=seg.read_bytes(), headers=h).status_code == 201
        assert c.put(put + seg.name, content=seg.read_bytes(), headers=h).status_code == 200
        r = c.put(put + other.name, content=other.read_bytes(), headers=h)
        assert r.status_code == 409 and r.json()["error"] == "conflict"
        assert c.get(f"{url}/segments", headers=h).json()["segments"]["history"] == [seg.name]
        rows = c.get(f"{url}/history", params={"keys": "loss"}, headers=h).json()["rows"]
        assert [row["loss"] for row in rows] == [float(s) for s in range(40)]
    stored = list(bucket.rglob("*.parquet"))
    assert [p.name for p in stored] == [seg.name]
    assert stored[0].read_bytes() == seg.read_bytes()
    assert "run_id=r1" in str(stored[0]) and not (root / "runs").exists()
