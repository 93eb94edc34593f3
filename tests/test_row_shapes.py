"""Rows that nest dicts and hold numpy scalars, logged again and again in the same shape, read
back exactly as the first of their shape: the shape plans of flightlog/_shapes.py give what
`normalize` gives, value for value and type for type, or step aside."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flightlog
from flightlog._values import normalize

NUMPY = [np.float32, np.float64, np.int64, np.int32, np.bool_]
leaf = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.integers(-(2**40), 2**40),
    st.booleans(),
    st.text(max_size=5),
    st.none(),
)
names = st.sampled_from(["a", "b", "c", "loss", "lr"])


@st.composite
def numpy_or_plain(draw: st.DrawFn) -> Any:
    v = draw(leaf)
    kind = draw(st.sampled_from(["plain", *range(len(NUMPY))]))
    if kind == "plain" or isinstance(v, str) or v is None:
        return v
    t = NUMPY[kind]
    if t is np.bool_:
        return np.bool_(bool(v))
    if t in (np.int64, np.int32):
        return t(int(v) % 2**31 if not isinstance(v, float) or math.isfinite(v) else 0)
    return t(v)


rows = st.dictionaries(
    names, st.one_of(numpy_or_plain(), st.dictionaries(names, numpy_or_plain(), max_size=3))
).filter(lambda r: normalize(r, {})[0] != {})  # a row of no values logs nothing


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shapes=st.lists(rows, min_size=1, max_size=4), order=st.lists(st.integers(0, 3), max_size=30)
)
def test_rows_of_a_seen_shape_read_back_as_normalize_makes_them(
    shapes: list[dict[str, Any]], order: list[int]
) -> None:
    logged = [shapes[i % len(shapes)] for i in [0, *order]]
    run = flightlog.init(reinit=True, settings={"stats_interval": 0, "console": "off"})
    for row in logged:
        run.log(row)
    run.finish(quiet=True)
    back = list(flightlog.Api().run(run.path).scan_history())
    assert len(back) == len(logged)
    for got, row in zip(back, logged, strict=True):
        want = normalize(row, {})[0]
        got = {k: v for k, v in got.items() if not k.startswith("_")}
        want = {k: v for k, v in want.items() if v is not None}
        got = {k: v for k, v in got.items() if v is not None}
        assert set(got) == set(want)
        assert all(same(got[k], want[k]) for k in want), (got, want)
