"""Charts at 10^4 ... 10^8 steps: a 240-bucket chart of a whole run and of zoomed ranges, from
the pyramids, next to the raw-row query they replace and to reading the same segments'
columns with pyarrow (the floor), in the same run; then the TUI's cursor and zoom on a
1M-step run next to redrawing its charts unzoomed (bench_tui.py's measurement).

    python tests/benchmarks/bench_charts.py [--cache DIR] [--max-exp 8] [--raw-max-exp 7]
                                            [--no-tui]

The runs (one metric, `loss`, every step, one spike) are written straight into the store's
layout with the sealing code (500,000-row segments, as the writer seals them): logging 10^8
steps through log() would take ~10 minutes. They are cached under --cache. Prints numbers;
asserts nothing. Medians of 5 unless said.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
SEGMENT_ROWS = 500_000


def make_run(root: Path, steps: int) -> str:
    """A store holding one run of `steps` steps of `loss` (a spike at 3/7 of the way); its
    run key."""
    import flightlog
    from flightlog.store.layout import SegmentName, parse_segment_name
    from flightlog.store.schema import HISTORY_SCHEMA, segment_schema
    from flightlog.store.sealing import write_sealed

    done = root / ".complete"
    if done.exists():
        return done.read_text()
    shutil.rmtree(root, ignore_errors=True)
    run = flightlog.init(
        project="charts", id=f"s{steps}", dir=str(root), settings={"console": "off"}
    )
    run.log({"loss": 0.0})
    run.finish(quiet=True)
    history = Path(run.dir) / "history"
    (old,) = history.glob("*.parquet")
    writer = parse_segment_name(old.name).writer
    old.unlink()
    schema = segment_schema(writer, "bench")
    t0 = 1.7e15
    for seq, start in enumerate(range(0, steps, SEGMENT_ROWS), 1):
        step = np.arange(start, min(start + SEGMENT_ROWS, steps), dtype=np.int64)
        value = np.exp(-step / max(steps / 5, 1)) + 0.01 * np.sin(step)
        value[step == steps * 3 // 7] = 50.0
        table = pa.table(
            {
                "step": step,
                "time": pa.array((t0 + step * 1000).astype(np.int64)).cast(
                    pa.timestamp("us", tz="UTC")
                ),
                "key": pa.array(["loss"] * len(step), pa.string()),
                "value": value,
                "kind": pa.array(np.zeros(len(step), np.int8)),
                "text": pa.nulls(len(step), pa.string()),
            },
            schema=HISTORY_SCHEMA,
        )
        write_sealed(
            history,
            SegmentName(writer, seq, None, False),
            schema,
            table.to_batches(max_chunksize=64 * 1024),
            lambda: None,
        )
    done.write_text(f"charts/s{steps}")
    return done.read_text()


def median_ms(fn: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def raw_only() -> Callable[[], None]:
    """Charts from the raw rows (the query before pyramids); returns the undo."""
    from flightlog.store import pyramid_query

    real = pyramid_query.downsample_steps
    pyramid_query.downsample_steps = lambda *a, **k: None
    return lambda: setattr(pyramid_query, "downsample_steps", real)


def chart_scale(cache: Path, max_exp: int, raw_max_exp: int) -> None:
    print(
        "steps | index first describes the run (builds pyramids) | opening the index | "
        "chart of the whole run: new process / warm | zoom to the middle half | zoom to "
        "2,000 steps | raw-row chart (before) | pyarrow floor: read step, key, value"
    )
    for exp in range(4, max_exp + 1):
        print(chart_row(cache, exp, exp <= raw_max_exp), flush=True)


def chart_row(cache: Path, exp: int, with_raw: bool) -> str:
    """One line of the scale table: 240-bucket charts of a 10^exp-step run (an open index:
    opening it is its own column, the listing's cost, not the chart's)."""
    from flightlog.store import pyramid
    from flightlog.store.index import Index
    from flightlog.store.query import downsample

    steps = 10**exp
    root = cache / f"steps-1e{exp}"
    t = time.perf_counter()
    run_key = make_run(root, steps)
    made = time.perf_counter() - t
    fresh = not (root / "index.duckdb").exists()
    t = time.perf_counter()
    Index(root).close()
    first = (time.perf_counter() - t) * 1000 if fresh else float("nan")
    opening = median_ms(lambda: Index(root).close())
    segments = sorted(root.glob("runs/charts/*/history/*.parquet"))
    with Index(root) as idx:

        def chart(x_range: tuple[float, float] | None = None, cold: bool = True) -> None:
            if cold:
                pyramid.forget_all()  # what a new process finds: the sidecars on disk
            downsample(idx, [run_key], None, buckets=240, x_range=x_range)

        cold = median_ms(chart)
        warm = median_ms(lambda: chart(cold=False))
        half = median_ms(lambda: chart((steps / 4, steps * 3 / 4)))
        mid = steps * 3 // 7
        narrow = median_ms(lambda: chart((mid - 1000, mid + 1000)))
        raw = float("nan")
        if with_raw:
            undo = raw_only()
            try:
                raw = median_ms(chart, repeat=3)
            finally:
                undo()
    floor = median_ms(
        lambda: [pq.read_table(p, columns=["step", "key", "value"]) for p in segments], repeat=3
    )
    return (
        f"10^{exp} | {first:.0f} ms | {opening:.0f} ms | {cold:.0f} / {warm:.0f} ms | "
        f"{half:.0f} ms | {narrow:.0f} ms | {raw:.0f} ms | {floor:.0f} ms"
        + (f"   (generated in {made:.0f} s)" if made > 1 else "")
    )


def tui(cache: Path) -> None:
    """bench_tui.py's cursor and zoom numbers on a 1M-step run logged through log()."""
    sys.path.insert(0, str(HERE))
    from bench_tui import million, open_big_run, report_charts

    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        big = million(Path(tmp))
        t = time.perf_counter()
        asyncio.run(open_big_run(big, "big/million"))  # warm; the index describes it first
        print(f"(first open of the run screen: {(time.perf_counter() - t) * 1000:.0f} ms)")
        report_charts(big)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--cache", default="/tmp/flightlog-bench-charts")
    p.add_argument("--max-exp", type=int, default=8)
    p.add_argument("--raw-max-exp", type=int, default=7, help="raw-row baseline up to 10^N")
    p.add_argument("--no-tui", action="store_true")
    args = p.parse_args()
    os.environ["FLIGHTLOG_SILENT"] = "1"
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    chart_scale(cache, args.max_exp, args.raw_max_exp)
    if not args.no_tui:
        tui(cache)


if __name__ == "__main__":
    main()
