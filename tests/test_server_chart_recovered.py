"""The team server's one-run chart (sync/run_reads.py: GET .../view and .../chart) of a run
whose history holds a copy's journal-sealed segment (store/takeover.py numbers it from
RECOVERED_SEQ) beside the writer's own seals draws what a local chart of the same files draws
(store/query.py, with the index's step statistics), each row once: whole, zoomed, from the
pyramids and from the rows. tests/test_found15b_recovered_overlap.py makes such a run for real
(a store copied mid-run and synced twice, 3,000 steps: too short for pyramids); here the
copy's segment is sealed from the writer's own rows, as a takeover seals a journal's, into a
12,000-step run in 5 segments whose sidecars a local chart builds first; and a run without
one, charted as locally too."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from flightlog.store.index import Index
from flightlog.store.layout import RunPaths, SegmentName, parse_segment_name
from flightlog.store.query import downsample
from flightlog.store.sealing import write_sealed
from flightlog.store.takeover import RECOVERED_SEQ
from flightlog.sync.limits import ServerLimits
from flightlog.sync.run_reads import RunReader

from .test_pyramids import long_run

#: (buckets, zoomed range): 4 buckets of 3,000 steps and the zoom to its middle take the
#: pyramids; 240 buckets of 50 steps, and 2,000 steps, read the rows
CHARTS = [(4, None), (4, (2_000.0, 10_000.0)), (240, None), (240, (5_000.0, 7_000.0))]


@pytest.mark.parametrize("copy", ["none", "held-whole", "held-in-part"])
def test_the_servers_chart_is_the_local_chart_each_row_once(store: Path, copy: str) -> None:
    run_key, _ = long_run()
    paths = RunPaths.of_key(store, run_key)
    seals = sorted(paths.history.glob("*.parquet"), key=lambda p: _name(p).seq)
    assert len(seals) >= 4
    # the copy's segment: the writer's rows from the middle of its second-to-last seal on
    table = pq.read_table(seals[-2]).combine_chunks()
    start = table.column("step")[table.num_rows // 2].as_py()
    tail = [
        t.filter(t.column("step").to_numpy() >= start) for t in (table, pq.read_table(seals[-1]))
    ]
    writer = _name(seals[-1]).writer
    schema = tail[0].schema
    recovered = SegmentName(writer, RECOVERED_SEQ + 3, None, False)
    if copy != "none":
        batches = (b for t in tail for b in t.to_batches())
        write_sealed(paths.history, recovered, schema, batches, lambda: None)
    if copy == "held-in-part":  # the job's own last seal not copied yet: the copy's rows past
        seals[-1].unlink()  # its other seals are read from the copy's segment
    steps = {s for path in paths.history.glob("*.parquet") for s in _loss_steps(path)}

    reader = RunReader(paths, "history", ServerLimits(), store / ".uploads")
    for chart in CHARTS:
        buckets, x_range = chart
        with Index(store) as idx:  # (builds the pyramids the first time)
            local = downsample(idx, [run_key], None, buckets, "step", x_range)
        served = reader.chart(None, buckets, "step", x_range)
        assert served.drop_columns(["run_key"]) == local.drop_columns(["run_key"]), chart
        lo, hi = x_range or (0, 12_000)
        loss = [r for r in served.to_pylist() if r["key"] == "loss" and r["bucket"] >= 0]
        assert sum(r["n"] for r in loss) == len([s for s in steps if lo <= s <= hi]), chart
    # the pyramid charts had sidecars to read: one for each of the writer's own seals
    own = [p for p in seals if p.exists()]
    assert len([p for p in (store / ".pyramids").rglob("*") if p.is_file()]) >= len(own)


def _name(path: Path) -> SegmentName:
    name = parse_segment_name(path.name)
    assert name is not None, path
    return name


def _loss_steps(path: Path) -> list[int]:
    """The steps at which a segment holds a numeric `loss` (the chart's buckets count them)."""
    t = pq.read_table(path, columns=["step", "key", "value"])
    return [
        s
        for s, k, v in zip(
            *(t.column(c).to_pylist() for c in ("step", "key", "value")), strict=True
        )
        if k == "loss" and v is not None
    ]
