"""How much a `kill -9` loses: seconds of logged rows and of console output.

    python tests/benchmarks/bench_kill_loss.py [--trials 10] [--run-for 1.5]

Each trial starts a real training loop (log() as fast as it goes, and one printed line every
10 ms), kills it with SIGKILL after --run-for seconds, and reads the store back: the loss is
the time between the kill and the newest row (or console line) that survived. The tests
assert only that everything written reads back, contiguous; this prints the numbers, which
depend on the flush interval (rows) and the console capture's cadence (output). Asserts
nothing (this is not a test).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import time, flightlog
run = flightlog.init(project="kill", id="victim")
print("started", flush=True)
i, next_print = 0, 0.0
while True:
    now = time.time()
    run.log({"i": i, "t": now})
    if now >= next_print:
        print(f"line {i} {now:.3f}", flush=True)
        next_print = now + 0.01
    i += 1
"""


def trial(store: Path, run_for: float) -> tuple[float, float]:
    import flightlog

    env = {**os.environ, "FLIGHTLOG_DIR": str(store), "FLIGHTLOG_SILENT": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, text=True
    )
    proc.stdout.readline()
    time.sleep(run_for)
    killed = time.time()
    proc.kill()
    proc.wait()
    run = flightlog.Api(store).run("kill/victim")
    rows = list(run.scan_history(keys=["t"]))
    lines = (run.dir / "files" / "output.log").read_text().splitlines()
    row_loss = killed - rows[-1]["t"] if rows else float("inf")
    last_line = next((ln for ln in reversed(lines) if ln.startswith("line ")), None)
    line_loss = killed - float(last_line.split()[-1]) if last_line else float("inf")
    return row_loss, line_loss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--run-for", type=float, default=1.5)
    args = ap.parse_args()
    rows, lines = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.trials):
            r, c = trial(Path(tmp) / f"store{n}", args.run_for)
            rows.append(r)
            lines.append(c)
    for what, xs in (("rows", rows), ("console output", lines)):
        print(
            f"kill -9 loses {what}: median {statistics.median(xs) * 1000:.0f} ms, "
            f"max {max(xs) * 1000:.0f} ms over {len(xs)} trials"
        )


if __name__ == "__main__":
    main()
