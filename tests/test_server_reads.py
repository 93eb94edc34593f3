"""Reads with bounded memory: history in pages (JSON) or streamed (Arrow), charts as
buckets computed in DuckDB, run listings in pages - whatever the run's size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flightlog.store.layout import RunPaths
from flightlog.store.reader import StoredRun
from flightlog.sync.client import ServerClient

from .servers import LiveServer, segment_file, tidy_table

pytestmark = pytest.mark.slow

RSS_BOUND_MB = 64
KEYS = tuple(f"k{i}" for i in range(10))


def _run(server: LiveServer, c: ServerClient, run_id: str, tables: list[pa.Table]) -> Path:
    """A run on the server whose segments are placed straight into its store (as uploads
    would place them), so that building a large run costs no upload time."""
    c.put_run("alice", "p", run_id, {"id": run_id, "created_at": 0.0}, [])
    history = server.root / "runs" / "@alice/p" / run_id / "history"
    for seq, t in enumerate(tables, 1):
        segment_file(history, t, seq=seq)
    return history.parent


def test_history_and_charts_of_a_large_run_take_bounded_memory(server: LiveServer):
    key = server.user("alice")
    h = {"Authorization": f"Bearer {key}"}
    with server.client(key) as c:
        # 2,000,000 logged values: 200,000 steps x 10 keys, in four segments
        _run(server, c, "big", [tidy_table(50_000, KEYS, start=i * 50_000) for i in range(4)])
        # warm up every read path (DuckDB's first query costs ~40 MB once) before measuring
        _run(server, c, "tiny", [tidy_table(10, KEYS)])
        c.history("alice", "p", "tiny")
        c.chart("alice", "p", "tiny", ["k0"])
    url = f"{server.url}/api/v1/runs/alice/p/big"
    before = server.reset_peak()
    page = httpx.get(f"{url}/history", headers=h, timeout=120)
    assert page.status_code == 200, page.text
    doc = page.json()
    assert sum(len(r) - 4 for r in doc["rows"]) == 1000  # the default page: 1,000 values
    assert doc["rows"][0] == {
        "_step": 0,
        "_timestamp": 0.0,
        "_runtime": 0.0,
        "_writer": "w1",
        **dict.fromkeys(KEYS, 0.0),
    }
    assert doc["next"] and doc["skipped"] == []
    deep = httpx.get(f"{url}/history", params={"cursor": doc["next"]}, headers=h, timeout=120)
    assert deep.json()["rows"][0]["_step"] == 100
    chart = httpx.get(
        f"{url}/chart", params={"keys": "k0,k9", "buckets": 100}, headers=h, timeout=120
    )
    assert chart.status_code == 200, chart.text
    buckets = chart.json()["buckets"]
    assert len(buckets) == 200
    last = [b for b in buckets if b["key"] == "k9"][-1]
    assert (last["vmax"], last["vlast"], last["x_max"]) == (199_999.0, 199_999.0, 199_999)
    assert sum(b["n"] for b in buckets) == 400_000
    rows = 0
    with httpx.stream("GET", f"{url}/history", params={"format": "arrow"}, headers=h) as r:
        assert r.status_code == 200
        data = b"".join(r.iter_bytes())
    table = pa.ipc.open_stream(data).read_all()
    rows = table.num_rows
    del data, table
    grew = server.peak_mb() - before
    print(f"history page, chart, arrow stream of 2M values: peak RSS +{grew:.1f} MB")
    assert rows == 2_000_000
    assert grew < RSS_BOUND_MB, f"server peak RSS grew by {grew:.0f} MB"


@pytest.mark.parametrize("page", [1, 7, 1000])
def test_paging_through_history_gives_every_row_exactly_as_logged(server: LiveServer, page: int):
    key = server.user("alice")
    with server.client(key) as c:
        run_dir = _run(
            server,
            c,
            "r1",
            [
                tidy_table(30, ("a", "b"), writer="w1"),
                tidy_table(20, ("b", "c"), writer="w2", start=10),
                tidy_table(5, ("s",), writer="w1", start=40, kind=3, text="hello"),
            ],
        )
        got = c.history("alice", "p", "r1", page=page)
        assert got == list(StoredRun.load(RunPaths(run_dir)).scan_history())
        assert c.history("alice", "p", "r1", keys=["c"], page=page) == list(
            StoredRun.load(RunPaths(run_dir)).scan_history(["c"])
        )


def test_run_listings_come_in_pages(server: LiveServer):
    key = server.user("alice")
    h = {"Authorization": f"Bearer {key}"}
    with server.client(key) as c:
        for i in range(5):
            c.put_run("alice", "p", f"r{i}", {"id": f"r{i}", "name": f"run {i}"}, [])
        assert [r["id"] for r in c.runs("alice", "p", page=2)] == [f"r{i}" for i in range(5)]
    r = httpx.get(f"{server.url}/api/v1/runs/alice/p", params={"limit": 2}, headers=h)
    assert [x["id"] for x in r.json()["runs"]] == ["r0", "r1"] and r.json()["next"] == "r1"


@st.composite
def _segments(draw: st.DrawFn) -> list[tuple[str, list[tuple[int, str, Any]]]]:
    """Segments of a few writers: (writer, [(step, key, value)]), steps in any order and
    repeated, keys shared between writers."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        writer = draw(st.sampled_from(["wa", "wb", "wc"]))
        rows = draw(
            st.lists(
                st.tuples(
                    st.integers(0, 30),
                    st.sampled_from(["a", "b", "c.d"]),
                    st.one_of(
                        st.floats(allow_nan=False),
                        st.integers(-(2**60), 2**60),
                        st.text(max_size=5),
                        st.none(),
                        st.lists(st.integers(-5, 5), max_size=3),
                    ),
                ),
                max_size=40,
            )
        )
        out.append((writer, rows))
    return out


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# a number then None at one step: the local pivot kept the number's NaN (last-wins values,
# any-wins validity) where the server's pages say None
@example(segments=[("wa", [(0, "a", 0.0), (0, "a", None)])], page=1, keys=None)
@given(
    segments=_segments(), page=st.integers(1, 25), keys=st.sampled_from([None, ["a"], ["b", "c.d"]])
)
def test_pages_joined_up_are_the_run_read_locally(
    tmp_path_factory: pytest.TempPathFactory, segments, page: int, keys
):
    """Whatever the segments (steps out of order, a key logged twice at one step, writers
    interleaved), paging a run's history and joining the pages gives what the local reader
    gives - up to the order of writers within one step."""
    from flightlog.store.schema import encode_value, segment_schema
    from flightlog.sync.client import join_page
    from flightlog.sync.limits import ServerLimits
    from flightlog.sync.run_reads import RunReader, decode_cursor

    run_dir = tmp_path_factory.mktemp("run")
    paths = RunPaths(run_dir)
    for seq, (writer, rows) in enumerate(segments, 1):
        cols = [encode_value(v) for _, _, v in rows]
        table = pa.table(
            {
                "step": pa.array([s for s, _, _ in rows], pa.int64()),
                "time": pa.array([s * 10 for s, _, _ in rows], pa.timestamp("us", "UTC")),
                "key": pa.array([k for _, k, _ in rows], pa.string()),
                "value": pa.array([c[0] for c in cols], pa.float64()),
                "kind": pa.array([c[1] for c in cols], pa.int8()),
                "text": pa.array([c[2] for c in cols], pa.string()),
            },
            schema=segment_schema(writer, writer),
        )
        segment_file(paths.history, table, writer=writer, seq=seq)
    (run_dir / "run.json").write_text('{"id": "r", "created_at": 0}')
    reader = RunReader(paths, "history", ServerLimits(), run_dir)
    got: list[dict[str, Any]] = []
    after = None
    while True:
        rows, nxt = reader.page(keys, after, page)
        join_page(got, rows)
        if nxt is None:
            break
        after = decode_cursor(nxt)
    want = list(StoredRun.load(paths).scan_history(keys))

    def by_row(rows: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
        return sorted((r["_step"], r["_writer"], repr(sorted(r.items()))) for r in rows)

    assert by_row(got) == by_row(want)
