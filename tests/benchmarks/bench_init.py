"""init() in a fresh process, at 0 / 10,000 / 100,000 runs in the project (issue 16, 4).

    python tests/benchmarks/bench_init.py [--sizes 0,10000,100000] [--repeat 9]
                                          [--baseline /tmp/old/.venv/bin/python]
                                          [--finish 100000] [--burners 8]

Each figure is the median of `repeat` fresh processes (after one warm-up), with the defaults
(system sampler and console capture on) and with both off: wall time, and the CPU time of
init()'s thread (which a busy machine does not stretch), next to a floor measured in the
same processes: creating a run directory and writing its run.json atomically, the least a
run that readers can see needs. `--baseline` runs the same children with another
interpreter (an older checkout's venv), alternated with this one. The project's runs are
directories with a run.json, numbered as the writer numbers them. `init_ms` is what
bench_listing.py and bench_write_path.py print.

`--finish STEPS` measures `finish()` instead (issue 16, 3: ≤ 30 ms after 100,000 steps):
straight after a hot loop of STEPS `log()` calls of a 10-float dict, wall time and the
process's CPU time meanwhile (all threads: what the writer thread does while finish() runs
competes with it), defaults and sampler + console off. finish() records the run finished and
returns; the writer thread seals after it (store/writer_close.py), before the process
exits. `--burners N` runs N CPU burners (`while 1: pass`) meanwhile, to measure on a
machine busier than it is; they are killed at the end. Prints numbers; asserts nothing.
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


FINISH_CHILD = """
import os, sys, time, flightlog
r = flightlog.init(project='f', dir=sys.argv[1])
row = {f'metric_{j}': 0.5 for j in range(10)}
for i in range(int(sys.argv[2])):
    row['metric_0'] = i * 0.5
    r.log(row)
t, c = time.perf_counter(), time.process_time()
r.finish(quiet=True)
print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000, 0.0)
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


def _child(
    python: str, store: Path, env: dict[str, str], steps: int | None = None
) -> tuple[float, float, float]:
    """init()'s wall and CPU ms in a fresh process, and the floor's wall ms (`steps`:
    finish()'s wall and CPU ms after that many log() calls, and 0)."""
    args = [FINISH_CHILD, str(store), str(steps)] if steps is not None else [CHILD, str(store)]
    out = subprocess.run(
        [python, "-c", *args],
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
    ap.add_argument("--finish", type=int, help="measure finish() after this many steps")
    ap.add_argument("--burners", type=int, default=0, help="CPU burners to run meanwhile")
    args = ap.parse_args()
    pythons = {"now": sys.executable, **({"baseline": args.baseline} if args.baseline else {})}
    burners = [
        subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(args.burners)
    ]
    try:
        if args.finish is not None:
            _finish(pythons, args.finish, args.repeat)
        else:
            _init(pythons, args.sizes, args.repeat)
    finally:
        for b in burners:
            b.kill()
            b.wait()


def _finish(pythons: dict[str, str], steps: int, repeat: int) -> None:
    for label, env in (("defaults", QUIET), ("sampler+console off", OFF)):
        got: dict[str, list[tuple[float, float, float]]] = {k: [] for k in pythons}
        for i in range(repeat + 1):
            for k in pythons if i % 2 else reversed(pythons):
                with tempfile.TemporaryDirectory() as tmp:
                    ms = _child(pythons[k], Path(tmp), env, steps)
                if i:
                    got[k].append(ms)
        print(f"finish() after {steps:,} steps, {label}: {_columns(got)}", flush=True)


def _columns(got: dict[str, list[tuple[float, float, float]]]) -> str:
    """Each interpreter's median wall ms (range), median CPU ms, and the load average."""
    cols = [
        f"{k} {statistics.median(t for t, _, _ in v):.1f} ms "
        f"({min(t for t, _, _ in v):.1f}-{max(t for t, _, _ in v):.1f}), "
        f"CPU {statistics.median(c for _, c, _ in v):.1f} ms"
        for k, v in got.items()
    ]
    return f"{'; '.join(cols)} (load {os.getloadavg()[0]:.1f})"


def _init(pythons: dict[str, str], sizes: str, repeat: int) -> None:
    for n in [int(s) for s in sizes.split(",") if s]:
        with tempfile.TemporaryDirectory() as tmp:
            project(Path(tmp), n)
            for label, env in (("defaults", QUIET), ("sampler+console off", OFF)):
                got: dict[str, list[tuple[float, float, float]]] = {k: [] for k in pythons}
                for i in range(repeat + 1):
                    for k in pythons if i % 2 else reversed(pythons):
                        ms = _child(pythons[k], Path(tmp), env)
                        if i:
                            got[k].append(ms)
                floor = statistics.median(f for v in got.values() for _, _, f in v)
                print(
                    f"init() with {n:,} runs, {label}: {_columns(got)}; floor {floor:.2f} ms",
                    flush=True,
                )


if __name__ == "__main__":
    main()
