"""init() in a fresh process, at 0 / 10,000 / 100,000 runs in the project (issue 16, 4).

    python tests/benchmarks/bench_init.py [--sizes 0,10000,100000] [--repeat 9]
                                          [--baseline /tmp/old/.venv/bin/python]

Each figure is the median of `repeat` fresh processes (after one warm-up), with the defaults
(system sampler and console capture on) and with both off: wall time, and the CPU time of
init()'s thread (which a busy machine does not stretch), next to a floor measured in the
same processes: creating a run directory and writing its run.json atomically, the least a
run that readers can see needs. `--baseline` runs the same children with another
interpreter (an older checkout's venv), alternated with this one. The project's runs are
directories with a run.json, numbered as the writer numbers them. `init_ms` is what
bench_listing.py and bench_write_path.py print. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

QUIET = {"FLIGHTLOG_SILENT": "1"}
OFF = {**QUIET, "FLIGHTLOG_STATS_INTERVAL": "0", "FLIGHTLOG_CONSOLE": "off"}

CHILD = """
import json, os, sys, time, flightlog
t, c = time.perf_counter(), time.thread_time()
r = flightlog.init(project='p', dir=sys.argv[1])
ms, cpu = (time.perf_counter() - t) * 1000, (time.thread_time() - c) * 1000
t = time.perf_counter()
d = os.path.join(sys.argv[1], 'floor-' + r.id)
os.mkdir(d)
with open(os.path.join(d, '.run.json.tmp'), 'w') as f:
    json.dump(r._meta, f, indent=1)
os.replace(os.path.join(d, '.run.json.tmp'), os.path.join(d, 'run.json'))
print(ms, cpu, (time.perf_counter() - t) * 1000)
r.finish(quiet=True)
"""


def project(root: Path, runs: int) -> None:
    """A project `p` in the store at `root` holding `runs` runs."""
    p = root / "runs" / "p"
    (p / ".numbers").mkdir(parents=True)
    for i in range(runs):
        d = p / f"r{i:07d}"
        d.mkdir()
        (d / "run.json").write_text("{}")
    (p / ".numbers" / "next").write_text(str(runs))


def _child(python: str, store: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """init()'s wall and CPU ms in a fresh process, and the floor's wall ms."""
    out = subprocess.run(
        [python, "-c", CHILD, str(store)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    )
    ms, cpu, floor = out.stdout.split()[-3:]
    return float(ms), float(cpu), float(floor)


def init_ms(runs: int, repeat: int = 5, defaults: bool = False) -> float:
    """Median init() of `repeat` fresh processes (after a warm-up) in a project of `runs`
    runs; sampler and console capture off unless `defaults`."""
    with tempfile.TemporaryDirectory() as tmp:
        project(Path(tmp), runs)
        env = QUIET if defaults else OFF
        times = [_child(sys.executable, Path(tmp), env)[0] for _ in range(repeat + 1)]
    return statistics.median(times[1:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="0,10000,100000")
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--baseline", help="another interpreter, measured alternately")
    args = ap.parse_args()
    pythons = {"now": sys.executable, **({"baseline": args.baseline} if args.baseline else {})}
    for n in [int(s) for s in args.sizes.split(",") if s]:
        with tempfile.TemporaryDirectory() as tmp:
            project(Path(tmp), n)
            for label, env in (("defaults", QUIET), ("sampler+console off", OFF)):
                got: dict[str, list[tuple[float, float, float]]] = {k: [] for k in pythons}
                for i in range(args.repeat + 1):
                    for k in pythons if i % 2 else reversed(pythons):
                        ms = _child(pythons[k], Path(tmp), env)
                        if i:
                            got[k].append(ms)
                cols = [
                    f"{k} {statistics.median(t for t, _, _ in v):.1f} ms "
                    f"({min(t for t, _, _ in v):.1f}-{max(t for t, _, _ in v):.1f}), "
                    f"CPU {statistics.median(c for _, c, _ in v):.1f} ms"
                    for k, v in got.items()
                ]
                floor = statistics.median(f for v in got.values() for _, _, f in v)
                print(
                    f"init() with {n:,} runs, {label}: {'; '.join(cols)}; floor {floor:.2f} ms "
                    f"(load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )


if __name__ == "__main__":
    main()
