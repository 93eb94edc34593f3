"""Why each slow `log()` call was slow: every call over 50 µs and over 1 ms, put down to one
cause (issue 16 §2: no call over 1 ms, p99.9 ≤ 50 µs).

    python tests/benchmarks/bench_log_stalls.py [--steps 200000] [--trials 3]
        [--shape mixed|plain|wide] [--baseline /tmp/old/.venv/bin/python] [--spin 3.5]
        [--page-floor]

Each trial runs each interpreter's flightlog in a fresh process, alternating which goes first,
with the load average printed, and the spin floor: the same loop and bookkeeping around a
call that only burns `--spin` µs of CPU (a log() of the median cost, without flightlog):
what the machine alone (interrupts, the hypervisor, other processes) does to such calls;
with --page-floor also the page floor: the same calls each storing a row's bytes into fresh
pages of a file mapping faulted in beforehand, as log() stores into its journal (on this
virtual machine a store into a page not touched for a while costs up to ~150 µs, in the
thread's own CPU time, with no page fault counted).
The harness (never the product) records, with the GIL held and no system call that
releases it next to the timed call:
  - every cyclic GC pass (gc.callbacks: generation, thread, start and end);
  - the writer thread's phases (class methods wrapped before init(): converting journal
    rows to Arrow, writing a batch to the open segment and its sealed twin, msync, closing a
    segment, the state file, run.json, faulting in journal pages);
  - per slow call: this thread's CPU time, the other threads' CPU time, its voluntary and
    involuntary context switches, page faults (and whether log()'s next journal pages were
    faulted in ahead), a journal rotation, a new row signature.
A call is put down to the first of: a GC pass in this thread / in the writer thread; a
journal rotation; a new row shape; a page fault (journal / elsewhere); the writer thread
(it ran ≥ 30% of the call and this thread slept: it held the GIL) with the phase it was in;
a histogram row's own work; other own work (this thread ran ≥ half of it; "the writer ran
within 200 µs" when a writer phase was that close); the machine (this thread waited for a
CPU while no thread of the process ran, or shared a CPU with the writer: "preempted").
Each call over 1 ms not put down to the machine is listed with its step. Prints numbers;
asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bench_write_path import ENV, _rows, _ThreadClocks

#: (module, class, method, label): the writer thread's phases
PHASES = [
    ("flightlog.store.rowlog", "RowLog", "take", "convert journal rows to Arrow"),
    ("flightlog.store.rowlog", "RowLog", "prepare", "fault in journal pages, spare"),
    ("flightlog.store.rowlog", "RowLog", "sync", "msync journals"),
    ("flightlog.store.rowlog", "RowLog", "release", "remove journals"),
    ("flightlog.store.current_segment", "CurrentSegment", "write", "write batch to segment"),
    ("flightlog.store.sealing", "IncrementalSeal", "_flush", "write a sealed row group"),
    ("flightlog.store.sealing", "IncrementalSeal", "_catch_up", "hash + fdatasync row group"),
    ("flightlog.store.writer", "RunWriter", "_close_segment", "close a segment"),
    ("flightlog.store.writer", "RunWriter", "write_state", "write the state file"),
    ("flightlog.store.writer", "RunWriter", "_write_meta", "write run.json"),
]

#: phases recorded: (label, start ns, end ns)
_spans: list[tuple[str, int, int]] = []


def _wrap(label: str, fn: Any) -> Any:
    perf = time.perf_counter_ns

    def wrapped(*a: Any, **k: Any) -> Any:
        s = perf()
        try:
            return fn(*a, **k)
        finally:
            _spans.append((label, s, perf()))

    return wrapped


def _instrument() -> None:
    import importlib

    for mod, cls, meth, label in PHASES:
        try:
            c = getattr(importlib.import_module(mod), cls)
            setattr(c, meth, _wrap(label, getattr(c, meth)))
        except (ImportError, AttributeError):
            pass  # not in this version of the code


def _writer_faults() -> int:
    """Page faults the writer thread took so far (fresh memory: glibc gives a thread arena's
    freed top back with MADV_DONTNEED, each a TLB shootdown of the training thread's CPU too)."""
    for t in threading.enumerate():
        if t.name.startswith("flightlog-") and t.name != "flightlog-seal" and t.native_id:
            try:
                with open(f"/proc/self/task/{t.native_id}/stat") as f:
                    return int(f.read().rpartition(")")[2].split()[7])
            except (OSError, ValueError, IndexError):
                return -1
    return -1


def _ahead(journal: Any) -> bool | None:
    """Are log()'s next journal pages faulted in ahead (None: this version does not say)?
    A row of up to 64 words past the position must be within what the writer populated."""
    populated = getattr(journal, "populated", None)
    if populated is None:
        return None
    n, end = journal.pos
    return n + 2 <= populated[0] and end + 64 <= populated[1]


def _spin(us: float, pages: Path | None = None, steps: int = 0) -> Any:
    """The spin floor: a call that only burns `us` µs of CPU (what a log() call of the median
    cost is exposed to: interrupts, the hypervisor, other processes), no thread, no memory.
    With `pages` (the page floor), each call also stores a row's 88 bytes (a 32-byte record,
    seven float64 values) into the next bytes of two areas of a file mapping in that
    directory, faulted in beforehand as the writer faults in journal pages: what the machine
    does to a call that writes its row into pages it has not written before."""
    perf = time.perf_counter_ns
    span = int(us * 1000)
    if pages is None:

        def log(_row: Any) -> None:
            end = perf() + span
            while perf() < end:
                pass

        return log
    import mmap
    import struct

    from flightlog.store.prefault import mapping_address, populate

    voff = -(-32 * steps // mmap.PAGESIZE) * mmap.PAGESIZE
    size = voff + 56 * steps + mmap.PAGESIZE
    fd = os.open(pages / "page-floor", os.O_RDWR | os.O_CREAT, 0o644)
    os.posix_fallocate(fd, 0, size)
    mm = mmap.mmap(fd, size)
    os.close(fd)
    addr = mapping_address(mm)
    if addr is not None:
        populate(addr, 0, size)
    rec, val = struct.Struct("<qdqq").pack_into, struct.Struct("<7d").pack_into
    at = [0]

    def log_row(_row: Any) -> None:
        end = perf() + span
        n = at[0]
        val(mm, voff + 56 * n, 0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5)
        rec(mm, 32 * n, n, 1.0, 1, 56 * n)
        at[0] = n + 1
        while perf() < end:
            pass

    return log_row


def worker(
    shape: str, steps: int, workdir: Path, spin: float = 0.0, pages: bool = False
) -> dict[str, Any]:
    import flightlog

    _instrument()
    perf = time.perf_counter_ns
    gcs: list[tuple[int, int, int, bool]] = []  # (gen, start, end, in this thread)
    gc_start = [0]
    main = threading.main_thread().ident

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_start[0] = perf()
        else:
            gcs.append((info["generation"], gc_start[0], perf(), threading.get_ident() == main))

    gc.callbacks.append(on_gc)
    run = None if spin else flightlog.init(project="bench", mode="offline", dir=str(workdir))
    log = _spin(spin, workdir if pages else None, steps) if run is None else run.log
    timings = array("q", bytes(8 * steps))
    rows = _rows(shape, steps)
    clocks = _ThreadClocks()
    usage = resource.getrusage
    slow: list[dict[str, Any]] = []
    for i in range(steps):
        d = next(rows)
        clocks.refresh()
        before = clocks.read()
        w = run and run._writer
        rowlog = getattr(w, "_rows", None)
        journal = getattr(rowlog, "journal", None)
        nsig = len(w.signatures.ids) if w is not None else 0
        ahead = _ahead(journal)
        u0 = usage(resource.RUSAGE_THREAD)
        cpu = time.thread_time_ns()
        s = perf()
        log(d)
        e = perf()
        took = e - s
        timings[i] = took
        if took > 50_000:
            mine = time.thread_time_ns() - cpu
            u1 = usage(resource.RUSAGE_THREAD)
            slow.append(
                {
                    "i": i,
                    "s": s,
                    "e": e,
                    "mine": mine,
                    "others": clocks.others_ran(before, clocks.read()),
                    "blocked": u1.ru_nvcsw > u0.ru_nvcsw,
                    "preempted": u1.ru_nivcsw > u0.ru_nivcsw,
                    "fault": u1.ru_minflt + u1.ru_majflt > u0.ru_minflt + u0.ru_majflt,
                    "journal_fault": ahead is not None and not ahead,
                    "rotated": getattr(rowlog, "journal", None) is not journal,
                    "new_shape": (len(w.signatures.ids) if w is not None else 0) > nsig,
                    "hist": shape == "mixed" and i % 100 == 0,
                }
            )
    writer_faults = _writer_faults()
    if run is not None:
        run.finish()
    gc.callbacks.remove(on_gc)
    ordered = sorted(timings)
    causes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    big: list[str] = []
    for c in slow:
        cause = _cause(c, gcs, _spans)
        causes[cause][0] += 1
        causes[cause][1] += c["e"] - c["s"] > 1_000_000
        if c["e"] - c["s"] > 1_000_000:
            big.append(f"step {c['i']}: {(c['e'] - c['s']) / 1000:.0f} µs, {cause}")
    gen_counts = Counter((g, here) for g, *_, here in gcs)
    return {
        "median": ordered[len(ordered) // 2] / 1000,
        "p99.9": ordered[int(0.999 * len(ordered))] / 1000,
        "max": ordered[-1] / 1000,
        "over_50us": sum(1 for t in ordered if t > 50_000),
        "over_1ms": sum(1 for t in ordered if t > 1_000_000),
        "causes": dict(causes),
        "gc_passes": {
            f"gen{g} {'log thread' if here else 'other'}": n for (g, here), n in gen_counts.items()
        },
        "big": big,
        "writer_faults": writer_faults,
        "gc_max_ms": max(((b - a) / 1e6 for _, a, b, _ in gcs), default=0.0),
    }


#: a writer phase this close to a call (ns) may have left it cold caches
NEAR = 200_000


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def _cause(c: dict[str, Any], gcs: list[tuple[int, int, int, bool]], spans: list) -> str:
    s, e = c["s"], c["e"]
    took = e - s
    for gen, a, b, here in gcs:
        if _overlap(s, e, a, b) > 0.3 * took:
            return f"GC gen{gen} in {'log() itself' if here else 'the writer thread'}"
    if c["rotated"]:
        return "journal rotation"
    if c["new_shape"]:
        return "a new row shape"
    if c["fault"]:
        return "page fault: " + ("journal" if c["journal_fault"] else "elsewhere (heap)")
    if c["others"] > 0.3 * took and c["blocked"]:
        inside = [(b - a, label) for label, a, b in spans if _overlap(s, e, a, b) > 0.3 * took]
        phase = min(inside)[1] if inside else "between phases"
        return f"writer held the GIL: {phase}"
    if c["mine"] >= took / 2:
        what = "histogram row (own work)" if c["hist"] else "own work"
        if any(a - NEAR < e and b + NEAR > s for _, a, b in spans):
            return f"{what}, the writer ran within {NEAR // 1000} µs"
        return what
    if c["others"] > 0.3 * took:
        return "CPU shared with the writer (preempted)"
    return "the machine (preempted)" if c["preempted"] else "the machine (other)"


def _run(python: str, shape: str, steps: int, spin: float, pages: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        argv = [python, __file__, "--worker", "--shape", shape, "--steps", str(steps)]
        argv += ["--spin", str(spin)] + (["--pages"] if pages else [])
        out = subprocess.run(
            [*argv, "--dir", tmp], capture_output=True, text=True, env={**os.environ, **ENV}
        )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=200_000)
    p.add_argument("--trials", type=int, default=3)
    p.add_argument("--shape", default="mixed")
    p.add_argument("--baseline", help="another interpreter (venv) whose flightlog to compare")
    p.add_argument(
        "--spin",
        type=float,
        default=3.5,
        help="also run the spin floor: calls that burn this many µs of CPU (0: not)",
    )
    p.add_argument(
        "--page-floor",
        action="store_true",
        help="also run the page floor: the spin floor's calls each storing a row into fresh "
        "pages of a file mapping faulted in beforehand, as log() does into its journal",
    )
    p.add_argument("--pages", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--worker", action="store_true")
    p.add_argument("--dir")
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.shape, args.steps, Path(args.dir), args.spin, args.pages)))
        return
    codes = [("new", sys.executable, 0.0, False)]
    if args.baseline:
        codes.append(("baseline", args.baseline, 0.0, False))
    if args.spin:
        codes.append(("spin floor", sys.executable, args.spin, False))
    if args.spin and args.page_floor:
        codes.append(("page floor", sys.executable, args.spin, True))
    totals: dict[str, dict[str, list[int]]] = {n: defaultdict(lambda: [0, 0]) for n, *_ in codes}
    print(f"{args.shape} rows, {args.steps:,} log() calls per trial, {os.cpu_count()} cores")
    for trial in range(args.trials):
        for name, python, spin, pages in codes[trial % 2 :] + codes[: trial % 2]:
            load = os.getloadavg()[0]
            r = _run(python, args.shape, args.steps, spin, pages)
            print(
                f"trial {trial + 1} {name:8} load {load:5.2f}: median {r['median']:.2f} µs, "
                f"p99.9 {r['p99.9']:.1f} µs, max {r['max']:.0f} µs, >50 µs {r['over_50us']}, "
                f">1 ms {r['over_1ms']}; GC passes {r['gc_passes']} (longest "
                f"{r['gc_max_ms']:.2f} ms); writer thread page faults {r['writer_faults']}"
            )
            for cause, (n, big) in sorted(r["causes"].items(), key=lambda x: -x[1][0]):
                print(f"    {cause:50} {n:6} >50 µs {big:4} >1 ms")
                totals[name][cause][0] += n
                totals[name][cause][1] += big
            if r["big"]:
                print("    calls over 1 ms not put down to the machine:")
            for line in r["big"]:
                if "machine" not in line:
                    print(f"      {line}")
    print(f"\ntotals over {args.trials} trials (>50 µs / >1 ms)")
    causes = sorted({c for t in totals.values() for c in t})
    print(f"  {'':50}" + "".join(f"{n:>16}" for n, *_ in codes))
    for cause in causes:
        cells = "".join(f"{totals[n][cause][0]:>9} /{totals[n][cause][1]:>5}" for n, *_ in codes)
        print(f"  {cause:50}{cells}")


if __name__ == "__main__":
    main()
