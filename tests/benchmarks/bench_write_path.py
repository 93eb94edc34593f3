"""The write path against its floors, measured side by side in one run (issue 16, 1-3).

    python tests/benchmarks/bench_write_path.py [--steps 100000] [--trials 5]
        [--baseline /tmp/old/.venv/bin/python] [--log-only] [--mixed-only]

Each figure runs in a fresh interpreter, one after the other, next to its floor:
  log() per call, by row shape (10 floats; mixed: ints, floats, a nested dict, numpy
  scalars, a histogram every 100 steps; 10,000 floats): median, p99, p99.9, max. Floor:
  appending the same dict to a list (the dict is built outside the timed call in both).
  Each log() call over 50 µs is put down to its own work (the training thread ran most
  of it: a histogram, the cyclic GC), to flightlog's own threads (another thread of the
  process used CPU meanwhile: the writer holding the GIL, or taking a CPU the training
  thread waited for) or to the machine (no thread of the process ran), by the threads'
  CPU clocks (the threads are listed again when their number changes: init() starts the
  writer's from a thread it does not wait for). Each call over 1 ms is also counted as
  blocked (this thread slept: the GIL or the run's lock held by another thread of the
  process) or only preempted (it waited for a CPU), from its voluntary and involuntary
  context switches. The calls that took a page fault are counted (the journal's pages
  not faulted in ahead by the writer thread; a count the machine's load barely changes).
  Mixed rows also print the median call of a row holding a histogram.
  --log-only stops after the log() figures of plain and mixed rows (quick iterations);
  --mixed-only after those of mixed rows.
  --baseline PYTHON runs each flightlog figure also with another interpreter (a venv of
  the previous code), in the same run, for before/after figures.
  Wide rows also print the floor "list + one Parquet" per row (the Parquet written once,
  shared by the rows).
  finish(), peak RSS growth: floor "list + one Parquet" (pyarrow.Table.from_pylist of the
  whole list, written with pq.write_table at the end); finish() also as CPU time, which a
  busy machine does not stretch.
  whole process of a one-log script: floor "import pyarrow + write one Parquet".
  init() at 0 and N runs in the project.
  kill -9 at a random moment in a hot and in a paced loop: rows whose log() returned,
  against rows read back (the child appends each returned index to a file).
Prints numbers; asserts nothing. The machine may be busy: compare columns, not runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench_init import init_ms

ENV = {"FLIGHTLOG_STATS_INTERVAL": "0", "FLIGHTLOG_CONSOLE": "off", "FLIGHTLOG_SILENT": "1"}


def _rows(shape: str, steps: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(0)
    if shape == "wide":
        keys = [f"k{j}" for j in range(10_000)]
        for _ in range(steps):
            yield {k: rng.random() for k in keys}
        return
    if shape == "mixed":
        import numpy as np

        import flightlog

        counts, bins = np.histogram(np.random.default_rng(0).normal(size=1000), bins=64)
        hist = flightlog.Histogram(np_histogram=(counts, bins))
        for i in range(steps):
            d = {
                "loss": rng.random(),
                "step_i": i,
                "lr": np.float32(0.001),
                "acc": np.float64(rng.random()),
                "train": {"grad_norm": rng.random(), "tokens": i * 512},
                "ok": i % 2 == 0,
            }
            if i % 100 == 0:
                d["weights"] = hist
            yield d
        return
    for _ in range(steps):
        yield {f"metric_{j}": rng.random() for j in range(10)}


def worker(tracker: str, shape: str, steps: int, workdir: Path) -> dict[str, float]:
    """One measurement in this fresh process."""
    perf = time.perf_counter_ns
    #: raw numbers, not int objects kept alive: a list of them grew Python's heap by ~6 MB
    #: in the loop, and the pages it took were page faults inside the timed calls
    timings = array("q", bytes(8 * steps))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if tracker == "floor":
        sink: list[object] = []
        log = sink.append
    else:
        import flightlog

        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        run = flightlog.init(project="bench", mode="offline", dir=str(workdir))
        log = run.log
    builds = array("q", bytes(8 * steps))
    rows = _rows(shape, steps)
    clocks = _ThreadClocks()
    slow = {k: [0, 0] for k in SLOW_CAUSES}
    hist_calls = []
    #: calls over 1 ms during which this thread blocked (the GIL or the run's lock held by
    #: another thread: a voluntary context switch) / was only preempted (a CPU wait)
    blocked = preempted = 0
    #: calls that took a page fault (the journal's pages not faulted in ahead: counted
    #: whatever the load), and of the calls over 50 µs, those; those of histogram rows, by
    #: cause
    faulted = faulted_all = 0
    slow_hist = dict.fromkeys(SLOW_CAUSES, 0)
    usage = resource.getrusage  # no GIL release: the writer cannot slip in here
    gcs = [0]  # cyclic GC passes started, in any thread
    gc.callbacks.append(lambda phase, _info: phase == "start" and gcs.__setitem__(0, gcs[0] + 1))
    in_gc = 0  # calls over 50 µs during which a cyclic GC pass started
    for i in range(steps):
        b = perf()
        d = next(rows)
        clocks.refresh()
        before = clocks.read()
        u0 = usage(resource.RUSAGE_THREAD)
        cpu = time.thread_time_ns()
        g0 = gcs[0]
        s = perf()
        log(d)
        took = perf() - s
        u1 = usage(resource.RUSAGE_THREAD)
        faulted_all += u1.ru_minflt + u1.ru_majflt > u0.ru_minflt + u0.ru_majflt
        if took > 1_000_000:
            if u1.ru_nvcsw > u0.ru_nvcsw:
                blocked += 1
            elif u1.ru_nivcsw > u0.ru_nivcsw:
                preempted += 1
        if took > 50_000:  # who ran meanwhile: this thread, another thread of ours, nobody
            cause = _cause(cpu, took, clocks.others_ran(before, clocks.read()))
            cell = slow[cause]
            cell[0] += 1
            cell[1] += took > 1_000_000
            in_gc += gcs[0] > g0
            faulted += u1.ru_minflt + u1.ru_majflt > u0.ru_minflt + u0.ru_majflt
            if shape == "mixed" and i % 100 == 0:
                slow_hist[cause] += 1
        timings[i] = took
        builds[i] = s - b
        if shape == "mixed" and i % 100 == 0:
            hist_calls.append(took)
    t = time.perf_counter()
    cpu = time.process_time()
    parquet_ms = 0.0
    if tracker == "floor":
        import pyarrow as pa
        import pyarrow.parquet as pq

        if shape != "mixed":  # (a Histogram is not a Parquet value)
            pq.write_table(pa.Table.from_pylist(sink), str(workdir / "floor.parquet"))
            parquet_ms = (time.perf_counter() - t) * 1000
    else:
        run.finish()
    finish_ms = (time.perf_counter() - t) * 1000
    finish_cpu_ms = (time.process_time() - cpu) * 1000
    timings = sorted(timings)

    def q(p: float) -> float:
        return timings[min(len(timings) - 1, int(p * len(timings)))] / 1000

    return {
        "build": statistics.median(builds) / 1000,
        "median": q(0.5),
        "p99": q(0.99),
        "p99.9": q(0.999),
        "max": timings[-1] / 1000,
        "over_1ms": sum(1 for t in timings if t > 1_000_000),
        "finish_ms": finish_ms,
        "finish_cpu_ms": finish_cpu_ms,
        "parquet_per_row": parquet_ms * 1000 / steps,
        "slow": slow,
        "faulted": faulted,
        "faulted_all": faulted_all,
        "in_gc": in_gc,
        "slow_hist": slow_hist,
        "blocked": blocked,
        "preempted": preempted,
        "hist": statistics.median(hist_calls) / 1000 if hist_calls else 0.0,
        "rss_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024,
    }


class _ThreadClocks:
    """CPU clocks of the process's threads: a log() call that took long either waited for
    another thread of the process (the writer holding the GIL) or for a CPU (the machine).
    init() starts the writer's thread from a thread it does not wait for, so the threads are
    listed again whenever their number changes (else the writer was never watched)."""

    def __init__(self) -> None:
        self._count = -1
        self._others: list[int] = []
        self.refresh()

    def refresh(self) -> None:
        import threading

        if threading.active_count() == self._count:
            return
        self._count = threading.active_count()
        main = threading.main_thread()
        self._others = [
            time.pthread_getcpuclockid(t.ident)
            for t in threading.enumerate()
            if t is not main and t.ident is not None
        ]

    def read(self) -> list[int]:
        return [self._now(c) for c in self._others]

    @staticmethod
    def _now(clock: int) -> int:
        try:
            return time.clock_gettime_ns(clock)
        except OSError:  # the thread ended (init()'s context capture)
            return 0

    @staticmethod
    def others_ran(before: list[int], after: list[int]) -> int:
        return sum(max(0, b - a) for a, b in zip(before, after, strict=True))


SLOW_CAUSES = ("its own work", "flightlog's threads", "the machine")


def _cause(cpu_before: int, took: int, others_ran: int) -> str:
    """Why a log() call took `took` ns: the training thread ran most of it (its own work:
    a histogram, the cyclic GC), or another thread of the process ran meanwhile (the
    writer holding the GIL, or competing for a CPU), or neither (the machine). Only clocks
    are read: a system call that releases the GIL next to the timed call would let the
    writer take the GIL there instead, out of the timed call."""
    if time.thread_time_ns() - cpu_before >= took / 2:
        return "its own work"
    return "flightlog's threads" if others_ran > 0.3 * took else "the machine"


def _run_worker(
    tracker: str, shape: str, steps: int, python: str = sys.executable
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        argv = [python, __file__, "--worker", tracker, "--shape", shape]
        argv += ["--steps", str(steps), "--dir", tmp]
        out = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **ENV})
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _whole(code: str, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", f"D = {tmp!r}\n{code}"],
                env={**os.environ, **ENV},
                check=True,
                capture_output=True,
            )
            times.append(time.perf_counter() - t)
    return statistics.median(times)


KILL_CHILD = """
    import os, sys, time, flightlog
    run = flightlog.init(project="k", id="r", dir=sys.argv[1])
    fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    print("started", flush=True)
    i = 0
    while True:
        run.log({f"metric_{j}": i + j for j in range(10)})
        os.write(fd, b"%d\\n" % i)
        i += 1
        if PACED and i % 10 == 0:
            time.sleep(0.001)
