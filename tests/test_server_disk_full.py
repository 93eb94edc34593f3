"""A full disk on the server: each refused upload is a 507 with a JSON error that leaves
nothing behind, `flightlog sync` reports it as such and counts the segments the server did
confirm, and syncing again once there is space sends exactly the rest.

The disk is a real 2 MB tmpfs mounted as the server's root, which needs root (CAP_SYS_ADMIN);
elsewhere the test is skipped."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from .conftest import cli, python_script
from .servers import LiveServer

pytestmark = pytest.mark.slow


def _mount(path: Path, size: str, remount: bool = False) -> bool:
    opts = f"remount,size={size}" if remount else f"size={size}"
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True
    )
    return r.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path):
    root = tmp_path / "server"
    root.mkdir()
    if os.geteuid() != 0 or not _mount(root, "2m"):
        pytest.skip("mounting a tmpfs needs root")
    yield root
    subprocess.run(["umount", "-l", str(root)], check=False)


def _sync(server: LiveServer, key: str) -> tuple[int, str]:
    env = {**server.env(key)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        r = cli("sync", "--all", timeout=300)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return r.returncode, r.stdout + r.stderr


def test_a_full_disk_is_a_507_that_sync_reports_and_resumes_from(small_disk: Path):
    r = python_script(
        "import numpy as np, flightlog\n"
        "run = flightlog.init(project='p', settings={'segment_rows': 20_000})\n"
        "rng = np.random.default_rng(0)\n"
        "for i in range(60):\n"
        "    for x in rng.random(20_000):\n"
        "        run.log({'x': float(x)})\n"
        "run.finish()\n",
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    local = list(Path("store/runs/p").glob("*/history/*.parquet"))
    total = len(local)
    assert total >= 10 and sum(p.stat().st_size for p in local) > 4_000_000  # twice the disk
    server = LiveServer(small_disk).start()
    try:
        key = server.user("alice")
        rc, out = _sync(server, key)
        stored = list((small_disk / "runs").glob("alice.p/*/history/*.parquet"))
        assert rc == 1, out
        assert "out of disk space (HTTP 507)" in out and "nothing was lost" in out, out
        assert "Traceback" not in out
        assert 0 < len(stored) < total
        assert f"{len(stored)} segment(s) sent" in out, out  # what the server confirmed
        assert f"{len(stored)} segment(s) stored before" in out
        assert not list((small_disk / ".uploads").iterdir()), "a refused upload left a file"
        log = (small_disk / "server.log").read_text()
        assert "disk full" in log
        # space again: the next sync sends exactly the rest
        assert _mount(small_disk, "64m", remount=True)
        rc, out = _sync(server, key)
        assert rc == 0, out
        assert re.search(rf"\b{total - len(stored)} segment\(s\) sent", out), out
        on_server = sorted(p.name for p in (small_disk / "runs").glob("alice.p/*/history/*"))
        assert on_server == sorted(p.name for p in local)
    finally:
        server.stop()
