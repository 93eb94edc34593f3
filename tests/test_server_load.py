"""Load: 8 clients syncing at once while 4 readers page through runs, history and charts,
against one real server on 127.0.0.1. No error, no lock timeout (the SQLite account store
included), the server's memory bounded, every segment stored exactly once.

`tests/benchmarks/bench_server.py` runs the same load at a larger size and prints figures.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from .conftest import python_script
from .servers import LiveServer

pytestmark = pytest.mark.slow

#: what the server's resident memory may grow by under this load (README: "Limits")
RSS_BOUND_MB = 256

MAKE_STORES = """
import sys, flightlog
base, clients, runs, steps = sys.argv[1], *map(int, sys.argv[2:])
for c in range(clients):
    for r in range(runs):
        run = flightlog.init(dir=f"{base}/client{c}", project=f"p{r % 2}", reinit="create_new",
                             settings={"segment_rows": max(steps // 2, 1000)}, mode="offline")
        for i in range(steps):
            run.log({"loss": 1.0 / (i + 1), "acc": i / steps, "phase": "train"})
        run.finish()
"""


def make_client_stores(base: Path, clients: int, runs: int, steps: int) -> list[Path]:
    """`clients` local stores of `runs` finished runs each, several segments per run."""
    subprocess.run(
        [sys.executable, "-c", MAKE_STORES, str(base), str(clients), str(runs), str(steps)],
        check=True,
        env={**os.environ, "FLIGHTLOG_SILENT": "1"},
        timeout=600,
    )
    return [base / f"client{c}" for c in range(clients)]


@dataclass
class LoadResult:
    sync_rc: list[int] = field(default_factory=list)
    sync_out: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reads: int = 0
    read_latency: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rss_start: float = 0.0
    rss_peak: float = 0.0


def run_load(server: LiveServer, stores: list[Path], readers: int = 4) -> LoadResult:
    """Sync every store at once (`flightlog sync --all --entity lab`, one process each) while
    `readers` threads page through the lab's runs, history and charts until syncing ends."""
    server.accounts.add_team("lab", [])
    users = [f"u{i}" for i in range(len(stores))]
    keys = [server.user(u) for u in users]
    server.accounts.add_members("lab", users)
    for p in ("p0", "p1"):
        server.accounts.set_visibility("lab", p, "open")  # readers are not members
    reader_keys = [server.user(f"reader{i}") for i in range(readers)]
    out = LoadResult(rss_start=server.reset_peak())
    done = threading.Event()
    lock = threading.Lock()

    def read(key: str) -> None:
        h = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=f"{server.url}/api/v1", headers=h, timeout=120) as c:
            while not done.is_set():
                for project in ("p0", "p1"):
                    try:
                        _read_project(c, project, out, lock)
                    except Exception as e:  # a reader that dies is an error, not a pass
                        with lock:
                            out.errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=read, args=(k,)) for k in reader_keys]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "flightlog.cli", "sync", "--all", "--entity", "lab"],
            env={**os.environ, **server.env(key), "FLIGHTLOG_DIR": str(store)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for store, key in zip(stores, keys, strict=True)
    ]
    for p in procs:
        text, _ = p.communicate(timeout=600)
        out.sync_rc.append(p.returncode)
        out.sync_out.append(text)
    out.seconds = time.perf_counter() - t0
    done.set()
    for t in threads:
        t.join(timeout=300)
    out.rss_peak = server.peak_mb()
    return out


def _read_project(c: httpx.Client, project: str, out: LoadResult, lock: threading.Lock) -> None:
    def get(url: str, **params: object) -> dict | None:
        t = time.perf_counter()
        r = c.get(url, params=params)
        with lock:
            out.reads += 1
            out.read_latency.append(time.perf_counter() - t)
            if r.status_code == 404 and "project_not_found" in r.text:
                return None  # nothing synced to it yet
            if r.status_code != 200:
                out.errors.append(f"GET {url} {params}: {r.status_code} {r.text[:200]}")
                return None
        return r.json()

    after = ""
    while True:
        page = get(f"/runs/lab/{project}", limit=5, after=after)
        if page is None:
            return
        for run in page["runs"]:
            base = f"/runs/lab/{project}/{run['id']}"
            doc = get(f"{base}/history", limit=500)
            if doc is not None:
                if sum(len(r) - 4 for r in doc["rows"]) > 500:
                    with lock:
                        out.errors.append(f"{base}/history: a page larger than asked for")
                if doc["next"]:
                    get(f"{base}/history", limit=500, cursor=doc["next"])
            get(f"{base}/chart", keys="loss,acc", buckets=200)
        if not page["next"]:
            return
        after = page["next"]


def stored_segments(root: Path) -> Counter[str]:
    """Segment stems (writer-seq) per run on the server, counted: each must be 1."""
    return Counter(
        f"{p.parent.parent.name}/{p.name.rsplit('-', 1)[0]}"
        for p in (root / "runs").glob("@lab/*/*/*/*.parquet")
    )


def local_segments(stores: list[Path]) -> set[str]:
    return {
        f"{p.parent.parent.name}/{p.name.rsplit('-', 1)[0]}"
        for s in stores
        for p in (s / "runs").glob("*/*/*/*.parquet")
    }


def test_eight_clients_and_four_readers_at_once(tmp_path: Path):
    r = python_script("import flightlog")  # the child interpreter works at all
    assert r.returncode == 0, r.stderr
    stores = make_client_stores(tmp_path / "clients", clients=8, runs=3, steps=4000)
    server = LiveServer(tmp_path / "server").start()
    try:
        res = run_load(server, stores)
        print(
            f"\n{res.seconds:.1f} s; {res.reads} reads, median "
            f"{statistics.median(res.read_latency) * 1000:.0f} ms; RSS {res.rss_start:.0f} -> "
            f"peak {res.rss_peak:.0f} MB"
        )
        assert res.errors == []
        assert res.sync_rc == [0] * 8, res.sync_out
        assert all("synced 3 run(s)" in o for o in res.sync_out), res.sync_out
        assert res.reads > 0
        stored = stored_segments(server.root)
        assert set(stored) == local_segments(stores)
        assert set(stored.values()) == {1}, "a segment stored twice"
        assert res.rss_peak - res.rss_start < RSS_BOUND_MB
        log = (server.root / "server.log").read_text()
        assert "locked" not in log and "Traceback" not in log, log[-2000:]
        assert not list((server.root / ".uploads").glob(".upload-*"))
    finally:
        server.stop()
