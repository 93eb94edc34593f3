"""The cost of shipping many small runs: what `flightlog sync --all` asks of the server for
each run, beyond its bytes (sync_many.py)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from .conftest import cli, python_script
from .servers import LiveServer, segment_file, tidy_table
from .test_sync_project_batch import local_segments, on_server, requests_made, small_runs

pytestmark = pytest.mark.slow


def test_runs_sharing_files_cost_no_request_each_to_record_them(server: LiveServer, key: str):
    """Runs of a sweep share their files' blobs (the same requirements.txt, an empty
    output.log). Sent together before the server had them, each run was told they were
    missing and then recorded its file list with a request of its own: 10 runs, 10 PUT
    .../files. The first run of a project now goes first, alone."""
    ids = small_runs(10)
    r = cli("sync", "--all", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    for run_id in ids:
        assert on_server(server, run_id) == local_segments(run_id) != []
        listed = httpx.get(
            f"{server.url}/api/v1/runs/alice/p/{run_id}/files",
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
        assert {f["name"] for f in listed.json()["files"]} == {"output.log", "requirements.txt"}
    log = (server.root / "server.log").read_text(errors="replace").splitlines()
    assert sum("PUT /api/v1/runs/" in line and "/files " in line for line in log) <= 1
    assert requests_made(server, "POST /api/v1/sync/alice/p ") < len(ids)


def test_small_runs_of_an_entity_the_server_lacks_each_say_so(server: LiveServer, key: str):
    """Small runs sent together to an entity the server does not have: the request is
    refused whole, and each run then says why, as a run sent alone does (the refusal
    escaped `sync --all` before)."""
    r = python_script(
        "import flightlog\n"
        "for _ in range(3):\n"
        "    run = flightlog.init(project='p', entity='ghost', reinit='create_new', "
        "mode='offline')\n"
        "    run.log({'x': 1}); run.finish()\n"
    )
    assert r.returncode == 0, r.stderr
    out = cli("sync", "--all", timeout=180)
    assert out.returncode == 1
    assert out.stdout.count("entity 'ghost' does not exist") == 3, out.stdout + out.stderr
    assert "Traceback" not in out.stdout + out.stderr


def test_large_runs_sharing_files_send_each_blob_once(server: LiveServer, key: str):
    """Runs too large to go several to a request (here 300 segments each: two batches) went
    out a few at once, each told the shared blobs were missing: 4 runs, 8 blob uploads of 2
    blobs. The first run of a project goes first, alone, whatever its size."""
    ids = small_runs(4)
    store = Path(os.environ["FLIGHTLOG_DIR"]) / "runs/p"
    for i, run_id in enumerate(ids):
        for seq in range(10, 310):
            table = tidy_table(1, ("a",), f"big{i}", start=seq)
            segment_file(store / run_id / "history", table, writer=f"big{i}", seq=seq)
    r = cli("sync", "--all", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for run_id in ids:
        assert on_server(server, run_id) == local_segments(run_id)
    assert requests_made(server, "PUT /api/v1/blobs/") == 2  # requirements.txt, output.log
