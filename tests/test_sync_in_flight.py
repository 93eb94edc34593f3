"""A server killed -9 while `flightlog sync` has several requests in flight (runs of a
project grouped, a few groups at once: sync_many.py), for real: nothing is lost, nothing
is stored twice, and no run is marked synced that the server does not have."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .servers import LiveServer, server_rows
from .sync_runs import local_segments, on_server, small_runs, sync_until_killed

pytestmark = pytest.mark.slow

RUNS = 150  # a project's first run alone, then groups of up to 64: three requests in flight


def _runs_on_server(server: LiveServer, ids: list[str]) -> int:
    return sum(1 for run_id in ids if on_server(server, run_id))


def _marked_complete(run_id: str) -> bool:
    mark = Path(os.environ["FLIGHTLOG_DIR"]) / "runs/p" / run_id / "sync.json"
    return mark.exists() and bool(json.loads(mark.read_text()).get("complete"))


def test_server_killed_9_with_several_requests_in_flight_then_every_row_once(
    server: LiveServer, key: str
):
    ids = small_runs(RUNS)
    # the first run (alone) and part of a group are in: the other groups are on the way
    code, out = sync_until_killed(server, lambda: _runs_on_server(server, ids) >= 3)
    placed = _runs_on_server(server, ids)
    assert placed < RUNS, "every run was stored before the kill: make the store bigger"
    assert code == 1 and "cannot reach" in out, out
    for run_id in ids:  # a run marked synced is one the server has, whole
        if _marked_complete(run_id):
            assert on_server(server, run_id) == local_segments(run_id), run_id
    assert sum(map(_marked_complete, ids)) < RUNS

    server.start()
    again = subprocess.run(
        [sys.executable, "-m", "flightlog.cli", "sync", "--all"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    for run_id in ids:
        assert on_server(server, run_id) == local_segments(run_id) != [], run_id
        rows = server_rows(server.root, "alice", "p", run_id)
        assert [row["i"] for row in rows] == list(range(120)), run_id  # each row once
        assert _marked_complete(run_id), run_id
    assert list((server.root / ".uploads").iterdir()) == []
