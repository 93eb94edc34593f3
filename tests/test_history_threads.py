"""history() and scan_history() give the same rows when their pivot works on two threads.

Long reads split the pivot's passes over the long rows between the calling thread and a
helper (store/two_threads.py) from MIN_ROWS rows on, and read a run's files two at a time
from MIN_BYTES on; these tests lower both so that every pass and every read of two files or
more here is split, and compare with a straightforward reference and with the same read on
one thread.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flightlog
from flightlog.store import two_threads
from flightlog.store.layout import RunPaths
from flightlog.store.reader import StoredRun
from flightlog.store.schema import encode_value
from flightlog.store.wide import pivot, row_blocks
from tests.conftest import cli, settled
from tests.test_history_read import META, check_reads, runs

LABELS = ["vm:9876", "vm:10351", "gpu-2:77"]
VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**60), 2**60),
    st.booleans(),
    st.none(),
    st.text(max_size=4),
)


@contextmanager
def split_at(rows: int) -> Iterator[None]:
    """Reads of `rows` long rows or more split their passes over two threads, and read
    their files two at a time whatever their size."""
    before = two_threads.MIN_ROWS, two_threads.MIN_BYTES
    two_threads.MIN_ROWS, two_threads.MIN_BYTES = rows, 0 if rows < 10**9 else 10**18
    try:
        yield
    finally:
        two_threads.MIN_ROWS, two_threads.MIN_BYTES = before


@st.composite
def long_rows(draw: st.DrawFn) -> tuple[list[tuple[Any, ...]], bool]:
    """Long rows (step, writer, time, key, value) of up to 3 writers, in any order, steps
    dense or sparse; with `repeats`, a (step, writer, key) may be logged more than once."""
    writers = draw(st.lists(st.sampled_from(LABELS), min_size=1, max_size=3, unique=True))
    keys = draw(st.lists(st.sampled_from(["a", "b", "c/d", "é", "z"]), min_size=1, unique=True))
    steps = draw(st.lists(st.integers(0, 10**12), min_size=1, max_size=8, unique=True))
    if draw(st.booleans()):  # dense: every step from one to another
        steps = list(range(steps[0] % 1000, steps[0] % 1000 + len(steps)))
    cells = draw(
        st.lists(
            st.tuples(st.sampled_from(steps), st.sampled_from(writers), st.sampled_from(keys)),
            min_size=1,
            max_size=40,
            unique=True,
        )
    )
    repeats = draw(st.booleans())
    if repeats:
        cells += draw(st.lists(st.sampled_from(cells), max_size=5))
    rows = []
    for step, writer, key in cells:  # one time per (step, writer): when the row was logged
        t = 1_700_000_000_000_000 + step % 10**6 * 1000 + LABELS.index(writer)
        rows.append((step, writer, t, key, draw(VALUES)))
    return rows, repeats


def tidy_table(rows: list[tuple[Any, ...]], cuts: list[int], dictionaries: bool) -> pa.Table:
    """The long table of `rows`, in chunks cut at `cuts`, keys and writers as dictionaries
    (each chunk its own, as files give them) or as plain strings."""
    parts = []
    bounds = [0, *sorted(c % (len(rows) + 1) for c in cuts), len(rows)]
    for a, b in pairwise(bounds):
        part = rows[a:b]
        encoded = [encode_value(r[4]) for r in part]
        table = pa.table(
            {
                "step": pa.array([r[0] for r in part], pa.int64()),
                "time": pa.array([r[2] for r in part], pa.timestamp("us", tz="UTC")),
                "key": pa.array([r[3] for r in part], pa.string()),
                "value": pa.array([e[0] for e in encoded], pa.float64()),
                "kind": pa.array([e[1] for e in encoded], pa.int8()),
                "text": pa.array([e[2] for e in encoded], pa.string()),
                "writer": pa.array([r[1] for r in part], pa.string()),
            }
        )
        if dictionaries:
            for name in ("key", "writer"):
                i = table.schema.get_field_index(name)
                table = table.set_column(i, name, pc.dictionary_encode(table.column(name)))
        parts.append(table)
    return pa.concat_tables(parts)


def reference_rows(rows: list[tuple[Any, ...]], created_at: float) -> list[dict[str, Any]]:
    """scan_history()'s rows, the plain way: a dict per (step, writer), writers in the order
    they started logging, keys in sorted order after the `_` ones, each key's last value."""
    first = {}
    for _, writer, t, _, _ in rows:
        first[writer] = min(first.get(writer, t), t)
    order = {w: i for i, w in enumerate(sorted(first, key=lambda w: (first[w], w)))}
    out: dict[tuple[int, int], dict[str, Any]] = {}
    for step, writer, t, key, value in rows:
        row = out.setdefault((step, order[writer]), {})
        row.update(_step=step, _timestamp=t / 1e6, _runtime=t / 1e6 - created_at)
        row.update(_writer=writer)
        row[key] = value
    meta = ["_step", "_timestamp", "_runtime", "_writer"]
    return [{k: out[r][k] for k in meta + sorted(set(out[r]) - set(meta))} for r in sorted(out)]


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


