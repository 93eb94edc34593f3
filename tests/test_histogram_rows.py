"""Histogram rows on the fast road: stored and read back exactly as before.

log() stores a histogram's numbers as words in the journal (store/packed_rows.py) and bins a
numpy array with numpy alone (flightlog/_histogram.py); the text the writer thread makes, and
what readers see, must be what printing the histogram in log() made.
"""

from __future__ import annotations

import json
import math
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import flightlog
from flightlog import Histogram
from flightlog._values import to_scalar
from flightlog.store import inserted_rows, rows
from flightlog.store.journal import (
    GENERIC,
    PACKED,
    REC_DTYPE,
    JournalDamaged,
    JournalFile,
    JournalSnapshot,
)
from flightlog.store.packed_rows import PRINT_SLICE, journal_blob, tidy_values
from flightlog.store.rows import journal_tail
from flightlog.store.schema import encode_value, segment_schema

from .conftest import python_script

any_float = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)
any_int = st.integers(-(2**70), 2**70)


@st.composite
def histograms(draw: st.DrawFn) -> Histogram:
    counts = draw(st.lists(any_int, min_size=1, max_size=70))
    bins = draw(st.lists(any_float, min_size=len(counts) + 1, max_size=len(counts) + 1))
    h = Histogram(np_histogram=([0] * len(counts), [0.0] * (len(counts) + 1)))
    h.counts, h.bins = counts, bins  # any values someone may set, not only what numpy makes
    if draw(st.booleans()):  # ints among the bins, bools among the counts: printed as such
        h.bins[0] = draw(st.integers(-5, 5))
        h.counts[-1] = draw(st.booleans())
    return h


values = st.one_of(histograms(), any_float, any_int, st.booleans(), st.text(), st.none())


def expected(row: dict[str, Any]) -> list[list[Any]]:
    """What the journal held before: the row's tidy values as JSON."""
    return json.loads(json.dumps([[k, *encode_value(v)] for k, v in row.items()]))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(min_size=1), values, min_size=1, max_size=6))
def test_a_packed_row_reads_back_as_its_json_did(row: dict[str, Any]) -> None:
    code, data = journal_blob(row)
    data += b" " * (-len(data) % 8)  # as the journal pads it
    packs = any(isinstance(v, Histogram) and v.journal_words() is not None for v in row.values())
    assert code == (PACKED if packs else GENERIC)
    got = tidy_values(code, data)
    want = expected(row)
    assert json.dumps(got) == json.dumps(want)  # the same text, NaN and -0.0 included


def test_a_packed_row_cut_short_is_refused_as_damage() -> None:
    h = Histogram(np_histogram=np.histogram(np.arange(10), bins=2))  # numpy's are packed
    code, data = journal_blob({"h": h, "x": 1.0})
    assert code == PACKED
    for cut in (4, len(data) - 8):
        with pytest.raises((ValueError, IndexError)):
            tidy_values(code, data[:cut])


def test_a_journal_row_of_an_unknown_kind_is_damage_not_a_silent_gap(tmp_path: Path) -> None:
    """A row whose kind this version does not know (a later version's) may hold what a user
    logged: a reader says so instead of leaving it out."""
    path = tmp_path / "w-j000001.journal"
    j = JournalFile(path, 1, {"writer": "w", "label": "", "jseq": 1}, 16, 1024)
    code, data = journal_blob({"x": "a"})
    j.append_blob(0, 1.0, code, data)
    j.append_blob(1, 2.0, PACKED - 1, data)
    j.close()
    with pytest.raises(JournalDamaged, match="kind this version does not know"):
        journal_tail(JournalSnapshot.read(path), None)


dtypes = [np.float64, np.float32, np.float16, np.int64, np.int8, np.uint64]
arrays = st.sampled_from(dtypes).flatmap(
    lambda dtype: hnp.arrays(
        dtype=dtype,
        shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=12),
        elements=hnp.from_dtype(np.dtype(dtype), min_value=0, max_value=100),
    )
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(arrays)
def test_numpy_arrays_become_the_list_or_histogram_their_numbers_make(a: np.ndarray) -> None:
    got = to_scalar("w", a)
    numbers = a.ravel().tolist()  # the Python numbers, as log() used to walk them
    if len(numbers) <= 32:
        assert json.dumps(got) == json.dumps(numbers)  # NaN is NaN
        assert [type(x) for x in got] == [type(x) for x in numbers]
    else:
        want = Histogram(numbers)
        assert isinstance(got, Histogram)
        assert got.counts == want.counts
        assert json.dumps(got.bins) == json.dumps(want.bins)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # numpy's, about np.matrix
def test_a_numpy_matrix_is_flattened_as_before() -> None:
    assert to_scalar("m", np.matrix([[1, 2], [3, 4]])) == [1, 2, 3, 4]


def test_nan_and_infinity_in_an_array_are_left_out_as_before() -> None:
    a = np.array([np.nan, np.inf, -np.inf, *range(40)], np.float32)
    got = to_scalar("w", a)
    assert got == Histogram(a.tolist()) and sum(got.counts) == 40


