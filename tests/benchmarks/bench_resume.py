"""A resume's init(): wall time and peak memory at 1M history rows, next to the old code.

    python tests/benchmarks/bench_resume.py [--rows 1000000] [--repeat 5]
                                            [--baseline /tmp/old/.venv/bin/python]

A finished run of ROWS rows (10 keys a step, 500,000-row segments written the way the
writer seals them: tests/long_history.py) is resumed by a fresh process (`resume="must"`),
each time on a fresh copy of the store: init()'s wall time, the process's peak RSS
(ru_maxrss) and how much init() raised it over the peak of the imports before it. A resume
reads the whole history once, for its last step and its summary's figures (min, max, mean,
first, last of each key: store/history_fold.py). `--baseline` runs the same children
with another interpreter (an older checkout's venv), alternated with this one. Medians of
`repeat`; the load average is printed. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.long_history import long_run

#: no sync agent started for each copy (a machine signed in to a server would start one)
OFFLINE = {"FLIGHTLOG_SILENT": "1", "FLIGHTLOG_STATS_INTERVAL": "0", "FLIGHTLOG_MODE": "offline"}

CHILD = """
import resource, sys, time
import pyarrow.compute, pyarrow.parquet
import flightlog, flightlog.store.reader
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
run = flightlog.init(project="p", id="long", resume="must", dir=sys.argv[1])
ms = (time.perf_counter() - t) * 1000
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(ms, peak / 1024, (peak - before) / 1024, run.step)
run.finish(quiet=True)
"""


def resume_once(python: str, store: Path, scratch: Path) -> tuple[float, float, float]:
    """(init ms, peak RSS MB, growth MB) of one process resuming a fresh copy of `store`."""
    copy = scratch / "copy"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(store, copy)
    env = {**os.environ, **OFFLINE}
    out = subprocess.run(
        [python, "-c", CHILD, str(copy)], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--baseline", help="another interpreter, measured alternately")
    args = ap.parse_args()
    pythons = {"now": sys.executable, **({"baseline": args.baseline} if args.baseline else {})}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        os.environ.update(OFFLINE)
        long_run(scratch / "store", "long", args.rows)
        got: dict[str, list[tuple[float, float, float]]] = {k: [] for k in pythons}
        for _ in range(args.repeat):
            for name, python in pythons.items():
                got[name].append(resume_once(python, scratch / "store", scratch))
    print(f"resume of a {args.rows:,}-row run (load {os.getloadavg()[0]:.1f})")
    for name, runs in got.items():
        ms, peak, grown = (statistics.median(x) for x in zip(*runs, strict=True))
        print(
            f"  {name:9} init() {ms:7.0f} ms   peak RSS {peak:6.0f} MB   "
            f"raised by init() {grown:6.0f} MB   (median of {len(runs)})"
        )


if __name__ == "__main__":
    main()