def scan(tidy: pa.Table, **only: Any) -> list[dict[str, Any]]:
    return [d for block in row_blocks(tidy, 5.0, None, **only) for d in block]


# a cell logged twice, an int then None (no log() call does that), casts NaN to int: the
# one-thread read's warning, the same on both
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
@settings(max_examples=150, deadline=None)
@given(
    data=long_rows(),
    cuts=st.lists(st.integers(0, 100), max_size=4),
    dictionaries=st.booleans(),
    bounds=st.tuples(st.none() | st.integers(0, 1100), st.none() | st.integers(0, 1100)),
)
def test_a_pivot_on_two_threads_gives_the_rows_and_table_of_one_thread(
    data: tuple[list[tuple[Any, ...]], bool],
    cuts: list[int],
    dictionaries: bool,
    bounds: tuple[int | None, int | None],
) -> None:
    rows, repeats = data
    tidy = tidy_table(rows, cuts, dictionaries)
    with split_at(10**9):
        alone, alone_rows = pivot(tidy, 5.0), scan(tidy)
        alone_some = scan(tidy, min_step=bounds[0], max_step=bounds[1], every_key=["a"])
    with split_at(2):
        split, split_rows = pivot(tidy, 5.0), scan(tidy)
        split_some = scan(tidy, min_step=bounds[0], max_step=bounds[1], every_key=["a"])
    assert split.schema.equals(alone.schema, check_metadata=True)
    assert split.num_rows == alone.num_rows
    for c in alone.column_names:
        got, want = split.column(c).to_pylist(), alone.column(c).to_pylist()
        assert all(map(same, got, want)), c
    for got, want in ((split_rows, alone_rows), (split_some, alone_some)):
        assert [list(d) for d in got] == [list(d) for d in want]
        assert all(same(g[k], w[k]) for g, w in zip(got, want, strict=True) for k in g)
    if not repeats:  # with repeats, which value wins is the one-thread read's rule
        want = reference_rows(rows, 5.0)
        assert [list(d) for d in split_rows] == [list(d) for d in want]
        assert all(same(g[k], w[k]) for g, w in zip(split_rows, want, strict=True) for k in g)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logged=runs(), data=st.data())
def test_runs_read_on_two_threads_read_back_as_logged(
    logged: list[dict[str, Any]], data: st.DataObject
) -> None:
    """Sealed segments, the open one and the journal, read while the run logs and after."""
    run = flightlog.init(reinit=True, settings={"segment_rows": 6, "flush_interval": 60})
    cut = data.draw(st.integers(0, len(logged)))
    for i, row in enumerate(logged):
        if i == cut:
            run._writer.flush()
        run.log(row)
    keys = sorted({k for row in logged for k in row})
    subset = data.draw(st.lists(st.sampled_from(keys), min_size=1, max_size=2, unique=True))
    with split_at(2):
        check_reads(run.path, logged, subset)
        run.finish(quiet=True)
        check_reads(run.path, logged, subset)


