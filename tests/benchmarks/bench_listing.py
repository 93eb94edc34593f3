"""Listing at scale: `flightlog runs`, the runs screen, init() and live refresh, at 100 /
1,000 / 10,000 runs (issue 16 section 4). Each figure prints next to a baseline measured in
the same run. The cold listing is measured from a cold disk too (listing_cli.py's `evict`:
the kernel's caches dropped, as root, else the store's pages evicted), as on NFS, where
each read is a round trip.

    python tests/benchmarks/bench_listing.py [--sizes 100,1000,10000] [--init-sizes 0,10000,100000]
                                            [--skip tui,init,live]
                                            [--seconds 10] [--stores PREFIX] [--newest]
                                            [--baseline /tmp/old/.venv/bin/python]

Stores are built once under /tmp (`/tmp/flightlog-listing-N`, or PREFIX + N) and reused:
one 50-step run is written through the real writer, then cloned N times by writing the
store's files directly (run.json, the writer's state file with its own summary, the sealed
segment, and the line init() appends to its project's ledger, store/run_ledger.py), which
is ~100x faster than N writer processes; `flightlog doctor` checks the result is a valid
store. The live refresh sorts the screen by start, oldest first (the
training runs on a later page) unless `--newest` (them in view, redrawn every refresh).
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path[:0] = [str(HERE.parent)]

from bench_init import init_ms  # noqa: E402
from bench_tui import TRAINER  # noqa: E402
from listing_cli import ENV, cold_line, listing, warm_line  # noqa: E402

STEPS = 50


def _template(tmp: Path) -> Path:
    """One real run of STEPS steps, written by the writer: what every clone copies."""
    code = (
        "import sys, flightlog\n"
        "r = flightlog.init(project='t', id='template', dir=sys.argv[1],"
        " config={'lr': 0.1}, tags=['bench'])\n"
        f"for s in range({STEPS}): r.log({{'loss': 1 / (s + 1), 'acc': s / {STEPS}}})\n"
        "r.finish(quiet=True)\n"
    )
    env = {**os.environ, **ENV, "FLIGHTLOG_DISABLE_GIT": "1"}
    subprocess.run([sys.executable, "-c", code, str(tmp)], env=env, check=True)
    return tmp / "runs" / "t" / "template"


def build_store(store: Path, runs: int) -> float:
    """A store of `runs` finished runs (5 projects, 20 groups), reused when already built;
    returns the seconds building took (0 when reused)."""
    marker = store / f".bench-listing-{runs}-ledger"
    if marker.exists():
        return 0.0
    shutil.rmtree(store, ignore_errors=True)
    from flightlog.store.numbering import NUMBERS_DIR
    from flightlog.store.run_ledger import append_created

    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tpl = _template(Path(tmp))
        meta = json.loads((tpl / "run.json").read_text())
        (wfile,) = (tpl / "writers").iterdir()
        wstate = json.loads(wfile.read_text())
        (seg,) = (tpl / "history").iterdir()
        seg_bytes = seg.read_bytes()
        rng = random.Random(0)
        t0 = time.time() - runs * 60.0
        for i in range(runs):
            project = f"proj-{i % 5}"
            run_id = f"r{i:07d}"
            d = store / "runs" / project / run_id
            for sub in ("writers", "history", "files"):
                (d / sub).mkdir(parents=True)
            created = t0 + i * 60.0
            lr = 10 ** rng.uniform(-5, -1)
            m = {
                **meta,
                "id": run_id,
                "name": f"bench-run-{i}",
                "number": i,
                "project": project,
                "group": f"g{i % 20}",
                "tags": ["bench", "odd" if i % 2 else "even"],
                "created_at": created,
                "started_at": created,
                "config": {"lr": lr, "seed": i, "layers": i % 7},
            }
            (d / "run.json").write_text(json.dumps(m, indent=1))
            (d.parent / NUMBERS_DIR).mkdir(exist_ok=True)
            append_created(d.parent, run_id, created)  # (as init() does)
            loss = rng.random()
            w = {
                **wstate,
                "started_at": created,
                "heartbeat_at": created + 30,
                "finished_at": created + 30,
                "summary": {
                    **wstate["summary"],
                    "loss": loss,
                    "acc": 1 - loss,
                    "_timestamp": created + 30,
                },
            }
            (d / "writers" / wfile.name).write_text(json.dumps(w, indent=1))
            (d / "history" / seg.name).write_bytes(seg_bytes)
    marker.touch()
    return time.perf_counter() - t


TUI_CHILD = """
import asyncio, json, resource, sys, time
from pathlib import Path
from flightlog.tui import FlightlogApp
from flightlog.tui.runs_table import RunsTable

