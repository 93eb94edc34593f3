"""The content-addressed blob store shared by media, artifacts and blob sync."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flightlog.store.blobs import BlobStore, sha256_file


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=5000), chunk=st.integers(1, 700))
def test_round_trip_in_any_chunking(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, chunk: int
) -> None:
    store = BlobStore(tmp_path_factory.mktemp("b"))
    parts = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    blob = store.put_chunks(parts, durable=False)
    assert blob.sha256 == hashlib.sha256(data).hexdigest()
    assert blob.size == len(data)
    assert store.path(blob.sha256).read_bytes() == data


def test_same_content_is_stored_once_and_files_stream(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    src = tmp_path / "ckpt.bin"
    src.write_bytes(b"x" * (3 << 20) + b"tail")
    a = store.put_file(src)
    b = store.put_bytes(src.read_bytes())
    assert a == b
    files = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert files == [a.path]
    assert sha256_file(src) == (a.sha256, a.size)
    out = store.export(a.sha256, tmp_path / "out" / "ckpt.bin")
    assert out.read_bytes() == src.read_bytes()


def test_a_mismatched_upload_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(ValueError, match="not the"):
        store.put_chunks([b"abc"], expect="0" * 64)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_names_are_checked_before_any_path_is_built(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    for bad in ["../etc/passwd", "A" * 64, "abc"]:
        with pytest.raises(ValueError, match="invalid sha256"):
            store.path(bad)


def test_doctor_removes_the_temp_file_of_a_killed_put_and_leaves_a_live_one(tmp_path: Path):
    """A kill -9 during a put (a checkpoint's log_artifact, a run's media) leaves a temp file
    as large as the file: `doctor` reports it once untouched for the stale time, `doctor
    --repair` removes it; a temp file still being written is left alone."""
    import os

    import flightlog
    from flightlog.store.doctor import check, repair

    run = flightlog.init(project="p", dir=str(tmp_path), mode="offline")
    run.finish()
    dead = [tmp_path / "blobs" / ".tmp-dead", Path(run.dir) / "media" / ".tmp-dead"]
    live = tmp_path / "blobs" / ".tmp-live"
    for f in (*dead, live):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"x" * 1000)
    hours_ago = os.stat(live).st_mtime - 7200
    for f in dead:
        os.utime(f, (hours_ago, hours_ago))
    found = [p for p in check(tmp_path) if p.kind == "stale-temp"]
    assert sorted(p.path for p in found) == sorted(dead)
    repair(tmp_path, found)
    assert not any(f.exists() for f in dead) and live.exists()
