"""scan_history()'s row dicts, built a block of rows at a time (store/wide.py `row_blocks`,
store/row_dicts.py), are the rows a plain Python reference builds from the logged cells:
the same rows in the same order, the same keys in the same order, the same values of the
same types (None, NaN, ints past 2**53, text), whatever mix of key sets a block holds
(one, a few, one per row; up to 16 keys, up to 64, more), with the row filters
(`min_step`, `max_step`, every key of `every_key`, `keys=`) - and through `Api` on a run
that is still logging (sealed segments, the open one and the journal) and after it ends.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flightlog
from flightlog.store import wide
from flightlog.store.wide import row_blocks
from tests.test_history_threads import LABELS, VALUES, reference_rows, tidy_table

from .conftest import settled

META = ("_step", "_timestamp", "_runtime", "_writer")


@contextmanager
def blocks_of(cells: int) -> Iterator[None]:
    """Row dicts built `cells` cells a block (many blocks, and key sets mixed in each)."""
    before = wide._BLOCK_CELLS
    wide._BLOCK_CELLS = cells
    try:
        yield
    finally:
        wide._BLOCK_CELLS = before


@st.composite
def cells(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """Long rows (step, writer, time, key, value), each (step, writer, key) once, of 1, a
    few, 17 or 70 keys, each key logged in every row, in some, or at random."""
    n_keys = draw(st.sampled_from([1, 3, 17, 70]))
    keys = [f"k{j:02d}" for j in range(n_keys)]
    writers = draw(st.lists(st.sampled_from(LABELS), min_size=1, max_size=2, unique=True))
    steps = sorted(draw(st.sets(st.integers(0, 300), min_size=1, max_size=40)))
    every = [draw(st.sampled_from([1, 1, 2, 5, 0])) for _ in keys]  # 0: at random
    rows = []
    for step in steps:
        for writer in draw(st.lists(st.sampled_from(writers), min_size=1, unique=True)):
            t = 1_700_000_000_000_000 + step * 1000 + LABELS.index(writer)
            logged = [
                k
                for k, e in zip(keys, every, strict=True)
                if (step % e == 0 if e else draw(st.booleans()))
            ]
            for key in logged or keys[:1]:
                rows.append((step, writer, t, key, draw(VALUES)))
    return draw(st.permutations(rows))


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


def same_rows(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    assert [list(d) for d in got] == [list(d) for d in want]
    for g, w in zip(got, want, strict=True):
        assert all(same(g[k], w[k]) for k in w), (g, w)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=cells(),
    cuts=st.lists(st.integers(0, 400), max_size=3),
    dictionaries=st.booleans(),
    block=st.sampled_from([1, 7, 64, 1 << 16]),
    bounds=st.tuples(st.none() | st.integers(0, 300), st.none() | st.integers(0, 300)),
    every_key=st.lists(st.sampled_from(["k00", "k01", "k16"]), max_size=2, unique=True),
)
def test_row_blocks_give_the_rows_a_plain_reference_gives(
    rows: list[tuple[Any, ...]],
    cuts: list[int],
    dictionaries: bool,
    block: int,
    bounds: tuple[int | None, int | None],
    every_key: list[str],
) -> None:
    tidy = tidy_table(rows, cuts, dictionaries)
    want = reference_rows(rows, 5.0)
    with blocks_of(block):
        got = [d for b in row_blocks(tidy, 5.0, None) for d in b]
        same_rows(got, want)
        lo, hi = bounds
        some = [
            d
            for b in row_blocks(tidy, 5.0, None, min_step=lo, max_step=hi, every_key=every_key)
            for d in b
        ]
    same_rows(
        some,
        [
            r
            for r in want
            if (lo is None or r["_step"] >= lo)
            and (hi is None or r["_step"] < hi)
            and all(k in r for k in every_key)
        ],
    )


def flat(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A logged row's keys as they read back: nested dicts' keys joined by dots."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


@st.composite
def logged_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Rows of log() calls: some keys every step, some now and then, nested dicts."""
    rows = []
    for step in range(draw(st.integers(1, 30))):
        row: dict[str, Any] = {"loss": draw(VALUES)}
        if step % 3 == 0:
            row["eval"] = {"acc": draw(VALUES), "deep": {"x": draw(VALUES)}}
        if draw(st.booleans()):
            row["rare"] = draw(VALUES)
        rows.append(row)
    return rows


def check_scan(path: str, logged: list[dict[str, Any]], lo: int | None, hi: int | None) -> None:
    run = flightlog.Api().run(path)
    want = [dict(sorted(flat(r).items())) for r in logged]  # keys in name order
    back = list(run.scan_history(page_size=7))
    assert [r["_step"] for r in back] == list(range(len(logged)))
    same_rows([{k: v for k, v in r.items() if k not in META} for r in back], want)
    assert all(list(r)[:4] == list(META) for r in back)
    picked = list(run.scan_history(keys=["eval.acc"], min_step=lo, max_step=hi))
    steps = [
        i
        for i in range(len(logged))
        if "eval.acc" in want[i] and (lo is None or i >= lo) and (hi is None or i < hi)
    ]
    assert [r["_step"] for r in picked] == steps
    assert all(set(r) == {*META, "eval.acc"} for r in picked)
    assert all(same(r["eval.acc"], want[i]["eval.acc"]) for r, i in zip(picked, steps, strict=True))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    logged=logged_rows(),
    cut=st.integers(0, 30),
    bounds=st.tuples(st.none() | st.integers(0, 30), st.none() | st.integers(0, 30)),
)
def test_scan_history_of_a_running_run_and_of_the_ended_run(
    logged: list[dict[str, Any]], cut: int, bounds: tuple[int | None, int | None]
) -> None:
    """Rows with nested keys, None, NaN and keys missing from some rows, read while the run
    logs (sealed segments, the open one and rows only the journal holds yet), then again
    once finish() returned (its writer thread may still be sealing) and once it is sealed, a
    few rows a block."""
    run = flightlog.init(reinit=True, settings={"segment_rows": 6, "flush_interval": 60})
    for i, row in enumerate(logged):
        if i == cut:
            run._writer.flush()
        run.log(row)
    with blocks_of(5):
        check_scan(run.path, logged, *bounds)
        run.finish(quiet=True)
        check_scan(run.path, logged, *bounds)
        settled()
        check_scan(run.path, logged, *bounds)
