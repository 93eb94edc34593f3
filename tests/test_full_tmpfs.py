"""A store on a disk that is really full (a 2 MB tmpfs, filled up): the writer retries its
segment every few milliseconds, and each retry starts the segment's sealed twin. Before,
each failed start left its 0-byte `.<segment>.parquet.tmp` behind (58 of them in 3 s);
now a failed start removes its temp file, and the run's rows are all there once space is
back."""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import flightlog

from .conftest import python_script

pytestmark = pytest.mark.slow

SEQ = re.compile(r"-(\d{6})[-.]")  # a segment's number in its file's name


@contextlib.contextmanager
def tmpfs(tmp_path: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of `size` ("2m") in `tmp_path` (root only: the test is skipped
    elsewhere), unmounted when left."""
    where = tmp_path / "disk"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MB tmpfs, unmounted after the test."""
    with tmpfs(tmp_path, "2m") as where:
        yield where


def test_a_full_disk_leaves_no_temp_files(small_disk: Path) -> None:
    store = small_disk / "store"
    res = python_script(
        f"""
        import os, re, time, flightlog
        SEQ = re.compile({SEQ.pattern!r})
        run = flightlog.init(project="disk", id="full")
        for i in range(100):
            run.log({{"i": i}})
        time.sleep(0.5)
        with open({str(small_disk / "filler")!r}, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"x" * 4096)
            except OSError:
                pass  # the disk is full
        for i in range(100, 400):
            run.log({{"i": i}})
            time.sleep(0.01)
        history, deadline = os.path.join(run.dir, "history"), time.monotonic() + 120
        while time.monotonic() < deadline and not any(  # the writer retried on the full disk
            int(m.group(1)) >= 3 for m in map(SEQ.search, os.listdir(history)) if m
        ):
            time.sleep(0.05)
        os.remove({str(small_disk / "filler")!r})
        for i in range(400, 500):
            run.log({{"i": i}})
        run.finish()
        print("script survived")
        """,
        env={"FLIGHTLOG_DIR": str(store)},
        timeout=180,
    )
    assert res.returncode == 0, res.stderr
    assert "script survived" in res.stdout
    history = store / "runs" / "disk" / "full" / "history"
    names = sorted(p.name for p in history.iterdir())
    seqs = [int(m.group(1)) for n in names if (m := SEQ.search(n))]
    assert max(seqs) >= 3, f"the writer never retried on the full disk: {names}"
    assert not [n for n in names if n.endswith(".tmp")], names
    run = flightlog.Api(store).run("disk/full")
    assert [r["i"] for r in run.scan_history()] == list(range(500))
