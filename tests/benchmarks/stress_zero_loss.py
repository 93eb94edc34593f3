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
from tests.test_zero_loss import child as test_child

#: where --jitter makes the writer thread stall: (module, class, methods)
JITTER = [
    ("rowlog", "RowLog", ["take", "release", "prepare", "sync", "rotate"]),
    ("current_segment", "CurrentSegment", ["write", "close", "ready_to_close"]),
    ("segment_sealer", "Sealer", ["close_segment", "remove_leftovers"]),
    ("sealing", "IncrementalSeal", ["add", "finish"]),
    ("writer", "RunWriter", ["write_state", "_write_queue", "_convert"]),
    ("journal", "JournalFile", ["sync", "populate_ahead"]),
]

#: what --jitter runs before the test's child: the writer thread stalls at random, as on a
#: machine at load 30-40
JITTER_SETUP = """
    import importlib, random, sys, time
    sys.setswitchinterval(1e-5)
    def slow(f):
        def g(*a, **k):
            if random.random() < 0.3:
                time.sleep(random.uniform(0, 0.03))
            return f(*a, **k)
        return g
    for mod, cls, names in {jitter_list!r}:
        c = getattr(importlib.import_module("flightlog.store." + mod), cls)
        for n in names:
            setattr(c, n, slow(getattr(c, n)))
"""


def child_code(
    run_id: str,
    returned: Path,
    tiny: bool,
    paced: bool,
    jitter: bool,
    kill_at: int = -1,
    kill_delay: float = 0.0,
) -> str:
    """tests/test_zero_loss.py's child (tiny journals, paced, unless told otherwise), with
    --jitter's stalls first and, at `kill_at` rows, a kill -9 at a pause (as the kill that
    found the loss landed)."""
    kill = f"if i == {kill_at}: time.sleep({kill_delay}); os.kill(os.getpid(), 9)"
    setup = textwrap.dedent(JITTER_SETUP.format(jitter_list=JITTER)) if jitter else ""
    body = test_child(
        at_pause=kill if kill_at >= 0 else "pass",
        tiny=tiny,
        run_id=run_id,
        returned=str(returned),
        paced=paced,
    )
    return setup + textwrap.dedent(body)


def start_child(code: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """The child script `code` (`child_code`) in its own interpreter, pipes open."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
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
    code = child_code(f"t{k}", returned, tiny, paced, jitter, kill_at, rng.uniform(0, 0.002))
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
