"""log() throughput, init/finish time, bytes on disk, peak RSS, whole-process time.

    python tests/benchmarks/bench_log.py [--steps 100000] [--rss-steps 1000000]

Every tracker runs the same work in its own fresh interpreter, one after the other in this
run, so the ratios are comparable on a noisy machine:
  floor      append each dict to a list (the least any tracker can cost)
  flightlog  flightlog.init(mode="offline") / run.log / run.finish, defaults (system
             metrics every 15 s, console capture on)
  flightlog-off  the same with FLIGHTLOG_STATS_INTERVAL=0 and FLIGHTLOG_CONSOLE=off
  wandb      wandb.init(mode="offline") (only when `pip install -e '.[bench]'` installed it)
Prints numbers; asserts nothing (this is not a test).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KEYS = [f"metric_{j}" for j in range(10)]


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _history_bytes(path: Path, tracker: str) -> int:
    """Bytes of wandb's logged data itself, its .wandb file (flightlog's: `_sealed_bytes`)."""
    if tracker == "wandb":
        return sum(p.stat().st_size for p in path.rglob("*.wandb"))
    return 0


def _sealed_bytes(path: Path) -> int:
    """Bytes of flightlog's sealed history segments, once the rows a finish() handed on in
    its journals are sealed as the agent or `doctor --repair` seals them: what the store
    keeps. Measured right after finish() the journals counted (22-40 bytes per scalar)."""
    from flightlog.store import RunPaths, StoredRun
    from flightlog.store.takeover import recover_journals, writers_by_id

    for meta in path.rglob("run.json"):
        paths = RunPaths(meta.parent)
        stored = StoredRun.load(paths)
        if stored is not None:
            recover_journals(paths, writers_by_id(stored.writers))
    return sum(p.stat().st_size for p in path.rglob("history/*.parquet"))


def worker(tracker: str, steps: int, workdir: Path, timed: bool = True) -> dict[str, float]:
    """One measurement in this (fresh) process; returns the figures as a dict.

    With `timed`, each log() call is timed (one int kept per call); the memory run turns
    that off so the benchmark's own bookkeeping does not count as the tracker's memory."""
    import random

    rng = random.Random(0)
    timings = []
    perf = time.perf_counter_ns
    if tracker == "floor":
        sink: list[dict[str, float]] = []
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        log = sink.append
        init_s = finish_s = 0.0
    else:
        os.environ["WANDB_SILENT"] = "true"
        os.environ["FLIGHTLOG_SILENT"] = "1"
        if tracker == "flightlog-off":  # no system-metrics sampler, no console capture
            os.environ["FLIGHTLOG_STATS_INTERVAL"] = "0"
            os.environ["FLIGHTLOG_CONSOLE"] = "off"
        if tracker.startswith("flightlog"):
            import flightlog as mod
        else:
            import wandb as mod  # type: ignore[no-redef]
        # growth is measured from here: the run's cost, not the library's import
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t_init = time.perf_counter()
        run = mod.init(project="bench", mode="offline", dir=str(workdir), config={"lr": 0.1})
        init_s = time.perf_counter() - t_init
        log = run.log
        t0 = time.perf_counter()
    if timed:
        for _ in range(steps):
            d = {k: rng.random() for k in KEYS}
            s = perf()
            log(d)
            timings.append(perf() - s)
    else:
        for _ in range(steps):
            log({k: rng.random() for k in KEYS})
        timings = [0, 0]
    loop_s = time.perf_counter() - t0
    if tracker != "floor":
        t_fin = time.perf_counter()
        run.finish()
        finish_s = time.perf_counter() - t_fin
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    disk = _history_bytes(workdir, tracker)
    return {
        "median_us": statistics.median(timings) / 1000,
        "p99_us": statistics.quantiles(timings, n=100)[98] / 1000,
        "calls_per_s": steps / loop_s,
        "init_ms": init_s * 1000,
        "finish_ms": finish_s * 1000,
        "bytes_per_scalar": disk / (steps * len(KEYS)) if disk else float("nan"),
        "store_bytes": _dir_bytes(workdir),
        "peak_rss_growth_mb": (rss1 - rss0) / 1024,
    }


def run_worker(tracker: str, steps: int, timed: bool = True) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                tracker,
                "--steps",
                str(steps),
                "--dir",
                tmp,
                *([] if timed else ["--untimed"]),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"{tracker} worker failed:\n{out.stderr[-2000:]}")
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        if tracker.startswith("flightlog"):
            figures["bytes_per_scalar"] = _sealed_bytes(Path(tmp)) / (steps * len(KEYS))
    return figures


def whole_process(tracker: str, repeat: int = 5) -> float:
    """Median seconds for: python start, import, init, one log, finish, exit."""
    code = {
        "python": "pass",
        "flightlog": "import flightlog as m",
        "wandb": "import wandb as m",
    }[tracker]
    if tracker != "python":
        code += (
            "\nr = m.init(project='bench', mode='offline', dir=D)\nr.log({'a': 1.0})\nr.finish()"
        )
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "WANDB_SILENT": "true", "FLIGHTLOG_SILENT": "1"}
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", f"D = {tmp!r}\n{code}"],
                env=env,
                check=True,
                capture_output=True,
            )
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def have_wandb() -> bool:
    return (
        subprocess.run([sys.executable, "-c", "import wandb"], capture_output=True).returncode == 0
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument(
        "--rss-steps",
        type=int,
        default=1_000_000,
        help="steps of the memory run (x10 keys = scalars)",
    )
    p.add_argument("--worker")
    p.add_argument("--dir")
    p.add_argument("--untimed", action="store_true")
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.steps, Path(args.dir), not args.untimed)))
        return

    # "flightlog" runs with its defaults (system metrics every 15 s, console capture on),
    # "flightlog-off" with both off: the overhead of the run context, side by side
    trackers = ["floor", "flightlog", "flightlog-off"] + (["wandb"] if have_wandb() else [])
    if "wandb" not in trackers:
        print("(wandb not installed: pip install -e '.[bench]' to compare against it)")
    print(f"log() of a {len(KEYS)}-key float dict, {args.steps:,} steps, one process each")
    res = {t: run_worker(t, args.steps) for t in trackers}
    rows = [  # (label, key, format, higher is better)
        ("median log() µs", "median_us", "{:.2f}", False),
        ("p99 log() µs", "p99_us", "{:.2f}", False),
        ("calls/s (loop incl. dict build)", "calls_per_s", "{:,.0f}", True),
        ("init ms", "init_ms", "{:.1f}", False),
        ("finish ms", "finish_ms", "{:.1f}", False),
        ("bytes on disk per scalar", "bytes_per_scalar", "{:.2f}", False),
        ("peak RSS growth MB (this process)", "peak_rss_growth_mb", "{:.1f}", False),
    ]
    header = f"{'':34}" + "".join(f"{t:>15}" for t in trackers)
    if "wandb" in trackers:
        header += "   flightlog better by"
    print(header)
    for label, key, fmt, higher in rows:
        line = f"{label:34}" + "".join(f"{fmt.format(res[t][key]):>15}" for t in trackers)
        fl, wb = res["flightlog"][key], res.get("wandb", {}).get(key)
        if wb and fl:
            line += f"{(fl / wb if higher else wb / fl):>20.1f}x"
        print(line)
    if "wandb" in trackers:
        print("(wandb does its work in a separate service process, whose memory is not counted)")
    fl = res["flightlog"]
    print(
        f"flightlog log() cost over the floor: {fl['median_us'] - res['floor']['median_us']:.2f}"
        f" µs/call ({fl['median_us'] / res['floor']['median_us']:.1f}x the floor)"
    )

    print(
        f"\nmemory: {args.rss_steps:,} steps x {len(KEYS)} keys = "
        f"{args.rss_steps * len(KEYS):,} scalars"
    )
    big = run_worker("flightlog", args.rss_steps, timed=False)
    floor_big = run_worker("floor", args.rss_steps, timed=False)
    print(
        f"  flightlog peak RSS growth {big['peak_rss_growth_mb']:.1f} MB "
        f"(a list holding the dicts: {floor_big['peak_rss_growth_mb']:.1f} MB), "
        f"{big['calls_per_s']:,.0f} calls/s, {big['bytes_per_scalar']:.2f} B/scalar, "
        f"finish {big['finish_ms']:.0f} ms"
    )

    print("\nwhole process: python start, import, init, one log, finish, exit (median of 5)")
    base = whole_process("python")
    for t in ["flightlog"] + (["wandb"] if "wandb" in trackers else []):
        s = whole_process(t)
        print(f"  {t:10} {s:.3f} s   (bare python start {base:.3f} s)")


if __name__ == "__main__":
    main()
