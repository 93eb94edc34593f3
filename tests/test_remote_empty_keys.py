"""Asking for no metrics (`keys=[]`) reads none, wherever the run is: the local
`Api().run().history(keys=[])` gives no rows, and so do `Api(host=)`, the sync client's
`history` and its `chart`. Before, the client's history sent no key at all for an empty
list, which the server reads as "every key": every row came back."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog

from .conftest import cli
from .servers import LiveServer
from .sync_runs import small_runs

pytestmark = pytest.mark.slow


def test_no_keys_asked_read_no_rows_locally_and_on_the_server(
    server: LiveServer, key: str, store: Path
) -> None:
    (run_id,) = small_runs(1)
    assert cli("sync", "--all").returncode == 0
    local = flightlog.Api(store).run(f"p/{run_id}")
    remote = flightlog.Api(host=server.url).run(f"alice/p/{run_id}")
    assert local.history(keys=["i"]).num_rows > 0  # the run has rows
    for run in (local, remote):
        assert run.history(keys=[]).num_rows == 0, run
        assert list(run.scan_history(keys=[])) == [], run
    with server.client(key) as c:
        assert c.history("alice", "p", run_id, keys=["i"])  # the same run, read so
        assert c.history("alice", "p", run_id, keys=[]) == []
        assert c.chart("alice", "p", run_id, keys=[]) == []