"""


def kill_trial(paced: bool, at: float) -> tuple[int, int]:
    """(rows whose log() returned, rows read back) after a kill -9 at `at` seconds."""
    import flightlog

    with tempfile.TemporaryDirectory() as tmp:
        code = textwrap.dedent(KILL_CHILD).replace("PACED", str(paced))
        returned = Path(tmp) / "returned"
        p = subprocess.Popen(
            [sys.executable, "-c", code, tmp, str(returned)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **ENV},
        )
        assert p.stdout is not None and p.stdout.readline().strip() == "started"
        time.sleep(at)
        p.send_signal(signal.SIGKILL)
        p.wait()
        n = len(returned.read_bytes().split(b"\n")) - 1
        kept = sum(1 for _ in flightlog.Api(tmp).run("k/r").scan_history())
    return n, kept


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--worker")
    p.add_argument("--shape", default="plain")
    p.add_argument("--dir")
    p.add_argument("--baseline", help="another interpreter (venv) whose flightlog to compare")
    p.add_argument("--log-only", action="store_true", help="log() of plain and mixed rows only")
    p.add_argument("--mixed-only", action="store_true", help="log() of mixed rows only")
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.shape, args.steps, Path(args.dir))))
        return
    print("machine load (1, 5, 15 min):", os.getloadavg(), f"on {os.cpu_count()} cores")
    print(
        f"\nlog() µs per call           {'median':>8} {'p99':>8} {'p99.9':>8} {'max':>9}"
        "  >1ms   (+ building the dict, median)"
    )
    plain: dict[str, dict[str, Any]] = {}
    slow_lines = []
    runs = [("floor", sys.executable), ("flightlog", sys.executable)]
    if args.baseline:
        runs.append(("baseline", args.baseline))
    shapes = [("plain", args.steps), ("mixed", args.steps)][args.mixed_only :]
    args.log_only |= args.mixed_only
    for shape, steps in shapes if args.log_only else [*shapes, ("wide", 300)]:
        for name, python in runs:
            tracker = "floor" if name == "floor" else "flightlog"
            r = _run_worker(tracker, shape, steps, python)
            cells = "".join(f"{r[k]:>9.2f}" for k in ("median", "p99", "p99.9", "max"))
            print(f"  {shape:6} {name:9} x{steps:<7,}{cells} {r['over_1ms']:>5}   {r['build']:.2f}")
            if tracker == "floor" and r["parquet_per_row"]:
                per_row = r["median"] + r["parquet_per_row"]
                print(f"  {shape:6} floor list + one Parquet, per row: {per_row:.2f}")
            if tracker == "flightlog":
                cells = "; ".join(f"{k} {n} ({big} >1ms)" for k, (n, big) in r["slow"].items())
                slow_lines.append(f"  {shape:6} {name:9} calls >50 µs that waited for: {cells}")
                slow_lines.append(
                    f"  {'':6} {name:9} calls >1 ms that blocked (GIL or lock held by another "
                    f"thread) {r['blocked']}, only preempted (CPU) {r['preempted']}"
                )
                slow_lines.append(
                    f"  {'':6} {name:9} calls with a page fault {r['faulted_all']}, "
                    f"of the calls >50 µs {r['faulted']}; "
                    f"calls >50 µs during a cyclic GC pass {r['in_gc']}"
                )
                if shape == "mixed":
                    cells = ", ".join(f"{k} {n}" for k, n in r["slow_hist"].items())
                    slow_lines.append(
                        f"  {'':6} {name:9} a histogram row's call: {r['hist']:.1f} µs median; "
                        f"histogram rows among the calls >50 µs: {cells}"
                    )
            if shape == "plain":
                plain[name] = r
    print("\n".join(["", *slow_lines]))
    if args.log_only:
        return
    names = [n for n, _ in runs[1:]] + ["floor"]
    print(f"\nafter {args.steps:,} steps of 10 floats " + "".join(f"{n:>11}" for n in names))
    for label, key in (
        ("finish() ms", "finish_ms"),
        ("finish() CPU ms", "finish_cpu_ms"),
        ("peak RSS growth MB", "rss_mb"),
    ):
        print(f"  {label:28}" + "".join(f"{plain[n][key]:>11.1f}" for n in names))
    print("  (floor: list + one Parquet)")
    one = _whole("import flightlog as m\nr = m.init(project='b', dir=D)\nr.log({'a': 1.0})\n")
    floor = _whole(
        "import pyarrow as pa, pyarrow.parquet as pq\n"
        "pq.write_table(pa.table({'a': [1.0]}), D + '/one.parquet')"
    )
    bare = _whole("pass")
    print(f"\nwhole one-log script s: flightlog {one:.3f}, floor import pyarrow + one Parquet ")
    print(f"  {floor:.3f} ({one / floor:.2f}x), bare python {bare:.3f}")
    for runs in (0, 10_000):
        ms = init_ms(runs)
        print(f"init() with {runs:,} runs in the project: {ms:.1f} ms (median of 5; floor 0)")
    print("\nkill -9 at a random moment: rows whose log() returned -> rows read back")
    rng = random.Random(1)
    for paced in (False, True):
        res = [kill_trial(paced, rng.uniform(0.1, 0.6)) for _ in range(args.trials)]
        lost = sum(max(0, n - k) for n, k in res)
        print(f"  {'paced' if paced else 'hot':5}  " + ", ".join(f"{n}->{k}" for n, k in res))
        print(f"         rows lost: {lost}")


if __name__ == "__main__":
    main()
