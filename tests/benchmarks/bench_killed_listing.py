"""Listing a store of killed runs: `flightlog runs --limit 50`, `Api().runs()` and an index
built from nothing, on a store whose every run was killed with -9 in a tight `log()` loop
after a heartbeat (Slurm timeouts, preemption), each figure next to a baseline interpreter's
(another checkout, `--baseline`) measured alternating in the same run.

A killed run's summary is read caught up with the rows its writer stored after its last
heartbeat (store/summary_tail.py): up to a beat's worth of a tight loop's rows per run
(~200k values here), or with `--pace`, a step every PACE s, a few rows: then what each
run's catch-up costs whatever its rows counts.

    python tests/benchmarks/bench_killed_listing.py [--runs 1000] [--templates 20] [--pace 0]
                                                   [--store DIR] [--repeat 3] [--skip index]
                                                   [--baseline /tmp/old/.venv/bin/python]

The store is built once and reused (`DIR/.built-N`): `--templates` runs are written by real
processes, each killed with SIGKILL 0.1-0.9 s after the 1st-4th heartbeat that records a
step (a few seconds of a hot loop: most rows are before the last beat), then linked under
new ids to `--runs` runs (their journals, open segments and state files hard links, byte
for byte; run.json a file of its own with its own id): a thousand processes would take
~20 min on two busy cores, and a thousand runs of ~20-50 MB each would fill the disk. The
templates' files are shared, so a cold read of the store is cheaper than a real one: the
baseline, which reads more of every run's rows, is flattered. Prints numbers; asserts
nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path[:0] = [str(HERE.parent)]

from listing_cli import command_env, drop_index, evict, run_cli_cpu  # noqa: E402

#: a training script's loop (a hot one, or a step every argv[3] s), killed from outside
CHILD = (
    "import sys, time, flightlog\n"
    "r = flightlog.init(project='k', id=sys.argv[2], dir=sys.argv[1], config={'lr': 0.1})\n"
    "s, pace = 0, float(sys.argv[3])\n"
    "while True:\n"
    "    r.log({'loss': 1 / (s + 1), 'acc': s * 1e-6, 'lr': 0.1})\n"
    "    s += 1\n"
    "    if pace: time.sleep(pace)\n"
)


def _kill_after_beat(store: Path, run_id: str, beats: int, delay: float, pace: float) -> None:
    """One run of CHILD, killed `delay` s after the `beats`-th heartbeat that records a step."""
    env = {**command_env(), "FLIGHTLOG_DISABLE_GIT": "1"}
    p = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(store), run_id, str(pace)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    writers = store / "runs" / "k" / run_id / "writers"
    seen: set[float] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and p.poll() is None and len(seen) < beats:
        for f in writers.glob("*.json"):
            try:
                w = json.loads(f.read_text())
            except (OSError, ValueError):
                continue
            if w.get("step", -1) > 0:
                seen.add(w["heartbeat_at"])
        time.sleep(0.01)
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.wait()


def build_store(store: Path, runs: int, templates: int, pace: float = 0.0) -> float:
    """The store (reused when built); the seconds building took (0 when reused). `pace`:
    seconds between a template's steps (0: a hot loop)."""
    marker = store / f".built-{runs}-{templates}"
    if marker.exists():
        return 0.0
    shutil.rmtree(store, ignore_errors=True)
    t = time.perf_counter()
    rng = random.Random(0)
    tpl = store.with_name(store.name + "-templates")
    shutil.rmtree(tpl, ignore_errors=True)
    for i in range(templates):
        _kill_after_beat(tpl, f"t{i:03d}", rng.randint(1, 4), rng.uniform(0.1, 0.9), pace)
    sources = sorted((tpl / "runs" / "k").glob("t*"))
    for i in range(runs):
        run_id = f"k{i:05d}"
        d = store / "runs" / "k" / run_id
        shutil.copytree(sources[i % len(sources)], d, copy_function=os.link)
        meta = json.loads((d / "run.json").read_text())
        (d / "run.json").unlink()  # (its own file, not the template's)
        (d / "run.json").write_text(json.dumps({**meta, "id": run_id, "name": f"killed-{i}"}))
    shutil.rmtree(tpl)  # (its files live on in the links)
    marker.touch()
    return time.perf_counter() - t


API_CHILD = """
import sys, time
import flightlog
t = time.perf_counter()
runs = flightlog.Api(sys.argv[1]).runs("k")
first = [(r.id, r.summary.get("loss")) for r in runs[:50]]
print(time.perf_counter() - t)
"""

