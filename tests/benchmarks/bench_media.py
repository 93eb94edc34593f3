"""Logging images: training-thread time per log(), images per second, disk bytes per image.

    python tests/benchmarks/bench_media.py [--n64 400] [--n512 60]

For a 64×64 and a 512×512 uint8 RGB image, each tracker logs the same distinct images (one
per step, `{"img": Image(x), "i": i}`) in its own fresh interpreter, one after the other in
this run, so the ratios compare like with like on a noisy machine:
  flightlog  flightlog.init(mode="offline"), PNG encoding and storing on the writer side
  wandb      wandb.init(mode="offline") (when `pip install wandb` installed it)
The images are smooth (8×8 random blocks upsampled, plus mild noise) so PNG compression
behaves as on real pictures, not as on white noise.
Reported: median and p99 µs of training-thread time per log() (Image() construction
included), images/s from the first log() to finish() returning (everything stored), and
media bytes on disk per image. Prints numbers; asserts nothing (this is not a test).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def images(n: int, size: int) -> list:
    import numpy as np

    rng = np.random.default_rng(size)
    out = []
    for _ in range(n):
        coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        img = np.kron(coarse, np.ones((size // 8, size // 8, 1), np.uint8))
        noise = rng.integers(0, 8, img.shape, dtype=np.uint8)
        out.append(img + noise)
    return out


def media_bytes(workdir: Path, tracker: str) -> int:
    pattern = "**/media/??/*" if tracker == "flightlog" else "**/files/media/**/*.png"
    return sum(p.stat().st_size for p in workdir.glob(pattern) if p.is_file())


def worker(tracker: str, n: int, size: int, workdir: Path) -> dict[str, float]:
    os.environ["WANDB_SILENT"] = "true"
    os.environ["FLIGHTLOG_SILENT"] = "1"
    os.environ["FLIGHTLOG_STATS_INTERVAL"] = "0"
    os.environ["FLIGHTLOG_CONSOLE"] = "off"
    if tracker == "flightlog":
        import flightlog as mod
    else:
        import wandb as mod  # type: ignore[no-redef]
    pics = images(n, size)
    run = mod.init(project="bench", mode="offline", dir=str(workdir))
    perf = time.perf_counter_ns
    timings = []
    t0 = time.perf_counter()
    for i, x in enumerate(pics):
        s = perf()
        run.log({"img": mod.Image(x), "i": i})
        timings.append(perf() - s)
    logged = time.perf_counter() - t0
    run.finish()
    total = time.perf_counter() - t0
    timings.sort()
    return {
        "us_median": statistics.median(timings) / 1e3,
        "us_p99": timings[int(len(timings) * 0.99) - 1] / 1e3,
        "logged_s": logged,
        "images_per_s": n / total,
        "bytes_per_image": media_bytes(workdir, tracker) / n,
        "raw_bytes": size * size * 3,
    }


def measure(tracker: str, n: int, size: int) -> dict[str, float] | None:
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run(
            [sys.executable, __file__, "--worker", tracker, str(n), str(size), d],
            capture_output=True,
            text=True,
        )
    if out.returncode != 0:
        print(f"  {tracker}: failed: {out.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n64", type=int, default=400)
    ap.add_argument("--n512", type=int, default=60)
    ap.add_argument("--worker", nargs=4)
    args = ap.parse_args()
    if args.worker:
        tracker, n, size, d = args.worker
        print(json.dumps(worker(tracker, int(n), int(size), Path(d))))
        return
    try:
        import wandb  # noqa: F401

        trackers = ["flightlog", "wandb"]
    except ImportError:
        trackers = ["flightlog"]
        print("(wandb is not installed: flightlog alone)")
    for size, n in ((64, args.n64), (512, args.n512)):
        print(f"\n{size}x{size} uint8 RGB, {n} distinct images")
        results = {t: measure(t, n, size) for t in trackers}
        print(
            f"  {'tracker':10} {'log() µs median':>16} {'p99':>10} {'images/s':>10} "
            f"{'bytes/image':>12} {'(raw)':>9}"
        )
        for t, r in results.items():
            if r:
                print(
                    f"  {t:10} {r['us_median']:16.1f} {r['us_p99']:10.1f} "
                    f"{r['images_per_s']:10.1f} {r['bytes_per_image']:12,.0f} "
                    f"{r['raw_bytes']:9,.0f}"
                )
        f, w = results.get("flightlog"), results.get("wandb")
        if f and w:
            print(
                f"  wandb/flightlog: log() time x{w['us_median'] / f['us_median']:.1f}, "
                f"images/s x{f['images_per_s'] / w['images_per_s']:.2f} (flightlog faster >1), "
                f"bytes x{w['bytes_per_image'] / max(f['bytes_per_image'], 1):.2f}"
            )


if __name__ == "__main__":
    main()
