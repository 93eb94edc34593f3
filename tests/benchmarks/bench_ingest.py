"""Server ingest alone: the server's CPU per MB and per run while `flightlog sync --all`
uploads the 1,000-run benchmark store (bench_index.py's) to it on loopback.

    python tests/benchmarks/bench_ingest.py [--store DIR] [--runs 1000]

Prints the server's CPU per MB and per run (its event loop apart) next to the client's and
the load average (ingest_work.py splits the worker threads' part of it). Run it with the
Python of a worktree (its own venv: the client and the server are both the `flightlog` it
imports) and, alternating in the same session, with an older one's for the baseline; the
machine's load moves the figure by ±10%. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]

from bench_index import ensure_store  # noqa: E402

from tests.servers import LiveServer  # noqa: E402


def upload(store: Path, work: Path, first: int | None) -> tuple[float, float, float, int]:
    """Upload the runs of `store` to a fresh server; (server CPU s, its event loop's, MB
    sent, runs) and prints the figures."""
    import psutil

    from flightlog.store.layout import iter_run_dirs
    from flightlog.sync.client import ServerClient
    from flightlog.sync.credentials import Credentials
    from flightlog.sync.sync_many import sync_many
    from flightlog.sync.uploader import Entities, load_local

    for p in store.glob("runs/*/*/sync.json"):
        p.unlink()
    server = LiveServer(work / "server").start()
    try:
        key = server.user("bench")
        runs = [load_local(p) for p in sorted(iter_run_dirs(store), key=lambda p: p.dir)][:first]
        size = sum(f.stat().st_size for r in runs for fs in r.sealed.values() for f in fs)
        proc = psutil.Process(server.proc.pid)
        cpu0, loop0 = sum(proc.cpu_times()[:2]), _main_thread_cpu(proc)
        me = psutil.Process()
        client0 = sum(me.cpu_times()[:2])
        t = time.perf_counter()
        with ServerClient(Credentials(server.url, key, "env")) as client:
            results = list(sync_many(client, runs, Entities(client, "bench")))
        wall = time.perf_counter() - t
        cpu = sum(proc.cpu_times()[:2]) - cpu0
        loop = _main_thread_cpu(proc) - loop0
        client_cpu = sum(me.cpu_times()[:2]) - client0
        errors = sum(1 for _, _, e in results if e is not None)
        stored = len(list(server.root.glob("runs/*/*/*/*/*.parquet")))
        n = len(runs)
        print(
            f"  {n} runs, {size / 1e6:.0f} MB in {wall:.1f} s ({size / 1e6 / wall:.0f} MB/s; "
            f"{stored} segments stored, {errors} errors): server ingest "
            f"{size / 1e6 / cpu:.0f} MB per CPU-second, {cpu * 1000 / n:.2f} ms CPU per run "
            f"(event loop {loop * 1000 / n:.2f}); client {client_cpu * 1000 / n:.2f} ms per run;"
            f" load {os.getloadavg()[0]:.1f}"
        )
        return cpu, loop, size / 1e6, n
    finally:
        server.stop()
        for p in store.glob("runs/*/*/sync.json"):
            p.unlink()


def _main_thread_cpu(proc) -> float:
    main = [t for t in proc.threads() if t.id == proc.pid]
    return main[0].user_time + main[0].system_time if main else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--store", default="/tmp/flightlog-bench-store")
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=10_000)
    args = ap.parse_args()
    import flightlog

    print(f"flightlog from {Path(flightlog.__file__).parent.parent}")
    gen = ensure_store(Path(args.store), 1000, args.steps)
    if gen:
        print(f"generated the benchmark store in {gen:.0f} s")
    work = Path(tempfile.mkdtemp(prefix="flightlog-bench-ingest-"))
    try:
        upload(Path(args.store), work, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
