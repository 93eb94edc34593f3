"""Sealed segments are zstd only where it pays (store/sealing.py): `value`, and `text` when
it holds strings. pyarrow makes a fresh zstd context for each page it decompresses, ~15-35 us
of CPU on a VM whatever the page's size, which the server's check and every reader paid for
pages of a few bytes; the other columns are LZ4 or stored as they are. Readers read them as
before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

import flightlog
from flightlog import Histogram

from .conftest import settled


def codecs(run: flightlog.Run) -> dict[str, set[str]]:
    """Each column's codecs over the run's sealed segments."""
    out: dict[str, set[str]] = {}
    sealed = [p for p in (Path(run.dir) / "history").glob("*.parquet") if p.stem.count("-") == 2]
    assert sealed
    for path in sealed:
        md = pq.read_metadata(path)
        for i in range(md.num_row_groups):
            for j in range(md.num_columns):
                column = md.row_group(i).column(j)
                out.setdefault(column.path_in_schema, set()).add(column.compression)
    return out


def test_a_run_of_numbers_has_zstd_pages_only_for_its_values() -> None:
    run = flightlog.init(project="p", settings={"console": "off"})
    for i in range(70_000):  # 140,000 rows: row groups written as they come, and at finish
        run.log({"loss": 1.0 / (i + 1), "epoch": i // 1000})
    run.finish(quiet=True)
    settled(run)
    assert codecs(run) == {
        "step": {"LZ4"},
        "time": {"LZ4"},
        "key": {"UNCOMPRESSED"},
        "value": {"ZSTD"},
        "kind": {"UNCOMPRESSED"},
        "text": {"LZ4"},
    }
    table = flightlog.Api().run(run.path).history()
    assert table.column("loss").to_pylist() == [1.0 / (i + 1) for i in range(70_000)]
    assert table.column("epoch").to_pylist() == [i // 1000 for i in range(70_000)]


def test_histograms_keep_their_text_in_zstd() -> None:
    run = flightlog.init(project="p", settings={"console": "off"})
    rng = np.random.default_rng(0)
    logged = {}
    for i in range(2_000):
        row: dict = {"loss": 1.0 / (i + 1)}
        if i % 100 == 0:
            row["grad"] = logged[i] = Histogram(rng.normal(size=1000))
        run.log(row)
    run.finish(quiet=True)
    settled(run)
    assert codecs(run)["text"] == {"ZSTD"}  # JSON of floats: LZ4 left it twice as large
    rows = list(flightlog.Api().run(run.path).scan_history())
    assert {r["_step"]: r["grad"] for r in rows if "grad" in r} == logged
