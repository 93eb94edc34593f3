"""The keys route (`GET .../keys?stream=history`, what `run.history_keys` asks through
`Api(host=)`) holds a bounded memory whatever the run's length: it counted the rows (one a
writer and step) with a set of the steps in Python, a byte a step of a writer's range while
dense, eight and more a step when sparse - on the server every account shares, for a run of
10^8 steps, hundreds of MB. The rows are counted in DuckDB within --read-memory-mb."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pyarrow as pa
import pytest

import flightlog
from flightlog.store.history_keys import key_counts
from flightlog.store.schema import segment_schema

from .servers import LiveServer, segment_file, tidy_table

pytestmark = pytest.mark.slow

#: 4,000,000 steps, one every 5th (a metric logged every few steps), in 8 segments
STEPS, STRIDE, SEGMENTS = 4_000_000, 5, 8
READ_MEMORY_MB = 64
#: what the server's peak RSS may grow by: DuckDB's read memory and its own, one segment's
#: columns, and what the allocators keep (133-161 MB seen; the previous count grew it by
#: 327-333 MB, 80 bytes a step, more the longer the run)
RSS_BOUND_MB = 200


def _strided(first: int, steps: int) -> pa.Table:
    t = tidy_table(steps, start=first)
    return t.set_column(0, "step", pa.compute.multiply(t.column("step"), STRIDE))


def test_counting_a_long_runs_keys_takes_bounded_memory(
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server(flags=("--read-memory-mb", str(READ_MEMORY_MB)))
    key = server.user("alice")
    h = {"Authorization": f"Bearer {key}"}
    per = STEPS // SEGMENTS
    with server.client(key) as c:
        for run_id, tables in (
            ("tiny", [_strided(0, 10)]),
            ("long", [_strided(i * per, per) for i in range(SEGMENTS)]),
        ):
            c.put_run("alice", "p", run_id, {"id": run_id, "created_at": 0.0}, [])
            history = server.root / "runs" / "@alice/p" / run_id / "history"
            for seq, t in enumerate(tables, 1):
                segment_file(history, t, seq=seq)
    url = f"{server.url}/api/v1/runs/alice/p"
    # every read path warmed up (DuckDB's first query costs ~40 MB once) before measuring
    tiny = httpx.get(f"{url}/tiny/keys", headers=h, timeout=120)
    assert tiny.json()["rows"] == 10, tiny.text
    before = server.reset_peak()
    got = httpx.get(f"{url}/long/keys", headers=h, timeout=600)
    grew = server.peak_mb() - before
    print(f"keys of a {STEPS:,}-step run: peak RSS +{grew:.1f} MB")
    assert got.status_code == 200, got.text
    assert got.json() == {
        "last_step": (STEPS - 1) * STRIDE,
        "rows": STEPS,
        "kinds": [["loss", 0, STEPS]],
        "media": [],
    }
    assert grew < RSS_BOUND_MB, f"the server's peak RSS grew by {grew:.0f} MB"


def test_the_rows_counted_are_one_a_writer_label_and_step(server: LiveServer) -> None:
    """Two writers under one label (a job requeued under its label) logging the same steps
    make one row a step, as `history()` shows them; another label its own rows: the server
    counts as the local fold does."""
    key = server.user("alice")
    with server.client(key) as c:
        c.put_run("alice", "p", "shared", {"id": "shared", "created_at": 0.0}, [])
    history = server.root / "runs" / "@alice/p/shared/history"
    for writer, label, first, steps in (("w1", "a", 0, 10), ("w2", "a", 5, 10), ("w3", "b", 0, 5)):
        t = tidy_table(steps, ("loss", "acc"), writer=writer, start=first)
        segment_file(
            history,
            t.replace_schema_metadata(segment_schema(writer, label).metadata),
            writer=writer,
        )
    with server.client(key) as c:
        doc = c.answer(c.request("GET", "/runs/alice/p/shared/keys"))
    assert doc["rows"] == 15 + 5 == key_counts(history).rows
    assert doc == key_counts(history).answer()


def test_a_run_of_more_keys_than_the_server_counts_is_refused_saying_so(
    server: LiveServer,
) -> None:
    """Each key's counts are held (and answered) whole: a run of millions of keys took as
    many Python strings and counters of the server's memory. Past 100,000, 413 naming the
    bound and what to read instead, through the route and `run.history_keys` alike."""
    key = server.user("alice")
    with server.client(key) as c:
        c.put_run("alice", "p", "wide", {"id": "wide", "created_at": 0.0}, [])
    history = server.root / "runs" / "@alice/p/wide/history"
    segment_file(history, tidy_table(1, tuple(f"k{i}" for i in range(100_001))))
    with server.client(key) as c:
        r = c._http.get("/runs/alice/p/wide/keys")
    assert r.status_code == 413 and r.json()["error"] == "too_large", r.text
    assert "more than 100,000 keys" in r.json()["message"]
    with pytest.raises(Exception, match="more than 100,000 keys"):
        _ = flightlog.Api(host=server.url, api_key=key).run("alice/p/wide").history_keys
