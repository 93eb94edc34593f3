"""The team server's charts read pyramids once its index has described a run's segments,
with every bucket exact; a read request never builds one (its memory bound)."""

from __future__ import annotations

from typing import Any

import pytest

from .servers import LiveServer, segment_file, tidy_table

pytestmark = pytest.mark.slow
STEPS = 150_000  # per segment: 300,000 rows of two keys, a segment the index builds for


def exact(buckets: list[dict[str, Any]], lo: int, hi: int) -> None:
    """Every value logged is its step: a bucket's min is its first step, max and last its
    last, count its width; the buckets of a key cover lo..hi once."""
    for key in ("a", "b"):
        mine = [b for b in buckets if b["key"] == key]
        assert mine[0]["x_min"] == lo and mine[-1]["x_max"] == hi
        for b, after in zip(mine, [*mine[1:], None], strict=True):
            assert (b["vmin"], b["vmax"], b["vlast"]) == (b["x_min"], b["x_max"], b["x_max"])
            assert b["n"] == b["x_max"] - b["x_min"] + 1
            if after is not None:
                assert after["x_min"] == b["x_max"] + 1


def test_server_charts_read_the_pyramids_its_index_built(server: LiveServer) -> None:
    key = server.user("alice")
    with server.client(key) as c:
        c.put_run("alice", "p", "big", {"id": "big", "created_at": 0.0}, [])
        history = server.root / "runs" / "@alice/p" / "big" / "history"
        for seq in (1, 2):
            segment_file(history, tidy_table(STEPS, ("a", "b"), start=(seq - 1) * STEPS), seq=seq)
        before = c.chart("alice", "p", "big", None, buckets=100)
        assert not list(server.root.glob(".pyramids/*/*"))  # a read builds none
        assert before[1]["x_min"] == 3_000  # the rows' buckets: 300,000 steps / 100
        assert [r["id"] for r in c.runs("alice", "p")] == ["big"]  # the index describes it
        assert len(list(server.root.glob(".pyramids/*/*"))) == 2
        after = c.chart("alice", "p", "big", None, buckets=100)
        assert after[1]["x_min"] % 256 == 0 and after[1]["x_min"] != 3_000  # pyramid buckets
        exact(after, 0, 2 * STEPS - 1)
        zoomed = c.chart("alice", "p", "big", ["a", "b"], buckets=50, x_range=(1_000.5, 250_000))
        exact(zoomed, 1_001, 250_000)