async def main(store):
    t = time.perf_counter()
    app = FlightlogApp(Path(store))
    async with app.run_test(size=(160, 50)) as pilot:
        while True:
            await pilot.pause(0.01)
            if app.screen.query(RunsTable) and app.screen.query_one(RunsTable).row_count:
                break
        tti = time.perf_counter() - t
        # a key at the end of the table: how long the last run takes to come into view
        t = time.perf_counter()
        await pilot.press("end")
        await pilot.pause(0)
        end = time.perf_counter() - t
        await pilot.pause(2.5)  # one live refresh
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"tti_ms": tti * 1000, "end_ms": end * 1000, "rss_mb": rss}))

asyncio.run(main(sys.argv[1]))
"""


def tui(store: Path) -> dict[str, float]:
    """Time to interactive and peak RSS of the UI on `store`, in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", TUI_CHILD, str(store)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **ENV},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


REFRESH_CHILD = """
import asyncio, sys
from pathlib import Path
from bench_tui import refresh_cost
print(asyncio.run(refresh_cost(Path(sys.argv[1]), float(sys.argv[2]), settle=3.0)))
"""

#: refresh_cost with the newest runs first: the training runs on screen, so each refresh
#: also redraws the table
NEWEST_CHILD = """
import asyncio, sys
from pathlib import Path
from bench_tui import refresh_cost
print(asyncio.run(refresh_cost(Path(sys.argv[1]), float(sys.argv[2]), settle=3.0, newest=True)))
"""


def refresh_share(store: Path, seconds: float, newest: bool = False) -> float:
    """Share of one core the runs screen uses over `seconds` (after its first paint);
    `newest`: sorted newest first (the runs training in view)."""
    out = subprocess.run(
        [sys.executable, "-c", NEWEST_CHILD if newest else REFRESH_CHILD, str(store), str(seconds)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **ENV, "PYTHONPATH": str(HERE.parent)},
    )
    return float(out.stdout.split()[-1])


