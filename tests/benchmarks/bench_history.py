"""Reading history back through `Api`, next to reading the same Parquet with pyarrow.

    python tests/benchmarks/bench_history.py [--steps 1000000] [--wide-keys 10000]

Four runs are logged through flightlog: STEPS steps of 3 floats, the same with a fourth key
every 100 steps (rows of two key sets, as a run with an eval metric), 200 steps of WIDE_KEYS
keys, and 100 steps of 3 floats (a short read, which must not pay for the second thread long
reads use: store/two_threads.py). Each read is timed alternately with its floor
(`pq.read_table` of every segment of the run, concatenated), medians of 3 after one untimed
call of each, wall clock and CPU time, and printed with the ratio (targets of issue 16:
`history()` <= 2x, `scan_history()` <= 5x, and `keys=` reading only those keys). The load
average is printed first: wall ratios depend on idle cores (the floor decodes on all of
them, flightlog's reads on two). The backlog `finish()` leaves in a journal is sealed
first, as the agent would, so that the floor reads every row. `scan_history()` is also
shown next to the least a scan can cost (the floor, then 1M dicts from the pivoted table's
columns by the cheapest CPython construct). A `keys=` read is also shown next to pyarrow's
own filtered read of the same files (`filters=`, which skips row groups by their
statistics too).
Sealed segments are sorted by (key, step) in row groups cut at key boundaries, so `keys=`
decodes only the row groups holding those keys; the last lines give what that sort costs
the writer thread and what `finish()` took. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from itertools import repeat
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import flightlog
from flightlog.store.row_dicts import make_dicts
from flightlog.store.sealing import ROW_GROUP, key_groups

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: its tests
from tests.conftest import settled


def pair(new: Callable[[], object], floor: Callable[[], object], repeat: int = 3) -> tuple:
    """Median seconds of `new` and of `floor`, measured alternately after one untimed call
    of each (the first calls after logging page in fresh memory: up to 2x slower), then the
    same in CPU seconds of the process (all its threads): steadier on a shared machine,
    where a wall clock also counts the time other processes held the cores."""
    new(), floor()
    times: tuple[list[float], ...] = ([], [], [], [])
    for _ in range(repeat):
        for fn, wall, cpu in ((new, times[0], times[2]), (floor, times[1], times[3])):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return tuple(statistics.median(t) for t in times)


def log_run(root: Path, project: str, steps: int, keys: list[str], rare: str = "") -> float:
    """Log the run (with `rare`, that key too every 100 steps: rows of two key sets), then
    seal the backlog finish() leaves in its journal (as the agent or `doctor --repair`
    would), so that the floor reads every row too; returns the seconds `finish()` took."""
    run = flightlog.init(project=project, dir=str(root), mode="offline", reinit=True)
    for i in range(steps):
        row = {k: i * 0.5 + j for j, k in enumerate(keys)}
        if rare and i % 100 == 0:
            row[rare] = i * 0.1
        run.log(row)
    t0 = time.perf_counter()
    run.finish(quiet=True)
    took = time.perf_counter() - t0
    settled(run)
    return took


def segment_files(root: Path, project: str) -> list[Path]:
    return sorted((root / "runs" / project).glob("*/history/*.parquet"))


def floor_read(root: Path, project: str, keys: list[str] | None = None) -> Callable[[], pa.Table]:
    files = segment_files(root, project)
    filters = None if keys is None else [("key", "in", keys)]
    return lambda: pa.concat_tables([pq.read_table(f, filters=filters) for f in files])


def floor_dicts(floor: Callable[[], pa.Table], wide: pa.Table) -> Callable[[], int]:
    """The least a scan can cost: the floor's read, then one dict per row of the wide table
    (already pivoted, for free) from its columns, by the cheapest CPython construct measured
    (store/row_dicts.py: a dict display over values made as each row is built)."""
    names = wide.column_names

    def run() -> int:
        floor()
        cols: list[Iterable[object]] = []
        for c in names:
            col = wide.column(c)
            if pa.types.is_string(col.type) and col.null_count == 0 and len(col.unique()) == 1:
                cols.append(repeat(col[0].as_py(), len(col)))  # one writer: one label
            else:
                cols.append(memoryview(col.to_numpy(zero_copy_only=False)))
        return sum(1 for _ in make_dicts(names, cols))

    return run


def report(
    what: str, new: float, floor: float, new_cpu: float, floor_cpu: float, name: str = "floor"
) -> None:
    def ms(s: float, width: int) -> str:  # short reads: a tenth of a ms
        return f"{s * 1000:{width}.{0 if s >= 0.01 else 1}f}"

    print(
        f"{what:<34} {ms(new, 6)} ms  {name} {ms(floor, 5)} ms  {new / floor:5.2f}x"
        f"  (CPU {ms(new_cpu, 5)} / {ms(floor_cpu, 5)} ms  {new_cpu / floor_cpu:5.2f}x)"
    )


def sort_cost(root: Path, project: str) -> tuple[float, int]:
    """Seconds the writer thread's key sort takes over the run's rows, per ROW_GROUP rows,
    next to the number of such batches."""
    table = pa.concat_tables([pq.read_table(f) for f in segment_files(root, project)])
    spent, batches = 0.0, 0
    for a in range(0, table.num_rows, ROW_GROUP):
        part = table.slice(a, ROW_GROUP)
        t0 = time.perf_counter()
        key_groups(part)
        spent += time.perf_counter() - t0
        batches += 1
    return spent, batches


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--wide-keys", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        finish_long = log_run(root, "long", args.steps, ["loss", "acc", "lr"])
        wide = [f"k{j:05d}" for j in range(args.wide_keys)]
        finish_wide = log_run(root, "wide", 200, wide)
        log_run(root, "short", 100, ["loss", "acc", "lr"])
        log_run(root, "sparse", args.steps, ["loss", "acc", "lr"], rare="val/loss")
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"load average {load} on {os.cpu_count()} cores")
        read = sum(pq.read_metadata(f).num_rows for f in segment_files(root, "long"))
        print(f"the floor reads {read:,} rows of {args.steps * 3:,} logged (journals sealed)")
        api = flightlog.Api(dir=str(root))
        long_run = api.run(f"long/{api.runs('long')[0].id}")
        wide_run = api.run(f"wide/{api.runs('wide')[0].id}")
        floor = floor_read(root, "long")
        print(f"{args.steps:,} steps x 3 keys")
        report("history()", *pair(long_run.history, floor))
        one = ["loss"]
        report("history(keys=['loss'])", *pair(lambda: long_run.history(keys=one), floor))
        report(
            "  same, next to pyarrow filters=",
            *pair(lambda: long_run.history(keys=one), floor_read(root, "long", one)),
            "filtered",
        )
        scan = lambda: sum(1 for _ in long_run.scan_history())  # noqa: E731
        report("scan_history()", *pair(scan, floor))
        dicts = floor_dicts(floor, long_run.history())
        report("  same, next to floor + the dicts", *pair(scan, dicts), "fl+dicts")
        try:
            import pandas  # noqa: F401  (wandb's shape: a DataFrame)
        except ImportError:
            print("history(pandas=True): pandas is not installed")
        else:
            report(
                "history(pandas=True)",
                *pair(lambda: long_run.history(pandas=True), lambda: floor().to_pandas()),
                "floor+to_pandas",
            )
        print(f"{args.steps:,} steps x 3 keys, and 'val/loss' every 100 steps")
        sparse_run = api.run(f"sparse/{api.runs('sparse')[0].id}")
        sparse_floor = floor_read(root, "sparse")
        report("history()", *pair(sparse_run.history, sparse_floor))
        sparse_scan = lambda: sum(1 for _ in sparse_run.scan_history())  # noqa: E731
        report("scan_history()", *pair(sparse_scan, sparse_floor))
        print(f"200 steps x {args.wide_keys:,} keys")
        wfloor = floor_read(root, "wide")
        three = wide[:1] + wide[len(wide) // 2 : len(wide) // 2 + 1] + wide[-1:]
        report("history()", *pair(wide_run.history, wfloor))
        report("history(keys=[3 keys])", *pair(lambda: wide_run.history(keys=three), wfloor))
        report(
            "  same, next to pyarrow filters=",
            *pair(lambda: wide_run.history(keys=three), floor_read(root, "wide", three)),
            "filtered",
        )
        report("scan_history()", *pair(lambda: sum(1 for _ in wide_run.scan_history()), wfloor))
        print("100 steps x 3 keys (read on the calling thread alone)")
        short_run = api.run(f"short/{api.runs('short')[0].id}")
        sfloor = floor_read(root, "short")
        report("history()", *pair(short_run.history, sfloor, repeat=21))
        short_scan = lambda: sum(1 for _ in short_run.scan_history())  # noqa: E731
        report("scan_history()", *pair(short_scan, sfloor, repeat=21))
        for project, finished in (("long", finish_long), ("wide", finish_wide)):
            spent, batches = sort_cost(root, project)
            print(
                f"{project}: finish() {finished * 1000:.0f} ms; the seal's key sort "
                f"{spent * 1000:.0f} ms in all ({spent / max(batches, 1) * 1000:.1f} ms per "
                f"{ROW_GROUP:,} rows, on the writer thread)"
            )


if __name__ == "__main__":
    main()
