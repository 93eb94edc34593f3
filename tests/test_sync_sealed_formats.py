"""Segments sealed before the writer's page settings changed (store/sealing.py: every column
zstd, data pages of 20,000 rows) sync and read back next to the ones sealed now: a store
written by the previous version, synced by this one to a server of this one."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import flightlog

from .conftest import cli, settled
from .servers import LiveServer, segment_file, server_rows, tidy_table

pytestmark = pytest.mark.slow

#: store/sealing.py's settings before: zstd everywhere, pyarrow's pages of 20,000 rows
PREVIOUS: dict = {
    "use_dictionary": ["key", "text", "kind"],
    "column_encoding": {
        "step": "DELTA_BINARY_PACKED",
        "time": "DELTA_BINARY_PACKED",
        "value": "BYTE_STREAM_SPLIT",
    },
    "write_statistics": True,
}
if int(pa.__version__.split(".")[0]) >= 23:
    PREVIOUS["max_rows_per_page"] = 20_000


def test_segments_of_the_previous_writer_sync_next_to_this_ones(server: LiveServer, key: str):
    run = flightlog.init(project="p", id="r", mode="offline", settings={"console": "off"})
    for i in range(40_000):
        run.log({"loss": 1.0 / (i + 1)})
    run.finish(quiet=True)
    settled(run)
    history = Path(run.dir) / "history"
    table = tidy_table(30_000, ("a", "b"), writer="old1")  # 60,000 rows: 3 pages a column
    old = segment_file(history, table, writer="old1", **PREVIOUS)

    r = cli("sync", "--all", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    on_server = server.root / "runs/@alice/p/r/history"
    assert (on_server / old.name).exists()
    rows = server_rows(server.root, "alice", "p", "r")
    assert sum("loss" in row for row in rows) == 40_000
    assert sum("a" in row and "b" in row for row in rows) == 30_000
