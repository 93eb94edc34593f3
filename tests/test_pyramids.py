"""Chart pyramids: every bucket exact over the steps it reports, for any range, and a damaged
or missing sidecar never shows a wrong value."""

from __future__ import annotations

import itertools
import math
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import flightlog
from flightlog.cli import main
from flightlog.store import doctor, pyramid, pyramid_sweep
from flightlog.store.index import Index
from flightlog.store.pyramid import LEVELS, TEXT_LEVEL, build
from flightlog.store.query import downsample
from flightlog.store.schema import HISTORY_SCHEMA

from .conftest import settled, spawn

Row = tuple[int, str, float | None, int, str | None]  # step, key, value, kind, text


def numeric(r: Row) -> bool:
    return r[3] in (0, 1, 2) and r[2] is not None


def brute(rows: Sequence[Row], key: str, lo: float, hi: float) -> dict[str, Any]:
    """min, max (NaN left out), last (at the highest step; the later row on a tie), count."""
    got = [r for r in rows if r[1] == key and lo <= r[0] <= hi and numeric(r)]
    finite = [r[2] for r in got if not math.isnan(r[2])]
    last = max(enumerate(got), key=lambda ir: (ir[1][0], ir[0]))[1][2] if got else None
    return {
        "vmin": min(finite) if finite else None,
        "vmax": max(finite) if finite else None,
        "vlast": last,
        "n": len(got),
    }


def same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (
        a is not None and b is not None and (a == b or (math.isnan(a) and math.isnan(b)))
    )


def history(rows: Sequence[Row]) -> pa.Table:
    return pa.table(
        {
            "step": [r[0] for r in rows],
            "time": pa.array([0] * len(rows), pa.timestamp("us", tz="UTC")),
            "key": [r[1] for r in rows],
            "value": [r[2] for r in rows],
            "kind": pa.array([r[3] for r in rows], pa.int8()),
            "text": [r[4] for r in rows],
        },
        schema=HISTORY_SCHEMA,
    )


values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32), st.just(math.nan)
).map(lambda v: float(v))


@st.composite
def rows_strategy(draw: st.DrawFn) -> list[Row]:
    n = draw(st.integers(0, 300))
    steps = sorted(draw(st.lists(st.integers(0, 3000), min_size=n, max_size=n)))
    if draw(st.booleans()):
        steps = draw(st.permutations(steps))  # merged writers: out of order
    out: list[Row] = []
    for s in steps:
        key = draw(st.sampled_from(["a", "b", "c.d"]))
        kind = draw(st.sampled_from([0, 0, 0, 1, 2, 3, 4]))
        if kind == 3:
            out.append((s, key, None, 3, draw(st.sampled_from(["x", "y"]))))
        elif kind == 4:
            out.append((s, key, None, 4, None))
        else:
            out.append((s, key, draw(values), kind, None))
    return out


