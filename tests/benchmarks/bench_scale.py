"""A bounded simulation of scale: N nodes (async httpx clients) each sync a run of sealed
segments for a fixed time against 1, 2 and 4 replicas sharing one real PostgreSQL and one
S3-compatible bucket (moto's server), all on 127.0.0.1; and, as the baseline (replicas 0),
today's single server on SQLite and a local root.

    python tests/benchmarks/bench_scale.py [--nodes 1000] [--replicas 0 1 2 4] [--seconds 20]
                                           [--interval 3]

Each node is one run: it sends its metadata, then one new sealed segment (a real Parquet
segment of 2,000 values, 4 KB zstd) every `interval` seconds (jittered), or at once when the last
upload took longer - a closed loop, like the agent. Nodes reach the replicas round-robin by
node number (what a load balancer does). Printed per replica count: segments stored per
second, p50/p99 upload latency, errors (non-2xx, timeouts), the most database connections
seen (pg_stat_activity), and the CPU seconds of the replicas, PostgreSQL and the object store
over the measured window - where the time went. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from flightlog.sync.accounts import Accounts
from tests.scale_cluster import Replica
from tests.scale_services import Postgres, S3Server
from tests.servers import LiveServer, segment_file, tidy_table

SEGMENTS = 32  # distinct segment bodies, reused by every node (each under its own run)


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            p = psutil.Process(pid)
            procs = [p, *p.children(recursive=True)]
        except psutil.Error:
            continue
        for q in procs:
            try:
                t = q.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
    return total


def postgres_pids(pg: Postgres) -> list[int]:
    pid = int((pg.data / "postmaster.pid").read_text().split()[0])
    return [pid]


async def create_run(c: httpx.AsyncClient, run: str) -> None:
    """The node's run, retried with the agent's capped backoff (a full replica answers 503)."""
    for attempt in range(30):
        try:
            r = await c.put(f"/runs/bench/sim/{run}", json={"meta": {"id": run}, "writers": []})
            if r.status_code < 300:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(min(8.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.0))
    raise RuntimeError(f"run {run} could not be created")


async def node(
    c: httpx.AsyncClient,
    run: str,
    bodies: list[tuple[str, bytes]],
    interval: float,
    stop: float,
    out: dict[str, list],
) -> None:
    """One segment every `interval` s (or at once after a slow upload); a refused or failed
    upload is counted and sent again after the interval, as the agent does."""
    await asyncio.sleep(random.random() * interval)
    seq = 0
    while time.monotonic() < stop and seq < len(bodies):
        name, body = bodies[seq]
        t = time.monotonic()
        try:
            r = await c.put(f"/runs/bench/sim/{run}/segments/history/{name}", content=body)
            ok = r.status_code in (200, 201)
        except httpx.HTTPError:
            ok = False
        took = time.monotonic() - t
        if time.monotonic() > stop:
            break  # finished after the window: not counted
        if ok:
            out["latency"].append(took)
            seq += 1
        else:
            out["errors"].append(took)
        await asyncio.sleep(max(0.0, interval * random.uniform(0.8, 1.2) - took))


def sample_connections(pg: Postgres, db: str, stop: threading.Event, seen: list[int]) -> None:
    while not stop.is_set():
        try:
            seen.append(pg.connections(db))
        except Exception:
            pass
        stop.wait(0.5)


def one(
    pg: Postgres,
    s3: S3Server,
    replicas: int,
    nodes: int,
    seconds: float,
    interval: float,
    bodies: list[tuple[str, bytes]],
    tmp: Path,
) -> dict[str, float]:
    db = pg.new_database()
    bucket = s3.new_bucket()
    if replicas == 0:  # the baseline: today's one server, SQLite and a local root
        servers: list[LiveServer] = [LiveServer(tmp / "plain")]
        accounts = servers[0].accounts
    else:
        accounts = Accounts(db=db)
        servers = [Replica(tmp / f"r{replicas}-{i}", accounts, db, bucket) for i in range(replicas)]
    accounts.add_user("bench")
    key = accounts.create_key("bench")
    for s in servers:
        s.start()
    out: dict[str, list] = {"latency": [], "errors": []}
    conns: list[int] = []
    stop_sampling = threading.Event()
    sampler = threading.Thread(target=sample_connections, args=(pg, db, stop_sampling, conns))
    sampler.start()
    try:
        urls = [s.url for s in servers]
        headers = {"Authorization": f"Bearer {key}"}

        async def all_nodes() -> tuple[float, float, float]:
            clients = [
                httpx.AsyncClient(
                    base_url=f"{urls[i % len(urls)]}/api/v1", headers=headers, timeout=60
                )
                for i in range(nodes)
            ]
            try:
                await asyncio.gather(*(create_run(c, f"n{i:05d}") for i, c in enumerate(clients)))
                watched = [s.pid for s in servers]
                cpu0 = (
                    cpu_seconds(watched),
                    cpu_seconds(postgres_pids(pg)),
                    cpu_seconds([s3.proc.pid]),
                )
                start = time.monotonic()
                await asyncio.gather(
                    *(
                        node(c, f"n{i:05d}", bodies, interval, start + seconds, out)
                        for i, c in enumerate(clients)
                    )
                )
                return cpu0
            finally:
                await asyncio.gather(*(c.aclose() for c in clients))

        cpu0 = asyncio.run(all_nodes())
        watched = [s.pid for s in servers]
        cpu1 = (cpu_seconds(watched), cpu_seconds(postgres_pids(pg)), cpu_seconds([s3.proc.pid]))
    finally:
        stop_sampling.set()
        sampler.join()
        for s in servers:
            s.stop()
        accounts.driver.close()
    lat = sorted(out["latency"])
    return {
        "replicas": replicas,
        "segments_s": len(lat) / seconds,
        "p50_ms": statistics.median(lat) * 1000 if lat else float("nan"),
        "p99_ms": lat[int(len(lat) * 0.99) - 1] * 1000 if lat else float("nan"),
        "errors": len(out["errors"]),
        "db_conns": max(conns, default=0),
        "cpu_replicas": cpu1[0] - cpu0[0],
        "cpu_postgres": cpu1[1] - cpu0[1],
        "cpu_s3": cpu1[2] - cpu0[2],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument(
        "--replicas",
        type=int,
        nargs="+",
        default=[0, 1, 2, 4],
        help="replica counts to measure; 0 is the baseline: one server on SQLite and a local root",
    )
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--interval", type=float, default=3)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    bodies = []
    for seq in range(1, SEGMENTS + 1):
        f = segment_file(
            tmp / "segs",
            tidy_table(200, keys=tuple(f"m{j}" for j in range(10)), start=seq * 200),
            seq=seq,
        )
        bodies.append((f.name, f.read_bytes()))
    pg, s3 = Postgres(), S3Server()
    os.environ.update(s3.env)  # the replicas find the bucket as a deployment's would
    print(
        f"{args.nodes} nodes, one segment ({len(bodies[0][1]) / 1e3:.0f} KB, 2,000 values) every "
        f"~{args.interval:g} s each, {args.seconds:g} s measured; {psutil.cpu_count()} CPUs "
        "shared by the nodes, the replicas, PostgreSQL and moto"
    )
    print("replicas  segments/s  p50 ms  p99 ms  errors  db conns  cpu-s replicas / postgres / s3")
    try:
        for r in args.replicas:
            m = one(pg, s3, r, args.nodes, args.seconds, args.interval, bodies, tmp)
            print(
                f"{m['replicas'] or 'plain':>8}  {m['segments_s']:>10.1f}  {m['p50_ms']:>6.0f}  "
                f"{m['p99_ms']:>6.0f}  {m['errors']:>6}  {m['db_conns']:>8}  "
                f"{m['cpu_replicas']:>6.1f} / {m['cpu_postgres']:.1f} / {m['cpu_s3']:.1f}",
                flush=True,
            )
    finally:
        s3.stop()
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