INDEX_CHILD = """
import sys, time
from flightlog.store.index import Index
t = time.perf_counter()
Index(sys.argv[1]).close()
print(time.perf_counter() - t)
"""


def _child_seconds(python: str, code: str, store: Path) -> tuple[float, float]:
    """(the seconds `code` timed itself, the child's CPU seconds)."""
    before = os.times()
    out = subprocess.run(
        [python, "-c", code, str(store)],
        capture_output=True,
        text=True,
        check=True,
        env=command_env(),
    )
    after = os.times()
    cpu = after.children_user - before.children_user
    cpu += after.children_system - before.children_system
    return float(out.stdout.split()[-1]), cpu


def measures(store: Path, python: str, skip: str = "") -> dict[str, float]:
    """One round of every figure for `python`, ms: cold (no index, files cached), warm;
    `skip` "index": no index built from nothing (as long as the baseline's Api listing)."""
    args = ("runs", "--limit", "50")
    out: dict[str, float] = {}
    drop_index(store)
    out["cold_cmd"], out["cold_cpu"] = (x * 1000 for x in run_cli_cpu(store, *args, python=python))
    out["warm_cmd"], out["warm_cpu"] = (x * 1000 for x in run_cli_cpu(store, *args, python=python))
    drop_index(store)
    out["api_cold"], out["api_cold_cpu"] = (
        x * 1000 for x in _child_seconds(python, API_CHILD, store)
    )
    out["api_warm"], out["api_warm_cpu"] = (
        x * 1000 for x in _child_seconds(python, API_CHILD, store)
    )
    if "index" not in skip:
        drop_index(store)
        out["index_build"], out["index_cpu"] = (
            x * 1000 for x in _child_seconds(python, INDEX_CHILD, store)
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--templates", type=int, default=20)
    ap.add_argument("--store", type=Path, default=Path("/tmp/flightlog-killed"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pace", type=float, default=0.0, help="s between steps (0: a hot loop)")
    ap.add_argument("--skip", default="", help="'index': no index built from nothing")
    ap.add_argument("--baseline", help="another checkout's python, measured alternating")
    ap.add_argument("--cold-disk", action="store_true", help="also a listing from a cold disk")
    a = ap.parse_args()
    paced = f"-paced{a.pace:g}" if a.pace else ""
    store = a.store.with_name(f"{a.store.name}-{a.runs}{paced}")
    built = build_store(store, a.runs, a.templates, a.pace)
    loop = f"a step every {a.pace:g} s" if a.pace else "a hot loop"
    print(
        f"store {store}: {a.runs} runs killed in {loop}"
        + (f", built in {built:.0f} s" * bool(built))
    )
    pythons = {"now": sys.executable, **({"base": a.baseline} if a.baseline else {})}
    got: dict[str, list[dict[str, float]]] = {k: [] for k in pythons}
    for i in range(a.repeat):
        for label in pythons if i % 2 == 0 else reversed(pythons):
            got[label].append(measures(store, pythons[label], a.skip))
        print(f"round {i + 1}: load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    names = {
        "cold_cmd": "`runs --limit 50` cold (no index), ms",
        "cold_cpu": "  its CPU, ms",
        "warm_cmd": "`runs --limit 50` warm, ms",
        "warm_cpu": "  its CPU, ms",
        "api_cold": "Api().runs() + 50 summaries, no index, ms",
        "api_cold_cpu": "  the process's CPU, ms",
        "api_warm": "Api().runs() + 50 summaries, indexed, ms",
        "api_warm_cpu": "  the process's CPU, ms",
        "index_build": "Index(store) from nothing, every run described, ms",
        "index_cpu": "  the process's CPU, ms",
    }
    for key, name in names.items():
        if key not in got["now"][0]:
            continue
        line = f"{name:52s} now {statistics.median(r[key] for r in got['now']):8,.0f}"
        if "base" in got:
            base = statistics.median(r[key] for r in got["base"])
            now = statistics.median(r[key] for r in got["now"])
            line += f"   baseline {base:8,.0f}   ({base / max(now, 1e-9):.1f}x)"
        print(line)
    if a.cold_disk:
        for label, python in pythons.items():
            drop_index(store)
            how = evict(store)
            wall, cpu = run_cli_cpu(store, "runs", "--limit", "50", python=python)
            print(
                f"{label}: `runs --limit 50` cold from disk ({how}) {wall * 1000:,.0f} ms "
                f"(CPU {cpu * 1000:,.0f})"
            )
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
