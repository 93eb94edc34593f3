"""A store copied mid-run twice (a login node's copy synced while the job's last rows were
only in its journal, then copied and synced again once the job finished), read through the
one-machine server it was synced to: `flightlog sql` and `show` on the server's root count
each row once (store/recovered_overlap.py cuts the copy's journal-sealed segment where the
writer's own seals reach), and the server's one-run reads (sync/run_reads.py), which have no index
and read every sealed segment of the run, must agree with them. `Api(host=)`'s history()
and scan_history() do (one row per writer and step); the run view's chart (GET .../view,
what the run screen draws and counts) counts 4501 'loss' values for 3000: the copy's
segment and the job's own seal were both read (bd568b9 left this: "a server's one-run chart
reads have no step statistics and read both"). The server's one-run view now lists each
segment's writer, number and step range (from its file name and footer) and cuts the copy's
segment through the same store/recovered_overlap.py: the chart counts each row once, whole,
zoomed, and over buckets wide enough to take the pyramid path (store/pyramid_query.py)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import flightlog

from .conftest import cli
from .servers import LiveServer
from .test_found2_copied_store import TRAIN, copied_mid_run, copy_store

pytestmark = pytest.mark.slow


def test_the_servers_run_reads_count_a_twice_copied_runs_rows_once(
    server: LiveServer, key: str, store: Path, tmp_path: Path
) -> None:
    slow = TRAIN.replace('"flush_interval": 0.01', '"flush_interval": 60')
    copy = copied_mid_run(store, tmp_path, slow, at_step=1500)
    for _ in range(2):
        synced = cli("sync", "--all", "--root", str(copy))
        assert synced.returncode == 0, synced.stdout + synced.stderr
        copy_store(store, copy)
    sql = cli(
        "sql", "SELECT count(*) FROM history WHERE key = 'loss'", "--format", "csv",
        "--root", str(server.root),
    )  # fmt: skip
    assert sql.stdout.split() == ["count_star()", "3000"], sql.stdout + sql.stderr

    run = flightlog.Api(host=server.url).run("alice/p/copied")
    scanned = [r["_step"] for r in run.scan_history(keys=["loss"])]
    history = run.history(pandas=False)
    assert (len(scanned), len(set(scanned))) == (3000, 3000)
    assert history.num_rows == 3000
    # the chart's count, as the run screen shows it: 240 buckets read the rows; 2 buckets
    # (1,500 steps each) take the pyramid path, which reads a segment without a sidecar (and
    # the copy's segment, always) by its rows too; a zoomed chart reads the range's segments
    for buckets, zoomed in ((240, None), (2, None), (240, 2000)):
        params = {"buckets": buckets} | ({"lo": 1000, "hi": 2999} if zoomed else {})
        view = httpx.get(
            f"{server.url}/api/v1/runs/alice/p/copied/view",
            params=params,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
        assert view.status_code == 200, view.text
        doc = view.json()
        assert sum(b["n"] for b in doc["buckets"] if b["key"] == "loss") == 3000, params
        if zoomed:
            assert sum(b["n"] for b in doc["zoomed"] if b["key"] == "loss") == zoomed
        assert max(b["vmax"] for b in doc["buckets"] if b["key"] == "loss") == 2999.0