def live(store: Path, seconds: float, newest: bool = False) -> tuple[float, float]:
    """(share of a core with 8 runs training into `store`, the same app idle on it);
    `newest`: the screen sorted newest first, the training runs in view."""
    idle = refresh_share(store, seconds, newest)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", TRAINER, str(r), str(seconds + 8)],
            env={**os.environ, **ENV, "FLIGHTLOG_DIR": str(store)},
        )
        for r in range(8)
    ]
    try:
        time.sleep(1.0)
        busy = refresh_share(store, seconds, newest)
    finally:
        for pr in procs:
            pr.wait()
    return busy, idle


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", default="100,1000,10000")
    p.add_argument("--init-sizes", default="0,10000,100000")
    p.add_argument("--skip", default="", help="comma-separated: list, tui, init, live")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument(
        "--baseline",
        metavar="PYTHON",
        help="another checkout's interpreter: its cold and warm listings in the same run",
    )
    p.add_argument(
        "--newest",
        action="store_true",
        help="live refresh with the runs screen sorted newest first (the training runs shown)",
    )
    p.add_argument(
        "--stores",
        default="/tmp/flightlog-listing-",
        help="where the stores are built: PREFIX + number of runs (default %(default)sN)",
    )
    args = p.parse_args()
    skip = set(args.skip.split(","))
    sizes = [int(s) for s in args.sizes.split(",") if s]
    stores = {n: Path(f"{args.stores}{n}") for n in sizes}
    for n, store in stores.items():
        built = build_store(store, n)
        if built:
            doctor = subprocess.run(
                [sys.executable, "-m", "flightlog.cli", "doctor", "--root", str(store)],
                capture_output=True,
                text=True,
            )
            print(
                f"built {n:,} runs in {built:.1f}s; doctor exit {doctor.returncode}: "
                f"{doctor.stdout.strip().splitlines()[-1] if doctor.stdout.strip() else ''}"
            )
    results: dict[int, dict[str, float]] = {n: {} for n in sizes}
    if "list" not in skip:
        for n, store in stores.items():
            r = listing(store, n, args.baseline)
            results[n].update(r)
            print(f"{n:>6,} runs, load average {os.getloadavg()[0]:.1f}:", cold_line(r))
            if args.baseline:
                base = {k[5:]: v for k, v in r.items() if k.startswith("base_")}
                print(f"{n:>6,} runs, the baseline's:", cold_line(base))
            print(f"{n:>6,} runs, load average {os.getloadavg()[0]:.1f}:", warm_line(r))
            print(
                f"{n:>6,} runs: `runs --limit 50` warm {r['warm_cmd_ms']:,.0f} ms whole command / "
                f"{r['warm_work_ms']:,.0f} ms work (target 300); floor: every run.json "
                f"{r['floor_ms']:,.0f} ms, python+imports `--version` {r['bare_cmd_ms']:,.0f} ms; "
                f"after one new run {r['catch_up_one_ms']:,.0f} ms; the segments the cold "
                f"listing left, described by the next other reader: {r['rest_ms']:,.0f} ms",
                flush=True,
            )
    if "tui" not in skip:
        for n, store in stores.items():
            r = tui(store)
            results[n].update(r)
            print(
                f"{n:>6,} runs: UI interactive {r['tti_ms']:,.0f} ms (target 1,000), "
                f"`end` {r['end_ms']:,.0f} ms, peak RSS {r['rss_mb']:.0f} MB",
                flush=True,
            )
    _curve(results, sizes)
    if "init" not in skip:
        base = init_ms(0)
        for n in [int(s) for s in args.init_sizes.split(",") if s]:
            ms = init_ms(n) if n else base
            print(
                f"init() with {n:,} runs in the project: {ms:.1f} ms (target 10; "
                f"0 runs in the same run: {base:.1f} ms)",
                flush=True,
            )
    if "live" not in skip:
        for n in [s for s in sizes if s <= 1000][-1:] or sizes[:1]:
            store = stores[n]
            busy, idle = live(store, args.seconds, args.newest)
            shown = ", newest first (the training runs in view)" if args.newest else ""
            print(
                f"live refresh, 8 runs training into the {n:,}-run store{shown}: "
                f"{busy * 100:.1f}% of a core (target 3%; idle on the same store: "
                f"{idle * 100:.1f}%)",
                flush=True,
            )
            shutil.rmtree(store / "runs" / "live", ignore_errors=True)
        if sizes[-1] > 1000:  # a refresh of a big store that did not change: its stats only
            share = refresh_share(stores[sizes[-1]], args.seconds)
            print(
                f"idle refresh of the unchanged {sizes[-1]:,}-run store: {share * 100:.1f}% "
                "of a core",
                flush=True,
            )
    print(json.dumps(results))


def _curve(results: dict[int, dict[str, float]], sizes: list[int]) -> None:
    """Each figure's growth between sizes, against linear (10x runs -> 10x cost)."""
    if len(sizes) < 2:
        return
    for key in sorted({k for r in results.values() for k in r}):
        pts = [(n, v) for n in sizes if isinstance(v := results[n].get(key), float)]
        if len(pts) < 2:
            continue
        steps = [
            f"{b / a if a else float('nan'):.1f}x for {m / n:.0f}x runs"
            for (n, a), (m, b) in itertools.pairwise(pts)
        ]
        print(f"  {key}: " + " -> ".join(f"{v:,.0f}" for _, v in pts) + f"  ({'; '.join(steps)})")


if __name__ == "__main__":
    main()
