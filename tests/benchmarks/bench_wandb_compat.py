"""What the wandb drop-in costs: `log()` through the `wandb` alias and through each native
integration's hot path next to plain `run.log()` in the same run; `import wandb` (aliased)
next to `import flightlog`; `flightlog import wandb` on a 100k-step wandb run next to the
time wandb's own reader takes to read the same file (when the real wandb is installed).

    python tests/benchmarks/bench_wandb_compat.py [--steps 100000]

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def bench_log(n: int, alias: Path) -> None:
    code = """
import time, wandb, flightlog
run = wandb.init(project="bench", settings=wandb.Settings(stats_interval=0, console="off"))
def per(fn):
    t = time.perf_counter()
    for i in range(NCALLS):
        fn(i)
    return (time.perf_counter() - t) / NCALLS * 1e6
row = {"loss": 0.5, "acc": 0.1}
plain = per(lambda i: run.log(row))
alias = per(lambda i: wandb.log(row))
plain2 = per(lambda i: run.log(row))
print(f"log(): plain run.log {min(plain, plain2):.2f} us/call, wandb.log via the alias "
      f"{alias:.2f} us/call")
try:
    from flightlog.integrations.lightning import FlightlogLogger
    lg = FlightlogLogger()
    lg._run = run
    pl = per(lambda i: lg.log_metrics(row, step=i))
    print(f"log(): native Lightning log_metrics {pl:.2f} us/call (adds trainer/global_step)")
except ImportError:
    pass
run.finish(quiet=True)
""".replace("NCALLS", str(n))
    env = {**os.environ, "PYTHONPATH": str(alias), "FLIGHTLOG_SILENT": "1"}
    with tempfile.TemporaryDirectory() as d:
        env["FLIGHTLOG_DIR"] = d
        print(
            subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True
            ).stdout.strip()
        )


def bench_import_time(alias: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(alias)}
    for mod in ("flightlog", "wandb"):
        best = min(
            float(
                subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        f"import time; t=time.perf_counter(); import {mod}; "
                        "print(time.perf_counter()-t)",
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                ).stdout
            )
            for _ in range(5)
        )
        print(f"import {mod}{' (the alias)' if mod == 'wandb' else ''}: {best * 1000:.0f} ms")


def bench_import_runs(steps: int) -> None:
    try:
        import wandb
    except ImportError:
        print("flightlog import wandb: skipped (the real wandb package is not installed)")
        return
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"import wandb\nrun = wandb.init(project='b', id='bench001')\n"
                f"for i in range({steps}): wandb.log({{'loss': 1/(i+1), 'acc': i/{steps}}})\n"
                "run.finish()",
            ],
            env={**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"},
            cwd=work,
            check=True,
        )
        [log] = work.glob("wandb/offline-run-*/run-*.wandb")
        from flightlog._wandb_import import import_one

        t = time.perf_counter()
        result = import_one(log, work / "store")
        took = time.perf_counter() - t
        print(
            f"flightlog import wandb: {result.rows} rows in {took:.2f} s = "
            f"{result.rows / took:,.0f} rows/s"
        )
        try:
            from wandb.proto import wandb_internal_pb2 as pb
            from wandb.sdk.internal import datastore  # older wandb only
        except ImportError:
            datastore = None
        if datastore is None:
            from flightlog._wandb_records import frames

            t = time.perf_counter()
            records, _ = frames(log.read_bytes())
            for r in records:
                pb.Record().ParseFromString(r)
            took = time.perf_counter() - t
            print(
                f"  baseline: wandb's protobuf classes parsing the same {len(records)} "
                f"records: {took:.2f} s ({len(records) / took:,.0f} records/s)"
            )
        del wandb


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--log-calls", type=int, default=100_000)
    args = ap.parse_args()
    from flightlog._wandb_install import enable

    with tempfile.TemporaryDirectory() as d:
        enable(Path(d))
        bench_log(args.log_calls, Path(d))
        bench_import_time(Path(d))
    bench_import_runs(args.steps)


if __name__ == "__main__":
    main()
