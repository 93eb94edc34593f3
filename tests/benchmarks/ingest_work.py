"""The server's work for a batch of runs, in this process, without HTTP: what a worker
thread does with `POST /sync/E/P` once the body is read (write and hash the frames, check
each segment, write run.json and the writer states, commit), timed with this thread's CPU
clock and split into its parts - a repeatable figure on a noisy machine, where the
whole-server figure of bench_sync.py moves by ±10% from run to run.

    python tests/benchmarks/ingest_work.py [--store DIR] [--runs 300] [--batch 3]

Run it from a worktree of the code to measure, or from an older one for its figure (the
imported `flightlog` is measured). The fsync pool's threads are not in this thread's CPU;
the process's CPU (printed too) has them.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1])]

SPENT: collections.Counter[str] = collections.Counter()


def timed(name: str, fn: Any) -> Any:
    """`fn`, adding its CPU time (this thread's) to SPENT[name]."""

    @functools.wraps(fn)
    def wrapper(*a: Any, **k: Any) -> Any:
        t = time.thread_time()
        try:
            return fn(*a, **k)
        finally:
            SPENT[name] += time.thread_time() - t

    return wrapper


class NoBlobs:
    """The blob answer of a run that names no blobs and no files."""

    class blobs:  # BlobRouter.blobs
        @staticmethod
        def record_files(later: list[Any]) -> None:
            pass

    @staticmethod
    def run_extras(*a: Any, **k: Any) -> dict[str, Any]:
        return {}


def bodies(store: Path, runs: int) -> list[tuple[str, bytes, list[tuple[str, bytes]]]]:
    """(run id, its PUT body, [(segment name, bytes)]) for the first `runs` runs."""
    from flightlog.store.layout import iter_run_dirs

    out = []
    for paths in sorted(iter_run_dirs(store), key=lambda p: p.dir)[:runs]:
        meta = json.loads(paths.meta.read_bytes())
        writers = [json.loads(p.read_bytes()) for p in sorted(paths.writers.glob("*.json"))]
        body = json.dumps({"meta": meta, "writers": writers}).encode()
        segs = [(p.name, p.read_bytes()) for p in sorted(paths.history.glob("*-*-*.parquet"))]
        out.append((paths.dir.name, body, segs))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--store", default="/tmp/flightlog-bench-store")
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument(
        "--batch", type=int, default=3, help="runs per request (2 MB groups: ~3 such runs)"
    )
    args = ap.parse_args()
    import flightlog
    from flightlog.store import arrow_owned
    from flightlog.sync import bodies as bodies_mod
    from flightlog.sync import project_sync_routes as psr
    from flightlog.sync import receive, segment_check
    from flightlog.sync.bodies import Part

    receive.check_segment_file = timed("check", receive.check_segment_file)
    segment_check._check_pages = timed("  of which page headers", segment_check._check_pages)
    store_cls = receive.ReceivingStore
    store_cls.write_run = timed("run.json, states, dirs", store_cls.write_run)
    from flightlog.sync.group_commit import GroupCommit

    GroupCommit.commit = timed("commit (fsyncs in other threads)", GroupCommit.commit)
    write_parts = timed("write + hash", bodies_mod.write_parts)

    # a segment's frame as the server holds it: in Arrow's memory (bytes before 2958dfd)
    owned = getattr(arrow_owned, "owned", lambda b: b)
    print(f"flightlog from {Path(flightlog.__file__).parent.parent}")
    runs = bodies(Path(args.store), args.runs)
    size = sum(len(b) for _, _, segs in runs for _, b in segs)
    root = Path(tempfile.mkdtemp(prefix="flightlog-ingest-work-"))
    try:
        store = receive.ReceivingStore(root)
        total = whole = 0.0
        for i in range(0, len(runs), args.batch):
            parts = []
            for run_id, body, segs in runs[i : i + args.batch]:
                parts.append(Part("run", f"{run_id}/run.json", len(body), data=body))
                parts[-1].memory_only = True
                parts += [Part("history", name, len(b), data=owned(b)) for name, b in segs]
            t, t_all = time.thread_time(), time.process_time()
            write_parts(parts, store.uploads)
            work = functools.partial(
                psr._store_runs, store, NoBlobs, lambda e, p: None, ("bench", "p"), store.limits
            )
            commit = GroupCommit()
            answers = work(parts, commit)
            commit.commit()
            total += time.thread_time() - t
            whole += time.process_time() - t_all
            bodies_mod.remove_parts(parts)
            bad = [a for a in answers if "error" in a or any("error" in r for r in a["results"])]
            if bad:
                raise SystemExit(f"refused: {bad[:1]}")
        n = len(runs)
        print(
            f"  {n} runs, {size / 1e6:.0f} MB, {args.batch} runs a batch: {total * 1000 / n:.2f} "
            f"ms of this thread's CPU per run ({size / 1e6 / total:.0f} MB per CPU-second); "
            f"{whole * 1000 / n:.2f} ms of the process's (the fsync threads' too)"
        )
        for name, s in sorted(SPENT.items(), key=lambda kv: -kv[1]):
            print(f"    {name:36s} {s * 1000 / n:.2f} ms per run")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
