"""Uploads placed at once while runs get their first system segment (sync/receive.py).

    python tests/benchmarks/bench_place_dirs.py [--runs 64] [--uploads 200] [--repeat 5]
                                                [--baseline /tmp/old/.venv/bin/python]

A run's system/ directory is made by its first system segment, and its entry made durable
(an fsync of the run's directory). Every upload of the server places its segment under one
lock (the twin check and the rename, as one step); the old code fsynced the new directory's
parent under that lock, so every other upload waited for the disk meanwhile. Measured in a
fresh process per interpreter, alternating: `--runs` threads each place the first system
segment of its own run while `--uploads` history segments are placed one after the other
into a run whose directories exist (the uploads that only need the lock for a stat and a
rename). Prints the wall time of the first-segment placements, the latency of the others
(median and p99), the ratios to the baseline, and the load average. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, shutil, sys, threading, time
from pathlib import Path
sys.path.append(sys.argv[4])  # tests.servers; flightlog is the interpreter's
from flightlog.store.layout import parse_segment_name
from flightlog.sync.receive import ReceivingStore
from tests.servers import segment_file, tidy_table

root, runs, uploads = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
store = ReceivingStore(root / "server")
seg = segment_file(root / "segs", tidy_table(200))
history = [segment_file(root / "segs", tidy_table(200, start=i), seq=i + 1) for i in range(uploads)]
for i in range(runs + 1):
    store.put_run("alice", "p", f"r{i}", {"id": f"r{i}"}, [])

def place(run, stream, path):
    paths = store.paths("alice", "p", run)
    tmp = store.uploads / f"{run}-{path.name}"
    shutil.copy(path, tmp)
    parsed = parse_segment_name(path.name)
    assert store.place_segment(paths, stream, parsed, tmp, parsed.sha256)

latencies = []
def others():
    for h in history:
        t = time.perf_counter()
        place(f"r{runs}", "history", h)
        latencies.append(time.perf_counter() - t)

firsts = [threading.Thread(target=place, args=(f"r{i}", "system", seg)) for i in range(runs)]
other = threading.Thread(target=others)
start = time.perf_counter()
other.start()
for t in firsts:
    t.start()
for t in firsts:
    t.join()
firsts_s = time.perf_counter() - start
other.join()
latencies.sort()
import flightlog.sync.receive as code
print(json.dumps({"code": code.__file__, "firsts_ms": firsts_s * 1e3,
                  "other_p50_ms": latencies[len(latencies) // 2] * 1e3,
                  "other_p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3}))
"""
REPO = Path(__file__).resolve().parents[2]


def _child(python: str, runs: int, uploads: int) -> dict[str, float]:
    tmp = tempfile.mkdtemp(prefix="bench-place-", dir=os.environ.get("BENCH_DIR"))
    try:
        out = subprocess.run(
            [python, "-c", CHILD, tmp, str(runs), str(uploads), str(REPO)],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp,
        ).stdout
        doc = json.loads(out)
        print(f"  ({doc.pop('code')})", file=sys.stderr)
        return doc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=64)
    ap.add_argument("--uploads", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--baseline", help="another interpreter, measured alternately")
    args = ap.parse_args()
    pythons = {"now": sys.executable, **({"baseline": args.baseline} if args.baseline else {})}
    got: dict[str, list[dict[str, float]]] = {k: [] for k in pythons}
    for i in range(args.repeat):
        for k in pythons if i % 2 else reversed(pythons):
            got[k].append(_child(pythons[k], args.runs, args.uploads))
    medians = {
        k: {m: statistics.median(r[m] for r in rows) for m in rows[0]} for k, rows in got.items()
    }
    for k, m in medians.items():
        shown = ", ".join(f"{name} {v:.1f}" for name, v in m.items())
        print(f"{k}: {shown}")
    if "baseline" in medians:
        ratios = ", ".join(
            f"{name} {medians['now'][name] / medians['baseline'][name]:.2f}x"
            for name in medians["now"]
        )
        print(f"now / baseline: {ratios}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
