"""Index and query speed on a synthetic store of 1,000 runs x 10,000 steps x 10 metrics.

    python tests/benchmarks/bench_index.py [--store DIR] [--runs 1000] [--steps 10000]

The store is generated once through the real writer (two processes) and reused when
--store already holds it. Printed next to each figure: a baseline measured in the same run
on the same machine (these machines are noisy, so ratios mean more than absolute numbers).
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

KEYS = [f"metric_{j}" for j in range(10)]


def generate(store: Path, runs: int, steps: int, worker: int, workers: int) -> None:
    """Write runs worker, worker+workers, ... (called in a child process)."""
    import math
    import random

    os.environ["FLIGHTLOG_SILENT"] = "1"
    os.environ["FLIGHTLOG_DISABLE_GIT"] = "1"
    import flightlog

    for i in range(worker, runs, workers):
        rng = random.Random(i)
        lr = 10 ** rng.uniform(-5, -1)
        run = flightlog.init(
            project=f"proj-{i % 5}",
            group=f"g{i % 20}",
            dir=str(store),
            config={"lr": lr, "seed": i, "layers": i % 7},
            reinit=True,
            tags=["bench", "odd" if i % 2 else "even"],
        )
        for s in range(steps):
            base = math.exp(-s * lr * 10)
            run.log({k: base * (1 + j) + rng.random() * 0.01 for j, k in enumerate(KEYS)})
        run.finish(quiet=True)


def ensure_store(store: Path, runs: int, steps: int) -> float:
    marker = store / f".bench-{runs}x{steps}"
    if marker.exists():
        return 0.0
    import shutil

    shutil.rmtree(store, ignore_errors=True)
    store.mkdir(parents=True)
    t = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--generate",
                str(w),
                "--store",
                str(store),
                "--runs",
                str(runs),
                "--steps",
                str(steps),
            ]
        )
        for w in range(2)
    ]
    for p in procs:
        if p.wait() != 0:
            raise SystemExit("generation failed")
    marker.touch()
    return time.perf_counter() - t


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median seconds of `repeat` calls."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--store", default="/tmp/flightlog-bench-store")
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    store = Path(args.store)
    if args.generate is not None:
        generate(store, args.runs, args.steps, args.generate, 2)
        return

    gen = ensure_store(store, args.runs, args.steps)
    scalars = args.runs * args.steps * len(KEYS)
    if gen:
        print(
            f"generated {args.runs} runs x {args.steps} steps x {len(KEYS)} metrics through "
            f"the writer in {gen:.0f}s ({scalars / gen:,.0f} scalars/s, 2 processes)"
        )

    from flightlog.store import StoredRun, iter_run_dirs
    from flightlog.store.catalog import common_summary_keys, select_runs, values_of
    from flightlog.store.index import INDEX_FILE, Index
    from flightlog.store.query import downsample

    hist = [f for f in store.rglob("history/*") if f.is_file()]
    disk = sum(f.stat().st_size for f in hist)
    print(
        f"store: {len(hist)} segments, {disk / 1e6:.0f} MB of history, "
        f"{disk / scalars:.2f} bytes per logged scalar"
    )

    # cold build, against the floor of reading every run's JSON files without an index
    (store / INDEX_FILE).unlink(missing_ok=True)
    t = time.perf_counter()
    with Index(store) as idx:
        n_runs = idx.last.runs_indexed
    cold = time.perf_counter() - t
    floor = timed(lambda: [StoredRun.load(p).summary for p in iter_run_dirs(store)], 3)
    print(
        f"cold index build: {cold:.2f}s, {n_runs / cold:,.0f} runs/s, "
        f"{len(hist) / cold:,.0f} segments/s"
    )

    def runs_command() -> None:
        with Index(store) as idx:
            rows = select_runs(idx)
            keys = [r["run_key"] for r in rows]
            values_of(idx, "summary", keys)
            common_summary_keys(idx, keys)

    warm = timed(runs_command)
    print(
        f"`flightlog runs` work, warm, {n_runs} runs: {warm * 1000:.0f} ms "
        f"(target 300 ms; reading every run's JSON without an index: {floor * 1000:.0f} ms, "
        f"{floor / warm:.1f}x slower)"
    )
    env = {**os.environ, "FLIGHTLOG_DIR": str(store)}
    cmd = timed(
        lambda: subprocess.run(
            [sys.executable, "-m", "flightlog.cli", "runs"],
            env=env,
            capture_output=True,
            check=True,
        ),
        3,
    )
    bare = timed(
        lambda: subprocess.run(
            [sys.executable, "-c", "import duckdb, pyarrow, rich"], capture_output=True, check=True
        ),
        3,
    )
    print(
        f"`flightlog runs` whole command: {cmd * 1000:.0f} ms "
        f"(python + duckdb/pyarrow/rich imports alone: {bare * 1000:.0f} ms)"
    )

    # catch-up after one new run
    os.environ["FLIGHTLOG_SILENT"] = "1"
    import flightlog

    run = flightlog.init(project="proj-new", dir=str(store), reinit=True)
    for s in range(args.steps):
        run.log({k: s * 1.0 for k in KEYS})
    run.finish(quiet=True)
    t = time.perf_counter()
    with Index(store) as idx:
        catch = time.perf_counter() - t
        indexed = idx.last.runs_indexed
    nothing = timed(lambda: Index(store).close())
    print(
        f"catch-up after one new run: {catch * 1000:.0f} ms ({indexed} run re-read; "
        f"a catch-up with nothing new: {nothing * 1000:.0f} ms)"
    )

    with Index(store) as idx:
        keys = [r["run_key"] for r in select_runs(idx, limit=20)]
        one = timed(lambda: downsample(idx, keys[:1], "metric_3", 500))
        twenty = timed(lambda: downsample(idx, keys, "metric_3", 500))
        import numpy as np

        stored = StoredRun.load(
            next(p for p in iter_run_dirs(store) if p.dir.name == keys[0].split("/")[1])
        )

        def pyarrow_floor() -> None:  # no DuckDB: read the run's history, bucket in numpy
            t_ = stored.tidy(["metric_3"])
            v = t_.column("value").to_numpy()
            b = np.arange(len(v)) * 500 // max(len(v), 1)
            np.maximum.reduceat(v, np.searchsorted(b, np.arange(500)))

        floor1 = timed(pyarrow_floor)
    print(
        f"500-point downsampled curve, 1 run: {one * 1000:.0f} ms (target 100 ms; pyarrow "
        f"read + numpy: {floor1 * 1000:.0f} ms)"
    )
    print(
        f"500-point downsampled curves, 20 runs overlaid: {twenty * 1000:.0f} ms "
        f"(target 300 ms; {twenty / one:.1f}x one run)"
    )
    print(
        json.dumps(
            {
                "cold_s": cold,
                "warm_runs_ms": warm * 1000,
                "catch_up_ms": catch * 1000,
                "curve_1_ms": one * 1000,
                "curve_20_ms": twenty * 1000,
                "bytes_per_scalar": disk / scalars,
            }
        )
    )


if __name__ == "__main__":
    main()
