"""The upload check's fast path (sync/segment_check.py `_numbers_only`): a batch it lets
through without the full value check is one the full check accepts, whatever its rows."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from flightlog.store.schema import HISTORY_SCHEMA, validate_history_values
from flightlog.sync.segment_check import _numbers_only

ROW = st.tuples(
    st.sampled_from([0, 1, 2, 3, 5, 6, 7, 9, -1]),  # kinds, known and not
    st.one_of(st.none(), st.floats(allow_nan=True)),  # value
    st.one_of(st.none(), st.sampled_from(["12", "x", "[1]", '{"counts": [], "bins": []}'])),
)


def batch(rows: list[tuple[int, float | None, str | None]]) -> pa.RecordBatch:
    n = len(rows)
    return pa.record_batch(
        [
            pa.array(range(n), pa.int64()),
            pa.array([0] * n, pa.timestamp("us", "UTC")),
            pa.array(["k"] * n).dictionary_encode(),
            pa.array([v for _, v, _ in rows], pa.float64()),
            pa.array([k for k, _, _ in rows], pa.int8()),
            pa.array([t for _, _, t in rows], pa.string()).dictionary_encode(),
        ],
        names=HISTORY_SCHEMA.names,
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(ROW, max_size=12))
def test_the_fast_path_passes_only_what_the_full_check_passes(rows):
    b = batch(rows)
    if _numbers_only(b):
        validate_history_values(b)  # must not raise


def test_the_fast_path_takes_the_usual_segment_and_leaves_the_rest():
    assert _numbers_only(batch([(0, 1.0, None), (1, 2.0, None), (2, 1.0, None)]))
    assert not _numbers_only(batch([(0, 1.0, None), (3, None, "text")]))
    assert not _numbers_only(batch([(2, None, None)]))  # a bool without its value
    assert not _numbers_only(batch([(9, 1.0, None)]))  # an unknown kind