@pytest.mark.parametrize(
    "values", [[2.0**50] * 40, [1e308] * 40, [1e308, -1e308] * 20, list(range(2**62, 2**62 + 40))]
)
def test_arrays_numpy_cannot_split_into_64_bins_still_log(values: list[float]) -> None:
    """np.histogram raises ValueError for these ("Too many bins for data range"): log() did
    too, and a training script died of a valid array."""
    run = flightlog.init()
    run.log({"w": np.array(values), "l": values})
    run.finish(quiet=True)
    (row,) = flightlog.Api().run(run.path).scan_history()
    for h in (row["w"], row["l"]):
        assert sum(h.counts) == len(values) and len(h.bins) == 65
        assert h.bins[0] <= min(values) and h.bins[-1] >= max(values)
        assert all(math.isfinite(b) for b in h.bins)


def test_arrays_of_other_kinds_are_refused_as_before() -> None:
    with pytest.raises(TypeError, match="'w' is a sequence holding bool"):
        to_scalar("w", np.ones(40, bool))
    with pytest.raises(TypeError, match="'w' is a sequence holding complex"):
        to_scalar("w", np.ones(40, complex))


def test_histogram_rows_in_the_journal_survive_kill_9() -> None:
    """Rows whose log() returned are read back from the journal after a kill -9, before any
    segment holds them (the writer ticks once a minute), their histograms as logged."""
    out = python_script(
        """
        import os, signal, numpy as np, flightlog
        run = flightlog.init(project="h", id="k", settings={"flush_interval": 60,
                             "console": "off", "stats_interval": 0})
        rng = np.random.default_rng(0)
        for i in range(50):
            run.log({"w": rng.normal(size=1000).astype(np.float32), "i": i, "s": "x",
                     "h": flightlog.Histogram(np_histogram=([i, 1], [-0.0, 0.5, 1e300]))})
        print("logged", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    assert out.returncode == -signal.SIGKILL and "logged" in out.stdout, out.stderr
    rows = list(flightlog.Api().run("h/k").scan_history())
    rng = np.random.default_rng(0)
    assert [r["i"] for r in rows] == list(range(50))
    for i, r in enumerate(rows):
        want = Histogram(rng.normal(size=1000).astype(np.float32).tolist())
        assert r["w"] == want and r["s"] == "x"
        assert r["h"].counts == [i, 1] and r["h"].bins == [0.0, 0.5, 1e300]
        assert math.copysign(1, r["h"].bins[0]) == -1  # -0.0 stays -0.0


@pytest.mark.parametrize("slow", [True, False])
def test_histogram_rows_are_printed_a_slice_of_time_between_pauses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slow: bool
) -> None:
    """The writer thread holds the GIL while it prints histograms: it hands it back (the
    pause) once it has printed for PRINT_SLICE, and before the batch's numpy work, in a
    batch as large as rows without histograms make; every row kept, in order. Histograms
    that take the slice to print each get a pause (eight at a stretch held the GIL up to
    0.24 ms); quick ones share one."""
    path = tmp_path / "w-j000001.journal"
    j = JournalFile(path, 1, {"writer": "w", "label": "", "jseq": 1}, 256, 1 << 16)
    for step in range(100):
        h = Histogram(np_histogram=([step, 1], [0.0, 0.5, 1.0]))
        row = {"h": h, "x": float(step)} if step % 3 else {"x": float(step)}
        j.append_blob(step, 1.0, *journal_blob(row))
    j.close()
    printed: list[int] = []  # histograms printed, at each pause
    count = [0]

    def counting(sid: int, blob: bytes) -> list[list[Any]]:
        count[0] += sid == PACKED
        if slow and sid == PACKED:  # a histogram as long to print as the slice
            start = time.perf_counter()
            while time.perf_counter() - start < PRINT_SLICE:
                pass
        return tidy_values(sid, blob)

    monkeypatch.setattr(inserted_rows, "tidy_values", counting)
    if not slow:  # (however busy the machine)
        monkeypatch.setattr(inserted_rows, "PRINT_SLICE", 60.0)
    snap = JournalSnapshot.read(path)
    records = np.frombuffer(snap.records, REC_DTYPE)
    words = np.frombuffer(snap.data, np.float64)
    table = rows.table_from_defines(records, snap.data)
    batches = list(
        rows.journal_batches(
            records,
            words,
            snap.data,
            0,
            table,
            segment_schema("w", ""),
            pause=lambda: printed.append(count[0]),
        )
    )
    assert len(batches) == 1 and count[0] == 66
    assert printed == ([*range(1, 67)] if slow else [66])
    batch = batches[0][0]
    steps = batch.column("step").to_pylist()
    assert steps == sorted(steps) and sorted(set(steps)) == list(range(100))
    texts = [t for t in batch.column("text").to_pylist() if t is not None]
    want = [Histogram(np_histogram=([s, 1], [0.0, 0.5, 1.0])) for s in range(100) if s % 3]
    assert texts == [json.dumps(h.to_json()) for h in want]
