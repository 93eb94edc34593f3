"""`Api(host=)` and the sync client reading a server, for real (`flightlog server` in a
subprocess)."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog

from .servers import LiveServer, segment_file, tidy_table

pytestmark = pytest.mark.slow
NAMES = ("loss", "f1,macro")


def run_with_a_comma_metric(server: LiveServer, key: str, tmp_path: Path) -> None:
    """alice/p/r1: steps 0..99 of `loss` and `f1,macro` (a metric name is any text)."""
    with server.client(key) as c:
        c.put_run("alice", "p", "r1", {"id": "r1", "name": "r1"}, [])
        assert c.put_segment(
            "alice", "p", "r1", "history", segment_file(tmp_path, tidy_table(100, keys=NAMES))
        )


def test_api_on_a_server_reads_a_metric_whose_name_holds_a_comma(
    server: LiveServer, key: str, tmp_path: Path
) -> None:
    run_with_a_comma_metric(server, key, tmp_path)
    run = flightlog.Api(host=server.url).run("alice/p/r1")
    got = run.history(keys=["f1,macro"], pandas=False)  # an Arrow table
    assert got.column("f1,macro").to_pylist() == [float(s) for s in range(100)], got.slice(0, 2)


def test_the_sync_clients_history_and_chart_read_a_metric_whose_name_holds_a_comma(
    server: LiveServer, key: str, tmp_path: Path
) -> None:
    run_with_a_comma_metric(server, key, tmp_path)
    with server.client(key) as c:
        rows = c.history("alice", "p", "r1", keys=["f1,macro"])
        buckets = c.chart("alice", "p", "r1", keys=["f1,macro"], buckets=10)
    assert [row.get("f1,macro") for row in rows] == [float(s) for s in range(100)], rows[:2]
    assert {b["key"] for b in buckets} == {"f1,macro"}, buckets[:2]


def test_the_remote_uis_cursor_reads_a_metric_whose_name_holds_a_comma(
    server: LiveServer, key: str, tmp_path: Path
) -> None:
    """The chart cursor's readout (`flightlog tui --host`): its route split the names asked
    for on commas when history and chart no longer did, so `f1,macro` read nothing."""
    run_with_a_comma_metric(server, key, tmp_path)
    run = flightlog.Api(host=server.url).run("alice/p/r1")
    values = run._reader.cursor(run._run["run_key"], ["f1,macro", "loss"], at=50.0)
    assert {(v["key"], v["step"]) for v in values} == {("f1,macro", 50), ("loss", 50)}, values