@settings(max_examples=150, deadline=None)
@given(rows_strategy(), st.integers(1, 400))
def test_every_pyramid_bucket_equals_its_rows_computed_by_hand(
    rows: list[Row], row_group: int
) -> None:
    """Built a row group at a time (buckets cut by a row group's end meet again)."""
    levels = build(history(rows[i : i + row_group]) for i in range(0, len(rows), row_group))
    assert len(levels) == len(LEVELS) + 1
    for width, table in zip(LEVELS, levels[:-1], strict=True):
        got = table.to_pylist()
        want_buckets = {(r[1], r[0] // width) for r in rows if numeric(r)}
        assert {(g["key"], g["step_min"] // width) for g in got} == want_buckets
        assert len(got) == len(want_buckets)
        for g in got:
            assert g["level"] == width and g["step_max"] // width == g["step_min"] // width
            k = g["step_min"] // width
            want = brute(rows, g["key"], k * width, (k + 1) * width - 1)
            for col in ("vmin", "vmax", "vlast", "n"):
                assert same(g[col], want[col]), (col, g, want)
            steps = [r[0] for r in rows if r[1] == g["key"] and numeric(r)]
            assert g["step_min"] == min(s for s in steps if s // width == k)
            assert g["step_max"] == max(s for s in steps if s // width == k)
    texts = {g["key"]: g for g in levels[-1].to_pylist()}
    for key in {r[1] for r in rows if not numeric(r)} | set(texts):
        mine = [(i, r) for i, r in enumerate(rows) if r[1] == key and not numeric(r)]
        with_text = [(r[0], i, r[4]) for i, r in mine if r[4] is not None]
        g = texts[key]
        assert g["level"] == TEXT_LEVEL and g["n"] == len(mine)
        assert (g["step_min"], g["step_max"]) == (
            min(r[0] for _, r in mine),
            max(r[0] for _, r in mine),
        )
        assert g["last_text"] == (max(with_text)[2] if with_text else None)


def long_run() -> tuple[str, list[Row]]:
    """A run in at least 4 sealed segments: `loss` every step (a few NaN, one spike), `acc` every 7
    steps, a text metric now and then. Returns its key and its rows."""
    run = flightlog.init(
        project="p", name="long", settings={"segment_rows": 2500, "flush_interval": 0.01}
    )
    history = Path(run.dir) / "history"
    for i in range(12_000):
        if i and i % 3_000 == 0:  # ~3,400 rows since the last seal: wait for this one
            deadline = time.monotonic() + 60
            while len(list(history.glob("*.parquet"))) < i // 3_000:
                assert time.monotonic() < deadline, "the writer sealed no segment in 60 s"
                time.sleep(0.01)
        row: dict[str, Any] = {"loss": math.sin(i / 300) + (40.0 if i == 7_777 else 0.0)}
        if i % 997 == 0:
            row["loss"] = math.nan
        if i % 7 == 0:
            row["acc"] = i / 12_000
        if i % 2_500 == 0:
            row["phase"] = f"phase {i}"
        run.log(row)
    run.finish(quiet=True)
    settled()  # the writer thread seals after finish()
    rows: list[Row] = []
    for path in sorted(history.glob("*.parquet")):
        t = pq.read_table(path)
        cols = ("step", "key", "value", "kind", "text")
        rows += zip(*(t.column(c).to_pylist() for c in cols), strict=True)
    return f"p/{run.id}", rows


def check_exact(table: pa.Table, rows: list[Row], keys: list[str], lo: float, hi: float) -> None:
    """Each bucket exact over the steps it reports; together they hold every row in range."""
    for key in keys:
        got = [r for r in table.to_pylist() if r["key"] == key and r["bucket"] >= 0]
        for a, b in itertools.pairwise(got):
            assert a["x_max"] < b["x_min"] and a["bucket"] < b["bucket"]
        for g in got:
            assert lo <= g["x_min"] <= g["x_max"] <= hi
            want = brute(rows, key, g["x_min"], g["x_max"])
            for col in ("vmin", "vmax", "vlast", "n"):
                assert same(g[col], want[col]), (key, col, g, want)
        assert sum(g["n"] for g in got) == brute(rows, key, lo, hi)["n"]
    texts = {r["key"]: r for r in table.to_pylist() if r["bucket"] == -1}
    if "phase" in keys:  # the text metric: one row, as the rows in range say
        mine = [(r[0], i, r[4]) for i, r in enumerate(rows) if r[1] == "phase" and lo <= r[0] <= hi]
        assert ("phase" in texts) == bool(mine)
        if mine:
            t = texts["phase"]
            assert (t["x_min"], t["x_max"], t["n"]) == (min(mine)[0], max(mine)[0], len(mine))
            assert t["last_text"] == max(mine)[2]


def test_charts_from_pyramids_are_exact_for_any_range(store: Path) -> None:
    run_key, rows = long_run()
    with Index(store) as idx:
        whole = downsample(idx, [run_key], None, buckets=12)
    segments = list(Path(store).glob("runs/p/*/history/*.parquet"))
    assert len(segments) >= 3
    sidecars = [p for p in (store / ".pyramids").rglob("*") if p.is_file()]
    assert len(sidecars) == len(segments)  # built by the first chart
    check_exact(whole, rows, ["loss", "acc", "phase"], 0, 11_999)
    spike = math.sin(7_777 / 300) + 40.0
    assert max(r["vmax"] for r in whole.to_pylist() if r["key"] == "loss") == spike
    phase = next(r for r in whole.to_pylist() if r["key"] == "phase")
    assert (phase["bucket"], phase["n"], phase["last_text"]) == (-1, 5, "phase 10000")

    @settings(max_examples=40, deadline=None)
    @given(
        lo=st.floats(0, 12_000),
        width=st.floats(1, 12_000),
        buckets=st.integers(1, 30),
        keys=st.sampled_from([None, ["loss"], ["acc", "loss"]]),
    )
    def zoomed(lo: float, width: float, buckets: int, keys: list[str] | None) -> None:
        hi = lo + width
        with Index(store) as idx:
            table = downsample(idx, [run_key], keys, buckets=buckets, x_range=(lo, hi))
        check_exact(table, rows, keys or ["loss", "acc", "phase"], lo, hi)

    zoomed()


def test_damaged_or_missing_sidecars_fall_back_to_the_rows(store: Path) -> None:
    run_key, rows = long_run()
    with Index(store) as idx:
        before = downsample(idx, [run_key], None, buckets=10)
        zoomed = downsample(idx, [run_key], None, buckets=6, x_range=(1_000.5, 9_000))
    sidecars = sorted(p for p in (store / ".pyramids").rglob("*") if p.is_file())
    assert len(sidecars) >= 4
    first = sidecars[0].read_bytes()
    data = bytearray(sidecars[1].read_bytes())
    data[len(data) // 4 : len(data) * 3 // 4] = b"\x55" * (len(data) * 3 // 4 - len(data) // 4)
    sidecars[1].write_bytes(bytes(data))  # pages damaged
    sidecars[2].write_bytes(first)  # another segment's sidecar
    sidecars[3].write_bytes(first[: len(first) // 2])  # torn
    sidecars = sidecars[:4]
    sidecars[0].unlink()  # missing
    for damaged in (True, False):
        pyramid.forget_all()  # a new process
        with Index(store) as idx:
            assert downsample(idx, [run_key], None, buckets=10) == before
            again = downsample(idx, [run_key], None, buckets=6, x_range=(1_000.5, 9_000))
            assert again == zoomed
        check_exact(again, rows, ["loss", "acc"], 1_000.5, 9_000)
        if damaged:  # rebuilt from the segments: each names its own segment again
            for p in sidecars:
                meta = pq.read_schema(p).metadata[b"flightlog.pyramid"].decode()
                assert p.name in meta
            # and where none can be written, the charts read the rows
            for p in sidecars:
                p.unlink()
            (store / ".pyramids").rename(store / ".pyramids-gone")
            (store / ".pyramids").write_text("not a directory")
    assert not any((store / ".pyramids-gone").rglob("*.tmp"))


def test_a_long_segment_gets_its_pyramid_when_the_index_first_describes_it(store: Path) -> None:
    run = flightlog.init(project="p", name="big")
    for i in range(pyramid.EAGER_ROWS // 2 + 1):
        run.log({"a": float(i), "b": -float(i)})
    run._writer.flush()  # else finish() may leave a backlog in the journal, sealed later
    run.finish(quiet=True)
    settled()  # the writer thread seals after finish()
    assert not (store / ".pyramids").exists()
    Index(store).close()  # the catch-up describes the sealed segment: one read of its bytes
    (sidecar,) = (p for p in (store / ".pyramids").rglob("*") if p.is_file())
    (segment,) = Path(run.dir).glob("history/*.parquet")
    assert segment.name.split("-")[-1].removesuffix(".parquet") == sidecar.name


def test_a_nan_is_never_a_buckets_min_or_max_in_a_one_segment_run(store: Path) -> None:
    """DuckDB folded isnan() of a Parquet column to false from the file's statistics (which
    skip NaN): the raw query showed a bucket holding a NaN with max NaN."""
    run = flightlog.init(project="p", name="nan")
    for i in range(100):
        run.log({"loss": math.nan if i in (0, 50) else 1.0 + i})
    run.finish(quiet=True)
    with Index(store) as idx:
        for x_range in (None, (0.0, 10.0)):
            table = downsample(idx, [f"p/{run.id}"], ["loss"], buckets=2, x_range=x_range)
            for b in table.to_pylist():
                lo, hi = b["x_min"], b["x_max"]
                finite = [1.0 + i for i in range(lo, hi + 1) if i not in (0, 50)]
                assert (b["vmin"], b["vmax"]) == (min(finite), max(finite))


def _run_with_sidecars(store: Path, name: str) -> tuple[Path, list[Path]]:
    """A finished run and the sidecars of its sealed history segments (built by a read)."""
    run = flightlog.init(project="p", name=name)
    for i in range(50):
        run.log({"loss": float(i)})
    run.finish(quiet=True)
    settled()  # the writer thread seals after finish()
    sidecars = pyramid.Pyramids(pyramid.pyramid_dir(store))
    segments = sorted(Path(run.dir, "history").glob("*.parquet"))
    assert segments and all(sidecars.read(s, LEVELS[0]) is not None for s in segments)
    paths = [sidecars.path(s.name.split("-")[-1].removesuffix(".parquet")) for s in segments]
    assert all(p.is_file() for p in paths)
    return Path(run.dir), paths


def test_doctor_reports_and_repair_removes_sidecars_of_deleted_segments(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, kept = _run_with_sidecars(store, "kept")
    gone_dir, gone = _run_with_sidecars(store, "deleted")
    quarantined_dir, quarantined = _run_with_sidecars(store, "quarantined")
    shutil.rmtree(gone_dir)
    (segment,) = quarantined_dir.glob("history/*.parquet")
    segment.rename(store / "moved-aside.parquet")
    dead = kept[0].with_name(f".{kept[0].name}.dead.tmp")  # a builder killed long ago
    dead.write_bytes(b"half")
    os.utime(dead, (time.time() - 7200, time.time() - 7200))
    live = kept[0].with_name(f".{kept[0].name}.live.tmp")  # being written now
    live.write_bytes(b"half")
    orphans = sorted(str(p.relative_to(store)) for p in [*gone, *quarantined, dead])

    assert main(["doctor"]) == 1
    lines = [ln.split() for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    assert sorted(ln[1].rstrip(":") for ln in lines if ln[0] == "orphan-pyramid") == orphans
    assert main(["doctor", "--repair"]) == 0
    assert not any(p.exists() for p in [*gone, *quarantined, dead])
    assert all(p.is_file() for p in [*kept, live])  # a segment's that exists, one being written
    capsys.readouterr()
    assert main(["doctor"]) == 0
    assert "no problems found" in capsys.readouterr().out


def test_sidecars_built_while_doctor_repairs_are_kept(store: Path) -> None:
    """A real process seals segment after segment (renamed into history/) and stores each
    one's sidecar right after, as the index does, while doctor sweeps orphans in a tight
    loop: no sidecar of a segment that exists is removed (listing segments before sidecars
    removed about half of them, in 3 of 3 tries)."""
    history = store / "runs" / "p" / "r1" / "history"
    history.mkdir(parents=True)
    (history.parent / "run.json").write_text("{}")
    child = spawn(
        f"""
        import hashlib, os
        from pathlib import Path
        from flightlog.store import pyramid
        root = Path({str(store)!r})
        history = root / "runs" / "p" / "r1" / "history"
        sidecars = pyramid.Pyramids(pyramid.pyramid_dir(root))
        levels = pyramid.build([])
        for i in range(1000):
            sha = hashlib.sha256(str(i).encode()).hexdigest()
            tmp = history / f".{{i}}.tmp"
            tmp.write_bytes(b"sealed")
            os.replace(tmp, history / f"abcdefghijklm-{{i:06d}}-{{sha}}.parquet")
            sidecars.store(sha, levels)
        """
    )
    sweeps = 0
    while child.poll() is None or sweeps == 0:
        if sweeps % 50 == 0:  # the whole doctor now and then, its orphan sweep in between
            found = [p.path for p in doctor.check(store) if p.kind == "orphan-pyramid"]
        else:
            found = pyramid_sweep.orphans(store, 3600)
        doctor.repair(store, [doctor.Problem("orphan-pyramid", p, "", "") for p in found])
        sweeps += 1
    assert child.returncode == 0, child.stderr.read() if child.stderr else ""
    built = {p.name for p in (store / ".pyramids").glob("*/*")}
    assert len(built) == 1000
