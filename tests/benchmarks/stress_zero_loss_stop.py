"""test_zero_loss's kill -9 check, hundreds of times per child: the child is frozen with
SIGSTOP (every thread stopped: the files are what a kill -9 would leave), read, checked and
resumed. A failing read's history directory is copied under --keep and described.

    python tests/benchmarks/stress_zero_loss_stop.py --children 4 --stops 300 [--hot] [--big]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from stress_zero_loss import child_code, start_child

from tests.history_state import describe, missing


def _all_stopped(pid: int) -> bool:
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        if state not in ("T", "t"):
            return False
    return True


def child(k: int, root: Path, args: argparse.Namespace) -> list[str]:
    import flightlog

    rng = random.Random(args.seed * 1009 + k)
    store = root / f"s{k}"
    returned = root / f"r{k}"
    env = {**os.environ, "FLIGHTLOG_DIR": str(store), "FLIGHTLOG_SILENT": "1"}
    code = child_code(f"t{k}", returned, not args.big, not args.hot, args.jitter)
    proc = start_child(code, env)
    failures: list[str] = []
    if proc.stdout.readline().strip() != "started":
        return [f"child {k} did not start"]
    try:
        for s in range(args.stops):
            time.sleep(rng.uniform(0, args.every))
            os.kill(proc.pid, signal.SIGSTOP)
            while not _all_stopped(proc.pid):
                time.sleep(0.0005)
            n = len(returned.read_bytes().split(b"\n")) - 1
            run = flightlog.Api(store).run(f"z/t{k}")
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                try:
                    got = [r["i"] for r in run.scan_history()]
                    problem = None
                except Exception as e:
                    got, problem = [], f"read failed: {e!r}"
            if problem is None and not (got[:n] == list(range(n)) and len(got) - n in (0, 1)):
                problem = f"{len(got)} read, {n} returned, missing {missing(got, n)}"
            if problem is not None:
                kept = args.keep / f"{root.name}-c{k}-s{s}"
                shutil.copytree(run.paths.history, kept / "history")
                failures.append(
                    f"child {k} stop {s}: {problem} (kept in {kept})\n{describe(run.paths.history)}"
                )
                print(failures[-1], flush=True)
            os.kill(proc.pid, signal.SIGCONT)
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    return failures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--children", type=int, default=4)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--stops", type=int, default=200)
    ap.add_argument("--every", type=float, default=0.05, help="seconds between stops, at most")
    ap.add_argument("--hot", action="store_true")
    ap.add_argument("--big", action="store_true")
    ap.add_argument("--jitter", action="store_true")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--keep", type=Path, default=Path("/tmp/zeroloss-fail"))
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="zeroloss-stop-"))
    with ThreadPoolExecutor(args.parallel) as pool:
        results = list(pool.map(lambda k: child(k, root, args), range(args.children)))
    failed = sum(len(r) for r in results)
    total = args.children * args.stops
    print(f"{total - failed}/{total} stops read every returned row (seed {args.seed})")
    shutil.rmtree(root, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
