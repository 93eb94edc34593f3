"""Reading history back through `Api`, next to reading the same Parquet with pyarrow.

    python tests/benchmarks/bench_history.py [--steps 1000000] [--wide-keys 10000]

Two runs are logged through flightlog: STEPS steps of 3 floats, and 200 steps of WIDE_KEYS
keys. Each read is timed alternately with its floor (`pq.read_table` of every segment of the
run, concatenated), medians of 3, and printed with the ratio (targets of issue 16:
`history()` <= 2x, `scan_history()` <= 5x). `history(keys=[3 keys])` of the wide run shows
what reading a few keys costs: the segments hold the long (step, key, value) form, so every
row group is decoded and filtered; only the pivot is pruned. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import flightlog


def pair(new: Callable[[], object], floor: Callable[[], object], repeat: int = 3) -> tuple:
    """Median seconds of `new` and of `floor`, measured alternately."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, out in ((new, times[0]), (floor, times[1])):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return statistics.median(times[0]), statistics.median(times[1])


def log_run(root: Path, project: str, steps: int, keys: list[str]) -> None:
    run = flightlog.init(project=project, dir=str(root), mode="offline", reinit=True)
    for i in range(steps):
        run.log({k: i * 0.5 + j for j, k in enumerate(keys)})
    run.finish()


def floor_read(root: Path, project: str) -> Callable[[], pa.Table]:
    files = sorted((root / "runs" / project).glob("*/history/*.parquet"))
    return lambda: pa.concat_tables([pq.read_table(f) for f in files])


def report(what: str, new: float, floor: float) -> None:
    print(f"{what:<36} {new * 1000:9.0f} ms   floor {floor * 1000:7.0f} ms   {new / floor:5.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--wide-keys", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        log_run(root, "long", args.steps, ["loss", "acc", "lr"])
        wide = [f"k{j:05d}" for j in range(args.wide_keys)]
        log_run(root, "wide", 200, wide)
        api = flightlog.Api(dir=str(root))
        long_run, wide_run = api.runs("long")[0], api.runs("wide")[0]
        floor = floor_read(root, "long")
        print(f"{args.steps:,} steps x 3 keys")
        report("history()", *pair(long_run.history, floor))
        report("history(keys=['loss'])", *pair(lambda: long_run.history(keys=["loss"]), floor))
        report("scan_history()", *pair(lambda: sum(1 for _ in long_run.scan_history()), floor))
        print(f"200 steps x {args.wide_keys:,} keys")
        wfloor = floor_read(root, "wide")
        report("history()", *pair(wide_run.history, wfloor))
        report("history(keys=[3 keys])", *pair(lambda: wide_run.history(keys=wide[:3]), wfloor))


if __name__ == "__main__":
    main()
