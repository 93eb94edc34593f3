"""Property tests: whatever is logged is what is read back, for any keys and values."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flightlog

keys = st.text(min_size=1, max_size=20).filter(
    lambda k: k not in ("_step", "_timestamp", "_runtime", "_writer")
)
scalars = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.booleans(),
    st.text(max_size=30),
    st.none(),
)
rows = st.lists(st.dictionaries(keys, scalars, min_size=1, max_size=6), min_size=1, max_size=25)


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logged=rows)
def test_logged_rows_read_back_equal(logged: list[dict[str, Any]]) -> None:
    run = flightlog.init(reinit=True, settings={"flush_interval": 0.01})
    for row in logged:
        run.log(row)
    run.finish(quiet=True)
    back = list(flightlog.Api().run(run.path).scan_history())
    assert [r["_step"] for r in back] == list(range(len(logged)))
    for want, got in zip(logged, back, strict=True):
        got = {
            k: v for k, v in got.items() if k not in ("_step", "_timestamp", "_runtime", "_writer")
        }
        assert got.keys() == want.keys()
        for k in want:
            assert same(want[k], got[k]), (k, want[k], got[k])


@settings(max_examples=30, deadline=None)
@given(logged=rows)
def test_wide_history_holds_every_logged_number(logged: list[dict[str, Any]]) -> None:
    run = flightlog.init(reinit=True)
    for row in logged:
        run.log(row)
    run.finish(quiet=True)
    table = flightlog.Api().run(run.path).history()
    assert table.num_rows == len(logged)
    for i, row in enumerate(logged):
        for k, v in row.items():
            cell = table.column(k)[i].as_py()
            if v is None:
                assert cell is None
            elif isinstance(v, str) or isinstance(cell, str):
                assert cell == str(v) or cell == v
            elif isinstance(v, float) and math.isnan(v):
                assert math.isnan(cell)
            else:
                assert cell == v or math.isclose(cell, v)
