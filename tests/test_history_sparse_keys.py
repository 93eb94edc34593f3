"""scan_history() of a run that logs new keys as it goes: read in pieces of steps, each with
the keys it holds (one grid of every key by every row made 10,000 rows with a new key each
take 8.5 s, and 30,000 keys minutes and gigabytes). The rows must be exactly those logged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flightlog
from flightlog.store import step_pieces

VALUE = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(-(2**40), 2**40),
    st.text(max_size=5),
    st.none(),
    st.booleans(),
)

#: each row: (keys from a pool that grows, the row's value) — new keys appear as steps go
ROWS = st.lists(
    st.tuples(st.lists(st.integers(0, 3), min_size=1, max_size=3, unique=True), VALUE),
    min_size=1,
    max_size=60,
)


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pieces from a handful of rows on, so that a test run of tens of rows is cut."""
    monkeypatch.setattr(step_pieces, "SPARSE_ROWS", 4)
    monkeypatch.setattr(step_pieces, "SPARSE_CELLS", 8)
    monkeypatch.setattr(step_pieces, "SPARSE_DENSITY", 0)


def logged_rows(spec: list[tuple[list[int], Any]]) -> list[dict[str, Any]]:
    """Row i logs keys named after i (new ones) and a few shared ones, each the row's value."""
    rows = []
    for i, (picks, value) in enumerate(spec):
        row = {f"k{i - p}": value for p in picks if i - p >= 0}
        row["shared"] = float(i)
        rows.append(row)
    return rows


def without_meta(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=ROWS)
def test_rows_read_in_pieces_are_the_rows_logged(
    store: Path, small_pieces: None, spec: list[tuple[list[int], Any]]
) -> None:
    rows = logged_rows(spec)
    run = flightlog.init(project="p", reinit="create_new")
    for row in rows:
        run.log(row)
    run.finish(quiet=True)
    read = flightlog.Api(store).run(f"p/{run.id}")
    got = list(read.scan_history())
    assert [r["_step"] for r in got] == list(range(len(rows)))
    assert [without_meta(r) for r in got] == rows
    middle = len(rows) // 2
    assert [without_meta(r) for r in read.scan_history(min_step=middle)] == rows[middle:]
    assert [without_meta(r) for r in read.scan_history(keys=["k0"])] == [
        {"k0": r["k0"]} for r in rows if "k0" in r
    ]


def test_a_new_key_every_row_reads_each_row_once(store: Path) -> None:
    """Past the real thresholds: 5,000 rows, each with a key of its own."""
    run = flightlog.init(project="p")
    for i in range(5000):
        run.log({"loss": 1.0 / (i + 1), f"k{i}": i})
    run.finish(quiet=True)
    rows = list(flightlog.Api(store).run(f"p/{run.id}").scan_history())
    assert [without_meta(r) for r in rows] == [
        {"loss": 1.0 / (i + 1), f"k{i}": i} for i in range(5000)
    ]