def test_a_short_read_starts_no_thread(tmp_path: Path) -> None:
    """A 100-step history() and scan_history() are read on the calling thread: no helper
    thread is started for them (in a fresh process, where none was started before)."""
    script = f"""
import threading, flightlog
run = flightlog.init(project="p", dir={str(tmp_path)!r}, mode="offline")
for i in range(100):
    run.log({{"loss": 1.0 / (i + 1), "acc": i}})
run.finish(quiet=True)
read = flightlog.Api(dir={str(tmp_path)!r}).run(run.path)
assert read.history().num_rows == 100 and len(list(read.scan_history())) == 100
print(sorted(t.name for t in threading.enumerate() if "read-helper" in t.name))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_files_read_two_at_a_time_still_skip_a_corrupt_one_with_a_warning(api) -> None:
    """Four sealed segments read two at a time: the corrupt one is named in a warning given
    to the reader, and the rows of the other three come back in order."""
    run = flightlog.init(project="p", settings={"segment_rows": 10})
    for i in range(40):
        if i and i % 10 == 0:
            run._writer.flush()  # the segment is full: it rotates (and seals) before row i
        run.log({"i": i})
    run.finish(quiet=True)
    settled()  # the writer thread seals after finish()
    segs = sorted((Path(run.dir) / "history").glob("*.parquet"))
    assert len(segs) == 4
    segs[2].write_bytes(b"this is not parquet")
    with split_at(2), pytest.warns(UserWarning, match=segs[2].name):
        rows = [r["i"] for r in api.run(run.path).scan_history()]
    assert rows == [*range(20), *range(30, 40)]


def test_history_of_some_keys_has_columns_for_those_keys_only(store: Path) -> None:
    """A sealed file's dictionary of keys names every key of the row groups read; the keys
    asked for are the only ones that get a column (`flightlog export --keys` wrote a
    column of nulls for every other key of the file)."""
    run = flightlog.init(project="p")
    for i in range(5):
        run.log({"a": float(i), "b": i, "c": "x"})
    run.finish(quiet=True)
    settled()  # the writer thread seals after finish()
    assert any((Path(run.dir) / "history").glob("*.parquet"))
    stored = StoredRun.load(RunPaths(Path(run.dir)))
    assert stored is not None
    assert stored.history(keys=["a"]).column_names == [*META, "a"]
    assert [sorted(r) for r in stored.scan_history(keys=["b"])] == [sorted([*META, "b"])] * 5
    res = cli("export", run.id, "--root", str(store), "--keys", "a", "--format", "csv")
    assert res.returncode == 0, res.stderr
    header, *rows = res.stdout.splitlines()
    assert header.replace('"', "").split(",") == [*META, "a"]
    assert len(rows) == 5


def test_rows_of_keys_not_asked_for_still_get_their_columns() -> None:
    """A reader handing over rows of other keys too (one that ignores `keys=`) loses none of
    them to the narrower list of names: they are pivoted as a read of every key."""
    rows = [(0, "w", 1, "a", 1.0), (0, "w", 1, "b", 2.0), (1, "w", 2, "a", 3.0)]
    tidy = tidy_table(rows, [], dictionaries=True)
    table = pivot(tidy, 0.0, ["a"])
    assert table.column_names == [*META, "a", "b"]
    assert table.column("b").to_pylist() == [2.0, None]
    only_a = tidy.filter(pc.equal(tidy.column("key").cast(pa.string()), "a"))
    assert pivot(only_a, 0.0, ["a"]).column_names == [*META, "a"]
