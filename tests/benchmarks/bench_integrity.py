"""What the damage checks cost: sha256 of sealed segments, crc32 per IPC batch.

    python tests/benchmarks/bench_integrity.py [--steps 100000]

One history segment of STEPS steps x 10 metrics (1M tidy rows by default), written the way
the writer does: 100-step batches into an open IPC segment, then sealed. Each figure is
printed next to its baseline, the same work without the check, measured in the same run.
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from flightlog.store.describe_segments import _SEALED_CACHE, describe_segment
from flightlog.store.layout import parse_segment_name
from flightlog.store.schema import HISTORY_SCHEMA
from flightlog.store.segments import OpenSegment, read_segment, seal


def pair(new: Callable[[], object], old: Callable[[], object], repeat: int = 9) -> tuple:
    """Median seconds of `new` and of `old`, measured alternately (a busy machine's load
    then weighs on both alike)."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, out in ((new, times[0]), (old, times[1])):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return statistics.median(times[0]), statistics.median(times[1])


def batches(steps: int, per: int = 100) -> list[pa.RecordBatch]:
    keys = np.array([f"metric_{j}" for j in range(10)])
    out = []
    for s0 in range(0, steps, per):
        n = min(per, steps - s0)
        step = np.repeat(np.arange(s0, s0 + n), 10)
        out.append(
            pa.RecordBatch.from_arrays(
                [
                    pa.array(step),
                    pa.array(step * 1000, pa.timestamp("us", tz="UTC")),
                    pa.array(np.tile(keys, n)),
                    pa.array(np.random.rand(n * 10)),
                    pa.array(np.zeros(n * 10, np.int8)),
                    pa.nulls(n * 10, pa.string()),
                ],
                schema=HISTORY_SCHEMA,
            )
        )
    return out


def line(what: str, times: tuple[float, float], unit: str = "ms") -> None:
    new, base = times
    scale = 1e3 if unit == "ms" else 1e6
    print(
        f"{what:52} {new * scale:9.2f} {unit}  baseline {base * scale:9.2f} {unit}  "
        f"x{new / base:.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100_000)
    args = ap.parse_args()
    bs = batches(args.steps)
    rows = sum(b.num_rows for b in bs)
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        hist = root / "runs" / "p" / "r" / "history"
        hist.mkdir(parents=True)

        def write(checked: bool) -> Path:
            path = hist / "abc-000001.arrows"
            path.unlink(missing_ok=True)
            seg = OpenSegment(path, HISTORY_SCHEMA)
            for b in bs:
                if checked:
                    seg.write(b)
                else:
                    seg._writer.write_batch(b)
            seg.close()
            return path

        per_batch = len(bs)
        w_new, w_old = pair(lambda: write(True), lambda: write(False), 5)
        print(f"segment: {rows:,} tidy rows in {per_batch:,} batches of {bs[0].num_rows} rows")
        line("open segment: write one batch (+crc32)", (w_new / per_batch, w_old / per_batch), "us")
        path = write(True)
        plain = lambda: ipc.open_stream(pa.py_buffer(path.read_bytes())).read_all()  # noqa: E731
        line(
            "open segment: read all batches (+crc32 check)",
            pair(lambda: read_segment(path), plain),
        )
        sealed = seal(path)
        print(f"sealed: {sealed.stat().st_size / 1e6:.1f} MB")
        line(
            "sealed: read whole file (+sha256)",
            pair(lambda: read_segment(sealed), lambda: pq.read_table(sealed)),
        )
        name = parse_segment_name(sealed.name)
        assert name is not None

        def describe() -> None:
            _SEALED_CACHE.clear()
            describe_segment(root, "p/r", name, sealed, None)

        # once per file: the verdict is remembered in index.duckdb and per process, as the
        # description itself always was
        def describe_unchecked() -> None:  # what the index read before: footer + key column
            pf = pq.ParquetFile(sealed, read_dictionary=["key"])
            pf.read(columns=["key"])

        line(
            "index: describe sealed segment once (+sha256)",
            pair(describe, describe_unchecked),
        )


if __name__ == "__main__":
    main()
