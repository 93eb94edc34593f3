"""`run.history_keys` of a large run, this checkout against a baseline interpreter (another
checkout's, `--baseline`), measured alternately in the same run.

    python tests/benchmarks/bench_history_keys.py [--steps 1000000] [--server]
                                                  [--baseline /tmp/old/.venv/bin/python]

One run is logged through flightlog: STEPS steps of 4 floats, a string every 100 steps and
a table (media) every 10,000, its backlog sealed as the agent would. Each interpreter then
reads it in a child process of its own (`Api(root).run(...).history_keys`,
`history_line_count`, and the whole history they spare, `history(pandas=False)`: the
reference measured in every run, baseline or not), REPEAT times after one untimed call, and
reports the median wall and CPU seconds of each; children of the two interpreters
alternate, ROUNDS each, and the median of their medians is printed with the ratios (to the
baseline, and to the whole read), after the load average (the children run on a machine
others share). The two interpreters' answers are compared: they must be equal.
`--server`: the same run on a real server (tests/servers.py LiveServer, this checkout's
code, the run placed in its root as bench_remote.py places runs), read by each
interpreter's `Api(host=)`: the baseline's client reads the Arrow history stream, this
one's the keys route. Prints numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import flightlog

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: its tests
from tests.conftest import settled

CHILD = """
import json, os, statistics, sys, time
import flightlog
root, path, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
api = flightlog.Api(host=root, api_key=os.environ["KEY"]) if "://" in root else flightlog.Api(root)
run = api.run(path)
reads = {
    "history_keys": lambda: run.history_keys,
    "history_line_count": lambda: run.history_line_count,
    "whole history": lambda: run.history(pandas=False).num_rows,
}
out = {}
for what, read in reads.items():
    answer = read()  # untimed: the files paged in
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        read()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    out[what] = [statistics.median(wall), statistics.median(cpu), answer]
print(json.dumps(out))
"""

#: what each child times (CHILD's `reads`)
READS = ("history_keys", "history_line_count", "whole history")


def log_run(root: Path, steps: int) -> str:
    run = flightlog.init(
        project="bench", dir=str(root), mode="offline", settings={"stats_interval": 0}
    )
    for i in range(steps):
        row: dict[str, object] = {"loss": 1 / (i + 1), "acc": i % 100 / 100, "lr": 0.1, "gn": 0.5}
        if i % 100 == 0:
            row["phase"] = "eval" if i % 200 else "train"
        if i % 10_000 == 0:
            row["preds"] = flightlog.Table(columns=["a"], data=[[i]])
        run.log(row)
    run.finish(quiet=True)
    settled(run)
    return f"bench/{run.id}"


def child(python: str, where: str, path: str, repeat: int, key: str = "") -> dict[str, list]:
    done = subprocess.run(
        [python, "-c", textwrap.dedent(CHILD), where, path, str(repeat)],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",  # (no checkout's ./flightlog shadows the interpreter's install)
        env={**os.environ, "KEY": key},
    )
    return json.loads(done.stdout.splitlines()[-1])


def compare(
    what: str, pythons: dict[str, str], where: str, path: str, args: argparse.Namespace, key=""
) -> None:
    """Each interpreter's children, alternating, and their medians side by side."""
    print(f"{what}; load average:", ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    got: dict[str, list[dict[str, list]]] = {name: [] for name in pythons}
    for _ in range(args.rounds):
        for name, python in pythons.items():
            got[name].append(child(python, where, path, args.repeat, key))
    print("load average:", ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    medians = {  # read -> interpreter -> (wall, CPU) seconds
        attr: {
            name: (
                statistics.median(r[attr][0] for r in rounds),
                statistics.median(r[attr][1] for r in rounds),
            )
            for name, rounds in got.items()
        }
        for attr in READS
    }
    for attr, figures in medians.items():
        line = f"{attr:<20}"
        for name, (wall, cpu) in figures.items():
            line += f"  {name} {wall * 1000:8.1f} ms (CPU {cpu * 1000:8.1f} ms)"
        (w, c) = figures["now"]
        if "base" in figures:
            (bw, bc) = figures["base"]
            line += f"  base/now {bw / w:5.1f}x wall, {bc / c:5.1f}x CPU"
            same = got["now"][0][attr][2] == got["base"][0][attr][2]
            line += "  answers equal" if same else "  ANSWERS DIFFER"
        if attr != "whole history":  # against the whole read, in the same children
            (hw, hc) = medians["whole history"]["now"]
            line += f"  whole history/now {hw / w:5.1f}x wall, {hc / c:5.1f}x CPU"
        print(line)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--baseline", help="another checkout's python, measured alternately")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--server", action="store_true", help="also read it from a server")
    args = ap.parse_args()
    pythons = {"now": sys.executable, **({"base": args.baseline} if args.baseline else {})}
    with tempfile.TemporaryDirectory(prefix="bench-history-keys-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        path = log_run(root, args.steps)
        size = sum(p.stat().st_size for p in root.glob("runs/*/*/history/*")) / 1e6
        print(f"logged {args.steps:,} steps in {time.perf_counter() - t0:.0f} s: {size:.1f} MB")
        compare("a local store", pythons, str(root), path, args)
        if args.server:
            from tests.benchmarks.bench_remote import ENTITY, server_root, start

            server_root(root / "server", [root])
            server, key = start(root / "server")
            try:
                remote = f"{ENTITY}/{path}"
                compare("a server (client CPU)", pythons, server.url, remote, args, key)
            finally:
                server.stop()


if __name__ == "__main__":
    main()
