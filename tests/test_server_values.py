"""Poison segments: a segment whose values cannot be read back is refused before it is
stored; a reader that still meets one (stored by an older server, or damaged on disk) skips
it with a warning and serves the rest."""

from __future__ import annotations

from pathlib import Path

import httpx
import pyarrow as pa
import pytest

from flightlog.store.schema import HISTORY_SCHEMA, segment_schema
from flightlog.sync.client import ServerClient
from flightlog.sync.credentials import Credentials

from .servers import LiveServer, segment_file, store_tree, tidy_table

pytestmark = pytest.mark.slow


def _one_row(kind: int, value: float | None, text: str | None, schema=None) -> pa.Table:
    schema = schema or segment_schema("w1", "")
    return pa.table(
        {
            "step": pa.array([0], pa.int64()),
            "time": pa.array([0], pa.timestamp("us", "UTC")),
            "key": ["x"],
            "value": pa.array([value], pa.float64()),
            "kind": pa.array([kind], pa.int8()),
            "text": pa.array([text], pa.string()),
        },
        schema=schema,
    )


NULLABLE = pa.schema([f.with_nullable(True) for f in HISTORY_SCHEMA])
POISON = {
    "an unknown value kind": _one_row(9, 1.0, None),
    "a null int": _one_row(1, None, None),
    "list text that does not parse": _one_row(5, None, "[1, 2"),
    "histogram text that is not a histogram": _one_row(6, None, "[1]"),
    "an int whose text is not a number": _one_row(1, None, "12x"),
    "a null step": _one_row(0, 1.0, None, NULLABLE).set_column(
        0, pa.field("step", pa.int64()), pa.array([None], pa.int64())
    ),
}


def test_segments_whose_values_do_not_decode_are_refused(server: LiveServer, tmp_path: Path):
    key = server.user("alice")
    h = {"Authorization": f"Bearer {key}"}
    with ServerClient(Credentials(server.url, key, "file"), retries=0) as c:
        c.put_run("alice", "p", "r1", {"id": "r1"}, [])
        good = segment_file(tmp_path / "good", tidy_table(3), seq=1)
        assert c.put_segment("alice", "p", "r1", "history", good)
    url = f"{server.url}/api/v1/runs/alice/p/r1"
    tree = store_tree(server.root)
    for seq, (what, table) in enumerate(POISON.items(), 2):
        seg = segment_file(tmp_path / "poison", table, seq=seq)
        r = httpx.put(f"{url}/segments/history/{seg.name}", content=seg.read_bytes(), headers=h)
        assert r.status_code == 400, (what, r.text)
        assert r.json()["error"] == "invalid_values", what
        assert store_tree(server.root) == tree, what
    r = httpx.get(f"{url}/history", headers=h)
    assert r.status_code == 200 and [row["loss"] for row in r.json()["rows"]] == [0.0, 1.0, 2.0]


def test_a_reader_skips_a_bad_segment_and_serves_the_rest(server: LiveServer, tmp_path: Path):
    key = server.user("alice")
    h = {"Authorization": f"Bearer {key}"}
    with ServerClient(Credentials(server.url, key, "file"), retries=0) as c:
        c.put_run("alice", "p", "r1", {"id": "r1"}, [])
    history = server.root / "runs" / "@alice/p" / "r1" / "history"
    segment_file(history, tidy_table(3), seq=1)
    # as an older server stored them: values that do not decode, and a damaged file
    bad = [segment_file(history, t, seq=i) for i, t in enumerate(POISON.values(), 2)]
    damaged = history / f"w1-000099-{'0' * 64}.parquet"
    damaged.write_bytes(b"PAR1 this is not really parquet PAR1")
    segment_file(history, tidy_table(2, start=3), seq=100)
    url = f"{server.url}/api/v1/runs/alice/p/r1"
    for page in (1, 1000):
        r = httpx.get(f"{url}/history", params={"limit": page}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["skipped"], "the answer names the segments it left out"
    with ServerClient(Credentials(server.url, key, "file"), retries=0) as c:
        rows = c.history("alice", "p", "r1")
        assert [(row["_step"], row.get("loss")) for row in rows if "loss" in row] == [
            (i, float(i)) for i in range(5)
        ]
        assert all(
            set(row) <= {"_step", "_timestamp", "_runtime", "_writer", "loss", "x"} for row in rows
        )
        assert c.chart("alice", "p", "r1", ["loss"])[-1]["vlast"] == 4.0
    r = httpx.get(f"{url}/history", params={"limit": 1000}, headers=h)
    skipped = set(r.json()["skipped"])
    assert damaged.name in skipped
    assert {p.name for p in bad[1:]} <= skipped  # the null int, the bad texts, the null step
    with httpx.stream("GET", f"{url}/history", params={"format": "arrow"}, headers=h) as s:
        assert s.status_code == 200
        table = pa.ipc.open_stream(b"".join(s.iter_bytes())).read_all()
    assert table.filter(pa.compute.equal(table["key"], "loss")).num_rows == 5
    log = (server.root / "server.log").read_text()
    assert "skipping unreadable segment" in log and damaged.name in log
