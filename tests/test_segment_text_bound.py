"""The upload check's bound on decoded text (sync/segment_check.py `_check_batches`): a
segment is refused when the exact decoded size of its keys and texts passes the limit -
and only then, at the same batch, with the same figure - though the exact sum is only
taken once a cheap upper bound (longest string times rows) passes the limit."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flightlog.store.schema import HISTORY_SCHEMA
from flightlog.sync import segment_check
from flightlog.sync.limits import SegmentLimits
from flightlog.sync.refused import Refused

WORDS = st.text(alphabet="abcé€😀", max_size=12)
ROW = st.tuples(WORDS, st.one_of(st.none(), WORDS))  # (key, text: None for a float row)


def segment(rows: list[tuple[str, str | None]]) -> bytes:
    n = len(rows)
    table = pa.table(
        [
            pa.array(range(n), pa.int64()),
            pa.array([0] * n, pa.timestamp("us", "UTC")),
            pa.array([k for k, _ in rows], pa.string()),
            pa.array([None if t is not None else 1.0 for _, t in rows], pa.float64()),
            pa.array([3 if t is not None else 0 for _, t in rows], pa.int8()),
            pa.array([t for _, t in rows], pa.string()),
        ],
        schema=HISTORY_SCHEMA,
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def expected(rows: list[tuple[str, str | None]], batch: int, limit: int) -> int | None:
    """The exact running size at the first batch that passes `limit` (None: accepted)."""
    total = 0
    for start in range(0, len(rows), batch):
        for key, text in rows[start : start + batch]:
            total += len(key.encode()) + len((text or "").encode())
        if total > limit:
            return total
    return None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(ROW, min_size=1, max_size=40),
    st.integers(min_value=1, max_value=9),
    st.integers(min_value=0, max_value=600),
)
def test_refused_exactly_when_and_where_the_exact_sum_passes_the_limit(rows, batch, limit):
    body = segment(rows)
    want = expected(rows, batch, limit)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(segment_check, "BATCH_ROWS", batch)
        limits = SegmentLimits(text=limit)
        if want is None:
            segment_check.check_segment_file(body, "w", limits)
        else:
            with pytest.raises(Refused, match=f"decodes to {want:,} bytes of text"):
                segment_check.check_segment_file(body, "w", limits)
