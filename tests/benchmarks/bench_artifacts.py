"""A big checkpoint through `log_artifact`, next to `shutil.copy` of the same file (the floor:
log_artifact copies it into the store while it hashes it, and fsyncs it).

    python tests/benchmarks/bench_artifacts.py [--size-mb 2048] [--dir DIR] [--sync]

Each measurement runs in a child interpreter that reports its own time and peak RSS
(ru_maxrss), so the numbers are not mixed with this process. Peak RSS is printed for the full
size and for an eighth of it: memory must not grow with the file (streamed in 1 MB chunks).
`--sync` also sends the run to a real server subprocess and fetches the artifact back with
`flightlog artifact get` into a second store (server peak RSS included). Prints numbers;
asserts nothing. Tests never run this (a 2 GB file by default).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CHILD = """
import json, os, resource, shutil, sys, time
kind, src, work = sys.argv[1], sys.argv[2], sys.argv[3]
os.environ["FLIGHTLOG_DIR"] = os.path.join(work, "store")
os.environ["FLIGHTLOG_SILENT"] = "1"
os.environ["FLIGHTLOG_DISABLE_GIT"] = "1"
import flightlog
run = flightlog.init(project="bench", reinit="create_new")
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
if kind in ("copy", "copy+fsync"):
    shutil.copy(src, os.path.join(work, "copy.bin"))
    if kind == "copy+fsync":
        fd = os.open(os.path.join(work, "copy.bin"), os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
elif kind == "sha256":
    from flightlog.store.blobs import sha256_file
    sha256_file(src)
else:
    version = run.log_model(src, name="ckpt").version
secs = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
run.finish(quiet=True)
print(json.dumps({"secs": secs, "peak_mb": peak / 1024, "before_mb": base / 1024, "dir": run.dir}))
"""


def child(kind: str, src: Path, work: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(src), str(work)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def make_file(path: Path, size_mb: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for i in range(size_mb):
            f.write(block[i % 251 :] + block[: i % 251])  # every MB different: no dedup inside


def measure(size_mb: int, work: Path) -> dict:
    src = work / f"ckpt-{size_mb}.bin"
    make_file(src, size_mb)
    copy = child("copy", src, work)
    (work / "copy.bin").unlink()
    logged = child("log", src, work)
    copy2 = child("copy", src, work)  # again, with the cache as warm as log_artifact had it
    (work / "copy.bin").unlink()
    durable = child("copy+fsync", src, work)
    (work / "copy.bin").unlink()
    hashed = child("sha256", src, work)
    src.unlink()
    floor = min(copy["secs"], copy2["secs"])
    return {"copy": copy, "copy_secs": floor, "log": logged, "durable": durable, "sha256": hashed}


def sync_and_fetch(work: Path, run_dir: str) -> None:
    sys.path.insert(0, str(REPO))
    from tests.servers import LiveServer

    root = work / "server"
    root.mkdir()
    srv = LiveServer(root).start()
    try:
        key = srv.user("bench")
        env = {**os.environ, "FLIGHTLOG_BASE_URL": srv.url, "FLIGHTLOG_API_KEY": key}
        env["FLIGHTLOG_CONFIG_DIR"] = str(work / "config")
        srv.reset_peak()
        t = time.perf_counter()
        cmd = [sys.executable, "-m", "flightlog.cli", "sync", run_dir, "--entity", "bench"]
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        up = time.perf_counter() - t
        print(f"sync to a server:      {up:8.2f} s   server peak RSS {srv.peak_mb():7.1f} MB")
        t = time.perf_counter()
        get = [
            sys.executable,
            "-m",
            "flightlog.cli",
            "artifact",
            "get",
            "bench/bench/ckpt:latest",
            "--root",
            str(work / "laptop"),
            "-o",
            str(work / "got"),
        ]
        subprocess.run(get, env=env, check=True, capture_output=True)
        print(f"artifact get (remote): {time.perf_counter() - t:8.2f} s")
    finally:
        srv.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size-mb", type=int, default=2048)
    p.add_argument("--dir", help="work directory (default: a temp dir; needs ~3x the size free)")
    p.add_argument("--sync", action="store_true", help="also sync to a server and fetch back")
    args = p.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="bench-artifacts-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        small = measure(max(args.size_mb // 8, 1), work)
        shutil.rmtree(work / "store")
        full = measure(args.size_mb, work)
        log, floor = full["log"], full["copy_secs"]
        mb = args.size_mb
        print(f"checkpoint {mb} MB (and {max(mb // 8, 1)} MB for the memory check)")
        print(f"shutil.copy (floor):   {floor:8.2f} s   {mb / floor:8.0f} MB/s")
        synced = full["durable"]["secs"]
        print(f"shutil.copy + fsync:   {synced:8.2f} s   {mb / synced:8.0f} MB/s")
        hashed = full["sha256"]["secs"]
        print(f"sha256 of the file:    {hashed:8.2f} s   {mb / hashed:8.0f} MB/s")
        print(
            f"log_artifact:          {log['secs']:8.2f} s   {mb / log['secs']:8.0f} MB/s   "
            f"x{log['secs'] / floor:.2f} of copy, x{log['secs'] / (synced + hashed):.2f} of "
            "copy + fsync + sha256 (what it does, in one pass)"
        )
        print(
            f"peak RSS log_artifact: {log['peak_mb']:8.1f} MB at {mb} MB, "
            f"{small['log']['peak_mb']:.1f} MB at {max(mb // 8, 1)} MB "
            f"(process before logging: {log['before_mb']:.1f} MB; "
            f"shutil.copy: {full['copy']['peak_mb']:.1f} MB)"
        )
        if args.sync:
            sync_and_fetch(work, log["dir"])
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
