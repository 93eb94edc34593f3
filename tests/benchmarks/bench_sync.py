"""Sync speed: upload throughput, server ingest, and seal-to-server latency.

    python tests/benchmarks/bench_sync.py [--store DIR] [--runs 1000] [--steps 10000]
        [--small-segments 5000] [--skip-throughput] [--skip-latency]
        [--baseline PYTHON --pairs N [--baseline-store DIR]]
        [--resync --baseline PYTHON [--rounds 3]]

1. Uploads the 1,000-run benchmark store (bench_index.py's, generated once and reused) to a
   real server on loopback, as `flightlog sync --all` does, and prints MB/s and segments/s
   next to two baselines from the same run: reading + hashing the same files (the client's
   floor) and bare authenticated requests (the HTTP floor). The server's ingest rate is given
   per second of its own CPU time, and the pages per segment (fewer since the writer's
   settings of cfa1c05: a store generated before has the old ones until it is regenerated).
   The same for a store of 5,000 segments of ~4 KB (10 runs
   sealing often: the batched case). Each is followed by the previous client (one request
   and one run at a time, no batches) on part of the same store, in the same run.
2. With an agent running, a training script in online mode seals a segment every 0.5 s:
   the time from each seal to the segment being on the server (median, p95). Then the server
   is killed for 15 s while training goes on: the time from its restart to each segment
   sealed meanwhile arriving.
3. With --baseline PYTHON --pairs N: the upload of the 1,000-run store (or its --first
   runs) by this code and by the baseline interpreter's, alternating, each in a fresh
   process with a fresh server: MB/s, CPU per run of the server and of the client, and the
   load average, per round and their medians. --baseline-store DIR: the baseline uploads
   that store instead (the same runs sealed by the old writer, to compare formats).
4. With --resync: `flightlog sync --all` of the 1,000-run store once synced (nothing to
   send: every run is checked against its mark, and the server asked which runs it still
   has), this code's and the baseline interpreter's, alternating: seconds, CPU seconds of
   the client and requests per re-sync.
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]

from bench_index import ensure_store  # noqa: E402
from sync_breakdown import watch  # noqa: E402

from tests.servers import LiveServer  # noqa: E402


@contextmanager
def previous_client() -> Iterator[None]:
    """The client as it was before batches and requests in flight: the run's PUT, then one
    PUT per segment, one request and one run at a time (the comparison, measured in the
    same run; its blob questions still ride on the run's PUT)."""
    from flightlog.sync import segment_upload, sync_many, uploader

    saved = segment_upload.SMALL, segment_upload.IN_FLIGHT, uploader._together
    groups = sync_many.GROUP_RUNS, sync_many.RUNS_IN_FLIGHT
    segment_upload.SMALL, segment_upload.IN_FLIGHT = 0, 1
    uploader._together = lambda *a: (None, {})  # no metadata and segments in one request
    sync_many.GROUP_RUNS = sync_many.RUNS_IN_FLIGHT = 1  # one run, one request at a time
    try:
        yield
    finally:
        segment_upload.SMALL, segment_upload.IN_FLIGHT, uploader._together = saved
        sync_many.GROUP_RUNS, sync_many.RUNS_IN_FLIGHT = groups


def upload(store: Path, work: Path, label: str, first: int | None = None) -> None:
    """Upload the runs of `store` (the `first` ones) to a fresh server as `flightlog sync
    --all` does (runs and requests in flight, small segments batched) and print the rates
    next to their floors."""
    import httpx
    import psutil

    from flightlog.store.layout import iter_run_dirs
    from flightlog.sync.client import ServerClient
    from flightlog.sync.credentials import Credentials
    from flightlog.sync.sync_many import sync_many
    from flightlog.sync.uploader import Entities, load_local

    for p in store.glob("runs/*/*/sync.json"):
        p.unlink()  # a previous benchmark's marks
    server = LiveServer(work / f"server-{label}").start()
    try:
        key = server.user("bench")
        creds = Credentials(server.url, key, "env")
        runs = [load_local(p) for p in sorted(iter_run_dirs(store), key=lambda p: p.dir)][:first]
        files = [f for r in runs for fs in r.sealed.values() for f in fs]
        size = sum(f.stat().st_size for f in files)

        t = time.perf_counter()
        for f in files:
            hashlib.sha256(f.read_bytes()).hexdigest()
        floor_read = time.perf_counter() - t

        with httpx.Client(headers={"Authorization": f"Bearer {key}"}) as h:
            t = time.perf_counter()
            for _ in range(500):
                h.get(f"{server.url}/api/v1/whoami").raise_for_status()
            whoami_rate = 500 / (time.perf_counter() - t)

        proc = psutil.Process(server.proc.pid)
        cpu0 = sum(proc.cpu_times()[:2])
        loop0 = _main_thread_cpu(proc)
        me = psutil.Process()
        client0 = sum(me.cpu_times()[:2])
        t = time.perf_counter()
        with watch(server.proc.pid) as breakdown, ServerClient(creds) as client:
            results = list(sync_many(client, runs, Entities(client, "bench"), _bar(size)))
        wall = time.perf_counter() - t
        server_cpu = sum(proc.cpu_times()[:2]) - cpu0
        loop_cpu = _main_thread_cpu(proc) - loop0
        client_cpu = sum(me.cpu_times()[:2]) - client0
        errors = [e for _, _, e in results if e is not None]
        sent = sum(r.sent for _, r, _ in results)
        n = len(files)
        on_server = len(list(server.root.glob("runs/*/*/*/*/*.parquet")))
        log = (server.root / "server.log").read_text(errors="replace")
        requests = sum(log.count(f" /api/v1/{r}/") for r in ("runs", "blobs", "sync"))
        print(
            f"[{label}] upload of {len(runs)} runs, {n} segments, {size / 1e6:.0f} MB over "
            f"loopback: {wall:.1f} s, {size / 1e6 / wall:.1f} MB/s, {n / wall:.0f} segments/s, "
            f"{len(runs) / wall:.0f} runs/s ({sent} sent, {on_server} on the server, "
            f"{len(errors)} errors; {requests / len(runs):.2f} requests per run)"
        )
        per_segment, compressed = pages(files[:20])
        page_us = zstd_page_us()
        print(
            f"  {per_segment:.0f} pages per segment (the 1,000-run store sealed since "
            "cfa1c05: 38, before: 57; a store generated before keeps its pages: generate "
            f"another, --store DIR, to measure segments as they are sealed now), {compressed:.0f} "
            f"of them zstd (25 before LZ4 took `step`, `time` and `text`): a zstd page costs "
            f"{page_us:.1f} us of CPU whatever its size (a fresh context each), "
            f"~{compressed * page_us / 1000:.2f} ms of the check per segment"
        )
        print(
            f"  client floor (read + sha256 every file): {size / 1e6 / floor_read:.0f} MB/s, "
            f"{n / floor_read:.0f} files/s -> upload is {floor_read / wall:.2f}x of it"
        )
        print(
            f"  HTTP floor (bare authenticated GET, one at a time): {whoami_rate:.0f} "
            f"requests/s -> {n / wall / whoami_rate:.2f}x in segments/s"
        )
        print(
            f"  server ingest: {size / 1e6 / server_cpu:.1f} MB and {n / server_cpu:.0f} segments "
            f"per server CPU-second ({server_cpu * 1000 / (size / 1e6):.1f} ms of CPU per MB: "
            "sha256, page headers, every value checked, fsync)"
        )
        print(
            f"  CPU per run: server {server_cpu * 1000 / len(runs):.1f} ms (its event loop "
            f"{loop_cpu * 1000 / len(runs):.1f}, the rest in worker threads), client "
            f"{client_cpu * 1000 / len(runs):.1f} ms; load average {os.getloadavg()[0]:.1f}"
        )
        print(breakdown.report(wall))
        t = time.perf_counter()
        with ServerClient(creds) as client:
            again = [load_local(r.paths) for r in runs]
            list(sync_many(client, again, Entities(client, "bench")))
        print(f"  re-sync of the synced store: {time.perf_counter() - t:.2f} s (no requests)")
    finally:
        server.stop()
        for p in store.glob("runs/*/*/sync.json"):
            p.unlink()


def pages(files: list[Path]) -> tuple[float, float]:
    """Pages per segment file, and of them zstd ones, on average (what the server's check
    parses and decompresses one by one; an LZ4 page costs ~0.5 us, `zstd_page_us`)."""
    import pyarrow.parquet as pq

    from flightlog.sync.parquet_pages import chunk_pages

    total = compressed = 0
    for f in files:
        data = f.read_bytes()
        md = pq.ParquetFile(f).metadata
        for i in range(md.num_row_groups):
            for j in range(md.num_columns):
                column = md.row_group(i).column(j)
                n = sum(1 for _ in chunk_pages(data, column))
                total += n
                compressed += n if column.compression == "ZSTD" else 0
    return total / max(len(files), 1), compressed / max(len(files), 1)


def zstd_page_us() -> float:
    """CPU microseconds of decompressing one tiny zstd page as pyarrow's Parquet reader does
    (a fresh zstd context per page; making one runs `cpuid` twice, which a hypervisor may
    trap): the fixed cost each compressed page adds to the server's check, and to readers."""
    import pyarrow as pa

    codec = pa.Codec("zstd")
    page = codec.compress(b"\0" * 48)
    t = time.thread_time()
    for _ in range(2000):
        codec.decompress(page, decompressed_size=48)
    return (time.thread_time() - t) / 2000 * 1e6


def _main_thread_cpu(proc) -> float:
    """CPU seconds of the server's main thread (its event loop: HTTP, routing, bodies)."""
    main = [t for t in proc.threads() if t.id == proc.pid]
    return main[0].user_time + main[0].system_time if main else 0.0


def _bar(total: int):
    """A rich progress bar of the bytes uploaded, on stderr (as `flightlog sync` shows)."""
    import threading

    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    bar = Progress(
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("upload", total=total)
    lock = threading.Lock()
    seen = [0]

    def on_bytes(n: int) -> None:
        with lock:
            seen[0] += n
            if not bar.live.is_started:
                bar.start()
        bar.update(task, completed=seen[0])
        if seen[0] >= total:
            bar.stop()

    return on_bytes


def small_store(store: Path, runs: int, segments: int) -> Path:
    """A store of `runs` runs of `segments` sealed segments of ~4 KB each (a run sealing a
    segment every few seconds), made once and reused."""
    marker = store / f".bench-small-{runs}x{segments}"
    if marker.exists():
        return store
    import flightlog
    from tests.servers import segment_file, tidy_table

    shutil.rmtree(store, ignore_errors=True)
    os.environ.update(FLIGHTLOG_SILENT="1", FLIGHTLOG_DISABLE_GIT="1")
    for i in range(runs):
        run = flightlog.init(project="small", dir=str(store), mode="offline", name=f"s{i}")
        run.log({"loss": 1.0})
        run.finish()
        history = Path(run.dir) / "history"
        for seq in range(1, segments + 1):
            table = tidy_table(40, ("a", "b", "c", "d", "e"), f"bench{i}", start=seq * 40)
            segment_file(history, table, writer=f"bench{i}", seq=seq)
    marker.touch()
    return store


TRAIN = """
import time, flightlog
run = flightlog.init(project="lat", mode="online")
end = time.time() + {seconds}
i = 0
while time.time() < end:
    run.log({{f"m{{j}}": i * j for j in range(10)}})
    i += 1
    time.sleep(0.001)
run.finish()
"""


def arrivals(local: Path, remote: Path) -> list[tuple[float, float]]:
    """(sealed at, on the server at) for every segment that reached the server."""
    out = []
    for f in local.glob("runs/lat/*/history/*.parquet"):
        twin = list(remote.glob(f"runs/@*/lat/*/history/{f.name}"))
        if twin:
            out.append((f.stat().st_mtime, twin[0].stat().st_mtime))
    return sorted(out)


def latency(work: Path) -> None:
    store = work / "store"
    server = LiveServer(work / "latency-server").start()
    key = server.user("bench")
    env = {
        **os.environ,
        **server.env(key),
        "FLIGHTLOG_DIR": str(store),
        "FLIGHTLOG_SEGMENT_SECONDS": "0.5",
        "FLIGHTLOG_SILENT": "1",
        "FLIGHTLOG_DISABLE_GIT": "1",
    }
    store.mkdir(parents=True)
    agent = subprocess.Popen(
        [sys.executable, "-m", "flightlog.cli", "sync", "--watch", str(store)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        time.sleep(1.0)
        code = textwrap.dedent(TRAIN.format(seconds=20))
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        time.sleep(3.0)
        lat = [b - a for a, b in arrivals(store, server.root)]
        lat.sort()
        print(
            f"seal -> on server, agent running, {len(lat)} segments: median "
            f"{statistics.median(lat) * 1000:.0f} ms, p95 {lat[int(len(lat) * 0.95)] * 1000:.0f} "
            f"ms, max {lat[-1] * 1000:.0f} ms (target: median <= 100 ms)"
        )
        trainer = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(TRAIN.format(seconds=25))], env=env
        )
        time.sleep(3.0)
        server.kill()
        down_at = time.time()
        time.sleep(15.0)
        server.start()
        back = time.time()
        trainer.wait()
        time.sleep(12.0)
        during = [(a, b) for a, b in arrivals(store, server.root) if down_at <= a <= back]
        after = sorted(b - back for _, b in during)
        if after:
            print(
                f"server down 15 s: {len(during)} segments sealed meanwhile reached it "
                f"{after[0]:.1f}-{after[-1]:.1f} s after its restart (target: <= 10 s)"
            )
        else:
            print("server down 15 s: no segment sealed meanwhile reached it")
    finally:
        agent.terminate()
        agent.wait()
        server.stop()


def resync(store: Path, work: Path, baseline: str, rounds: int) -> None:
    """`flightlog sync --all` of `store` once synced to a server (this code's), by this
    code and by `baseline`'s, alternating: what a cron job or a requeued job's epilogue
    pays when nothing is new."""
    import resource

    import psutil

    for p in store.glob("runs/*/*/sync.json"):
        p.unlink()  # a previous benchmark's marks
    server = LiveServer(work / "server-resync").start()
    served = psutil.Process(server.pid)
    env = {
        **os.environ,
        **server.env(server.user("bench")),
        "FLIGHTLOG_CONFIG_DIR": str(work / "config"),
        "FLIGHTLOG_SILENT": "1",
    }
    args = ["-m", "flightlog.cli", "sync", "--all", "--root", str(store), "--entity", "bench"]
    log = server.root / "server.log"

    def once(python: str) -> tuple[float, float, int, float]:
        seen = log.stat().st_size
        server_cpu = sum(served.cpu_times()[:2])
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        r = subprocess.run([python, *args], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode != 0:
            raise SystemExit(f"{python}: {r.stdout}{r.stderr}")
        with open(log, "rb") as f:
            f.seek(seen)
            requests = f.read().count(b" /api/v1/")
        client = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
        return wall, client, requests, sum(served.cpu_times()[:2]) - server_cpu

    try:
        t = time.perf_counter()
        once(sys.executable)
        print(f"[re-sync] first sync of {store}: {time.perf_counter() - t:.0f} s")
        once(sys.executable)  # unmeasured: the server's first listing indexes the new runs
        got: dict[str, list[tuple[float, float, int, float]]] = {"this code": [], "baseline": []}
        for _ in range(rounds):
            got["this code"].append(once(sys.executable))
            got["baseline"].append(once(baseline))
        for label, runs in got.items():
            walls = sorted(r[0] for r in runs)
            print(
                f"  {label}: re-sync of the synced store {statistics.median(walls):.2f} s "
                f"(median of {rounds}, {walls[0]:.2f}-{walls[-1]:.2f}), client CPU "
                f"{statistics.median(r[1] for r in runs):.2f} s, server CPU "
                f"{statistics.median(r[3] for r in runs):.2f} s, {runs[-1][2]} request(s)"
            )
        mine, base = (statistics.median(r[0] for r in got[k]) for k in got)
        print(f"  -> {base / mine:.2f}x faster; load average {os.getloadavg()[0]:.1f}")
    finally:
        server.stop()
        for p in store.glob("runs/*/*/sync.json"):
            p.unlink()


#: what `paired` reads from `upload`'s lines
FIGURES = {
    "MB/s": r"([\d.]+) MB/s,",
    "runs/s": r"(\d+) runs/s",
    "server ms/run": r"CPU per run: server ([\d.]+) ms",
    "event loop ms/run": r"its event loop ([\d.]+)",
    "client ms/run": r"client ([\d.]+) ms;",
    "MB per server CPU-s": r"server ingest: ([\d.]+) MB",
    "load": r"load average ([\d.]+)",
}


def paired(store: Path, baseline: str, pairs: int, first: int | None, baseline_store: Path) -> None:
    """The upload of `store` by this code and of `baseline_store` by `baseline`'s,
    alternating in fresh processes (this script, each interpreter importing its own
    flightlog): each round's figures, then the medians."""
    args = ["--skip-previous", "--skip-small", "--skip-latency"]
    args += ["--first", str(first)] if first else []
    got: dict[str, list[dict[str, float]]] = {"this code": [], "baseline": []}
    for _ in range(pairs):
        for label, python, where in (
            ("this code", sys.executable, store),
            ("baseline", baseline, baseline_store),
        ):
            out = subprocess.run(
                [python, __file__, "--store", str(where), *args],
                capture_output=True,
                text=True,
                check=True,
            )
            found = {k: re.search(rx, out.stdout) for k, rx in FIGURES.items()}
            if not all(found.values()):
                raise SystemExit(f"{python}: no figures in\n{out.stdout}{out.stderr}")
            got[label].append({k: float(m.group(1)) for k, m in found.items() if m})
            print(f"  {label}: " + ", ".join(f"{k} {v:g}" for k, v in got[label][-1].items()))
    for label, rounds in got.items():
        med = {k: statistics.median(r[k] for r in rounds) for k in FIGURES}
        print(
            f"[upload, median of {pairs}] {label}: "
            + ", ".join(f"{k} {v:g}" for k, v in med.items())
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--store", default="/tmp/flightlog-bench-store")
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--small-store", default="/tmp/flightlog-bench-small-store")
    p.add_argument("--small-segments", type=int, default=5000, help="~4 KB each, in 10 runs")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-latency", action="store_true")
    p.add_argument("--first", type=int, help="upload only the first N runs of the big store")
    p.add_argument("--skip-previous", action="store_true", help="not the previous client")
    p.add_argument("--skip-small", action="store_true", help="not the small segments' store")
    p.add_argument("--resync", action="store_true", help="re-sync of the synced store")
    p.add_argument("--baseline", metavar="PYTHON", help="the old code's python (--pairs, --resync)")
    p.add_argument("--pairs", type=int, help="with --baseline: uploads of each, alternating")
    p.add_argument("--baseline-store", help="with --pairs: the store the baseline uploads")
    p.add_argument("--rounds", type=int, default=3, help="with --resync: runs of each")
    args = p.parse_args()
    if (args.resync or args.pairs) and not args.baseline:
        p.error("--resync and --pairs need --baseline PYTHON (an interpreter of the old code)")
    work = Path(tempfile.mkdtemp(prefix="flightlog-bench-sync-"))
    try:
        if args.pairs:
            ensure_store(Path(args.store), args.runs, args.steps)
            theirs = Path(args.baseline_store or args.store)
            paired(Path(args.store), args.baseline, args.pairs, args.first, theirs)
        elif not args.skip_throughput:
            gen = ensure_store(Path(args.store), args.runs, args.steps)
            if gen:
                print(f"generated the benchmark store in {gen:.0f} s")
            upload(Path(args.store), work, f"{args.first or args.runs} runs", args.first)
            if not args.skip_previous:
                with previous_client():
                    upload(Path(args.store), work, "previous client, first 200 runs", 200)
            if not args.skip_small:
                small = small_store(Path(args.small_store), 10, args.small_segments // 10)
                upload(small, work, f"{args.small_segments} small segments")
                if not args.skip_previous:
                    with previous_client():
                        upload(small, work, "previous client, first 1/10 of them", 1)
        if args.resync:
            ensure_store(Path(args.store), args.runs, args.steps)
            resync(Path(args.store), work, args.baseline, args.rounds)
        if not args.skip_latency:
            latency(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
