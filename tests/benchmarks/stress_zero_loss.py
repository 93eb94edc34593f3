"""Stress test_zero_loss's kill -9 case far more often than the suite does, keeping the
store of every failing trial for inspection, with a description of its files.

    python tests/benchmarks/stress_zero_loss.py --trials 200 --parallel 2 [--hot] [--big]

Each trial: a child logs rows as tests/test_zero_loss.py's does (tiny journals and paced
unless told otherwise) and is killed -9 after a random 0.02-0.7 s; then `scan_history()`
must read back every row whose log() returned, once, in order. A failing trial's store is
copied under --keep (default /tmp/zeroloss-fail/) and `describe` prints, per journal, its
header (committed, synced, boot) and the steps of its committed records, and per segment
its rows' steps and journal mark, next to what the reader returned.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.history_state import describe, missing

#: where --jitter makes the writer thread stall: (module, class, methods)
JITTER = [
    ("rowlog", "RowLog", ["take", "release", "prepare", "sync", "rotate"]),
    ("current_segment", "CurrentSegment", ["write", "close", "ready_to_close"]),
    ("segment_sealer", "Sealer", ["close_segment", "remove_leftovers"]),
    ("sealing", "IncrementalSeal", ["add", "finish"]),
    ("writer", "RunWriter", ["write_state", "_write_queue", "_convert"]),
    ("journal", "JournalFile", ["sync", "populate_ahead"]),
]

CHILD = """
    JITTER = {jitter_list!r}
    import os, time, flightlog
    import flightlog.store.rowlog as rowlog
    if {tiny}:
        rowlog.ROWS_CAP, rowlog.WORDS_CAP = 300, 1500
    if {jitter}:  # the writer thread stalls at random, as on a machine at load 30-40
        import random, sys, importlib
        sys.setswitchinterval(1e-5)
        def slow(f):
            def g(*a, **k):
                if random.random() < 0.3:
                    time.sleep(random.uniform(0, 0.03))
                return f(*a, **k)
            return g
        for mod, cls, names in JITTER:
            c = getattr(importlib.import_module("flightlog.store." + mod), cls)
            for n in names:
                setattr(c, n, slow(getattr(c, n)))
    run = flightlog.init(project="z", id={run_id!r},
                         settings={{"segment_rows": 4000, "console": "off", "stats_interval": 0}})
    fd = os.open({returned!r}, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    print("started", flush=True)
    i = 0
    while True:
        row = {{"i": i, "x": i / 4, "flag": i % 2 == 0}}
        if i % 7 == 0:
            row["note"] = "n" * (i % 5)
        if i % 11 == 0:
            row["extra"] = {{"deep": i}}
        run.log(row)
        os.write(fd, b"%d\\n" % i)
        i += 1
        if {paced} and i % 20 == 0:
            if i == {kill_at}:  # at a pause, as the kill that found the loss landed
                time.sleep({kill_delay})
                os.kill(os.getpid(), 9)
            time.sleep(0.002)
"""


def start_child(code: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """The child script `code` (CHILD, formatted) in its own interpreter, pipes open."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc


def trial(
    k: int, root: Path, tiny: bool, paced: bool, seed: int, at_pause: bool, jitter: bool
) -> tuple[int, str | None]:
    """One kill -9 trial in its own store; (k, None) or (k, what went wrong)."""
    import flightlog

    rng = random.Random(seed * 100_003 + k)
    store = root / f"s{k}"
    returned = root / f"r{k}"
    env = {**os.environ, "FLIGHTLOG_DIR": str(store), "FLIGHTLOG_SILENT": "1"}
    kill_at = 20 * rng.randrange(50, 100) if at_pause else -1
    code = CHILD.format(
        tiny=tiny,
        run_id=f"t{k}",
        returned=str(returned),
        paced=paced,
        kill_at=kill_at,
        kill_delay=rng.uniform(0, 0.002),
        jitter=jitter,
        jitter_list=JITTER,
    )
    proc = start_child(code, env)
    if proc.stdout.readline().strip() != "started":
        return k, f"child did not start: {proc.stderr.read() if proc.stderr else ''}"
    if kill_at < 0:
        time.sleep(rng.uniform(0.02, 0.7))
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    lines = returned.read_bytes().split(b"\n")
    n = len(lines) - 1
    run = flightlog.Api(store).run(f"z/t{k}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            got = [r["i"] for r in run.scan_history()]
        except Exception as e:
            return k, f"read failed: {e!r}\n{describe(run.paths.history)}"
    if got[:n] == list(range(n)) and len(got) - n in (0, 1):
        shutil.rmtree(store, ignore_errors=True)
        returned.unlink()
        return k, None
    problem = f"{len(got)} read, {n} returned, missing {missing(got, n)}"
    return k, f"{problem}\n{describe(run.paths.history)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--hot", action="store_true", help="no 2 ms pause every 20 rows")
    ap.add_argument("--big", action="store_true", help="default-size journals")
    ap.add_argument(
        "--at-pause",
        action="store_true",
        help="the child kills itself in a pause after 1000-2000 rows (not a random time)",
    )
    ap.add_argument("--jitter", action="store_true", help="the writer thread stalls at random")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--keep", type=Path, default=Path("/tmp/zeroloss-fail"))
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="zeroloss-stress-"))
    failed = 0
    with ThreadPoolExecutor(args.parallel) as pool:
        futures = [
            pool.submit(
                trial, k, root, not args.big, not args.hot, args.seed, args.at_pause, args.jitter
            )
            for k in range(args.trials)
        ]
        for f in futures:
            k, problem = f.result()
            if problem is None:
                continue
            failed += 1
            kept = args.keep / f"{root.name}-t{k}"
            shutil.copytree(root / f"s{k}", kept, dirs_exist_ok=True)
            print(f"FAIL trial {k} (kept in {kept}): {problem}", flush=True)
    print(f"{args.trials - failed}/{args.trials} trials passed (seed {args.seed})")
    shutil.rmtree(root, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
