"""The team server's one-run chart (sync/run_reads.py, what GET .../view and .../chart run) on
a long run: a 240-bucket chart of the whole run, of its middle half and of 2,000 steps, each
by a fresh RunReader as a request makes one, with its pyramids (built by the server's index
when it describes a large segment) and, on a shorter run, without them (its sidecars gone:
every row read).

    python tests/benchmarks/bench_server_chart.py [--steps 10000000] [--raw-steps 1000000]
                                [--repeat 5] [--baseline /tmp/old/.venv/bin/python]

The run (one metric, every step, 500,000-row segments) is bench_charts.py's, cached under
--cache. Each measurement is a child process (the footer cache and the pyramids' cache start
empty: `first` is a server's first request for the run, the others the median of 5 after
it; `floor`: pyarrow reading every segment's step, key and value, as bench_charts.py's,
measured in every run, baseline or not, each chart's ratio to it printed), timed by the
wall clock and by the process's CPU time (which a loaded machine sways less); `--baseline`
runs the same children with another interpreter (an older checkout's venv), alternated
with this one. Medians over `repeat` children; the load average is printed. Prints
numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: the charts timed, then the floor: pyarrow reading every segment's step, key and value
CASES = ("first", "whole", "half", "2,000 steps", "floor")


def child(root: Path, run_key: str, steps: int) -> dict[str, float]:
    """ms per chart of the run at `root`, read as the server reads it."""
    import pyarrow.parquet as pq

    from flightlog.store.layout import RunPaths
    from flightlog.sync.limits import ServerLimits
    from flightlog.sync.run_reads import RunReader

    paths = RunPaths.of_key(root, run_key)
    segments = sorted(paths.history.glob("*.parquet"))

    def timed(read: Callable[[], object]) -> tuple[float, float]:
        t, cpu = time.perf_counter(), time.process_time()
        read()
        return (time.perf_counter() - t) * 1000, (time.process_time() - cpu) * 1000

    def chart(x_range: tuple[float, float] | None = None) -> tuple[float, float]:
        def read() -> None:
            table = RunReader(paths, "history", ServerLimits(), root / ".uploads").chart(
                None, 240, "step", x_range
            )
            assert table.num_rows, "no buckets"

        return timed(read)

    def floor() -> tuple[float, float]:
        return timed(lambda: [pq.read_table(p, columns=["step", "key", "value"]) for p in segments])

    mid = steps * 3 // 7
    out: dict[str, float] = {}
    out["first"], out["cpu first"] = chart()
    for name, x_range in (
        ("whole", None),
        ("half", (steps / 4, steps * 3 / 4)),
        ("2,000 steps", (mid - 1000, mid + 1000)),
    ):
        times = [chart(x_range) for _ in range(5)]
        out[name] = statistics.median(w for w, _ in times)
        out[f"cpu {name}"] = statistics.median(c for _, c in times)
    times = [floor() for _ in range(3)]
    out["floor"] = statistics.median(w for w, _ in times)
    out["cpu floor"] = statistics.median(c for _, c in times)
    return out


def store(cache: Path, steps: int, pyramids: bool) -> tuple[Path, str]:
    """The cached run, its index described (which builds the pyramids), without its
    sidecars unless `pyramids`."""
    sys.path.insert(0, str(HERE))
    from bench_charts import make_run

    from flightlog.store.index import Index

    root = cache / f"steps-{steps}"
    run_key = make_run(root, steps)
    Index(root).close()
    if pyramids:
        return root, run_key
    bare = cache / f"steps-{steps}-no-pyramids"
    if not bare.exists():
        shutil.copytree(root, bare, ignore=shutil.ignore_patterns(".pyramids"))
    return bare, run_key


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=10_000_000)
    ap.add_argument("--raw-steps", type=int, default=1_000_000, help="the run without pyramids")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cache", default="/tmp/flightlog-bench-server-chart")
    ap.add_argument("--baseline", help="another interpreter, measured alternately")
    ap.add_argument(
        "--child", nargs=3, metavar=("ROOT", "RUN_KEY", "STEPS"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    os.environ["FLIGHTLOG_SILENT"] = "1"
    if args.child:
        root, run_key, steps = args.child
        print(json.dumps(child(Path(root), run_key, int(steps))))
        return
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    pythons = {"now": sys.executable, **({"baseline": args.baseline} if args.baseline else {})}
    for steps, pyramids in ((args.steps, True), (args.raw_steps, False)):
        root, run_key = store(cache, steps, pyramids)
        got: dict[str, list[dict[str, float]]] = {k: [] for k in pythons}
        for _ in range(args.repeat):
            for name, python in pythons.items():
                cmd = [python, __file__, "--child", str(root), run_key, str(steps)]
                done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                got[name].append(json.loads(done.stdout.splitlines()[-1]))
        how = "pyramids" if pyramids else "no pyramids (every row read)"
        print(
            f"server one-run chart, {steps:,} steps, {how}, 240 buckets, ms "
            f"(load {os.getloadavg()[0]:.1f}): " + " | ".join(CASES)
        )
        for clock, prefix in (("wall", ""), ("cpu", "cpu ")):
            medians = {
                name: [statistics.median(r[prefix + c] for r in runs) for c in CASES]
                for name, runs in got.items()
            }
            for name, row in medians.items():
                print(f"  {clock:4} {name:8} " + " | ".join(f"{v:.0f}" for v in row))
            if "baseline" in medians:
                ratio = [a / b for a, b in zip(medians["now"], medians["baseline"], strict=True)]
                print(f"  {clock:4} now/base " + " | ".join(f"{v:.2f}" for v in ratio))
            *charts, floor = medians["now"]
            print(f"  {clock:4} now/floor " + " | ".join(f"{v / floor:.2f}" for v in charts))


if __name__ == "__main__":
    main()
