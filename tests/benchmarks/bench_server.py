"""The server under load: 8 clients syncing at once while 4 readers page through runs,
history and charts, on loopback (the load of tests/test_server_load.py, larger).

    python tests/benchmarks/bench_server.py [--clients 8] [--runs 6] [--steps 20000]

Prints, for the same stores in one run: syncing alone, syncing with the readers, and the
readers alone (on the synced server): wall time, segments and MB per second, reads per
second and their latency (median, p95), errors, and the server's RSS (start, peak).
Asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1])]

from tests.servers import LiveServer  # noqa: E402
from tests.test_server_load import (  # noqa: E402
    LoadResult,
    _read_project,
    local_segments,
    make_client_stores,
    run_load,
    stored_segments,
)


def _ms(xs: list[float], q: float) -> str:
    if not xs:
        return "-"
    return f"{sorted(xs)[min(len(xs) - 1, int(q * len(xs)))] * 1000:.0f} ms"


def _report(name: str, res: LoadResult, segments: int, mb: float) -> None:
    print(
        f"{name:<28} {res.seconds:6.1f} s  {segments / res.seconds:6.0f} seg/s "
        f"{mb / res.seconds:6.1f} MB/s  reads {res.reads:5d} "
        f"({res.reads / res.seconds:5.1f}/s, median {_ms(res.read_latency, 0.5)}, "
        f"p95 {_ms(res.read_latency, 0.95)})  errors {len(res.errors)}  "
        f"RSS {res.rss_start:.0f} -> peak {res.rss_peak:.0f} MB"
    )
    for e in res.errors[:5]:
        print("   ", e)


def readers_only(server: LiveServer, readers: int, seconds: float) -> LoadResult:
    import httpx

    out = LoadResult(rss_start=server.reset_peak())
    lock = threading.Lock()
    end = time.monotonic() + seconds
    keys = [server.user(f"solo{i}") for i in range(readers)]

    def read(key: str) -> None:
        h = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=f"{server.url}/api/v1", headers=h, timeout=120) as c:
            while time.monotonic() < end:
                for project in ("p0", "p1"):
                    _read_project(c, project, out, lock)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=read, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.seconds = time.perf_counter() - t0
    out.rss_peak = server.peak_mb()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--readers", type=int, default=4)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-server-"))
    try:
        t = time.perf_counter()
        stores = make_client_stores(work / "clients", args.clients, args.runs, args.steps)
        files = [p for s in stores for p in (s / "runs").glob("*/*/*/*.parquet")]
        mb = sum(p.stat().st_size for p in files) / 1e6
        print(
            f"{args.clients} client stores x {args.runs} runs x {args.steps:,} steps: "
            f"{len(files)} segments, {mb:.1f} MB (made in {time.perf_counter() - t:.0f} s); "
            f"{args.readers} readers"
        )
        for name, readers in (("sync alone", 0), (f"sync + {args.readers} readers", args.readers)):
            for s in stores:
                for m in s.glob("runs/*/*/sync.json"):
                    m.unlink()
            root = work / f"server-{readers}"
            server = LiveServer(root).start()
            try:
                res = run_load(server, stores, readers=readers)
                _report(name, res, len(files), mb)
                stored = stored_segments(root)
                ok = set(stored) == local_segments(stores) and set(stored.values()) == {1}
                failed = sum(rc != 0 for rc in res.sync_rc)
                print(f"{'':28} every segment exactly once: {ok}; failed syncs: {failed}")
                if readers:
                    solo = readers_only(server, args.readers, max(res.seconds, 10.0))
                    _report(f"{args.readers} readers alone", solo, 0, 0.0)
            finally:
                server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
