"""An upload request waits for the disk without holding a check slot (sync/check_slots.py).

A request's commit (the fsyncs of its files and directories, its runs' file lists) used to
run inside the check limiter: with the disk slow, the server's check slots sat idle while
other requests' checks waited. Here one request's commit is held up and another request,
arriving meanwhile on a server with a single check slot, is checked, stored and answered;
then the first is answered too, both stored once.
"""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest

from .servers import app_in_thread, segment_file, tidy_table

#: a generous bound for a request on a loaded machine (the test waits on conditions)
PATIENCE = 120.0


def _run_frame(name: str, run_id: str) -> bytes:
    doc = b'{"meta": {"id": "%s"}, "writers": []}' % run_id.encode()
    return b'{"stream": "run", "name": "%s", "size": %d}\n' % (name.encode(), len(doc)) + doc


def test_a_commit_waiting_for_the_disk_holds_no_check_slot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from flightlog.sync import group_commit
    from flightlog.sync.accounts import Accounts
    from flightlog.sync.frames import BATCH_TYPE, frame_header
    from flightlog.sync.limits import ServerLimits
    from flightlog.sync.server import create_app

    root = tmp_path / "server"
    accounts = Accounts(root)
    accounts.add_user("alice")
    headers = {
        "Authorization": f"Bearer {accounts.create_key('alice')}",
        "Content-Type": BATCH_TYPE,
    }
    committing, disk_back = threading.Event(), threading.Event()
    real_commit = group_commit.GroupCommit.commit
    held: list[str] = []

    def slow_commit(self: group_commit.GroupCommit) -> None:
        # the first request's commit waits until the test lets the disk answer
        if not held:
            held.append(threading.current_thread().name)
            committing.set()
            assert disk_back.wait(PATIENCE)
        real_commit(self)

    monkeypatch.setattr(group_commit.GroupCommit, "commit", slow_commit)
    answers: dict[str, httpx.Response] = {}
    with app_in_thread(create_app(root, ServerLimits(concurrent_checks=1))) as port:

        def sync(run_id: str) -> None:
            tidy = tidy_table(10, writer=run_id)
            seg = segment_file(tmp_path / run_id, tidy, writer=run_id, seq=1)
            body = _run_frame("run.json", run_id) + frame_header("history", seg) + seg.read_bytes()
            url = f"http://127.0.0.1:{port}/api/v1/runs/alice/p/{run_id}/sync"
            answers[run_id] = httpx.post(url, content=body, headers=headers, timeout=PATIENCE)

        try:
            first = threading.Thread(target=sync, args=("ra",))
            first.start()
            assert committing.wait(PATIENCE), "the first request never reached its commit"
            sync("rb")  # on a single check slot, while the first request's commit waits
            assert not disk_back.is_set() and "ra" not in answers
            assert answers["rb"].status_code == 201, answers["rb"].text
            assert [r["stored"] for r in answers["rb"].json()["results"]] == [True]
            disk_back.set()
            first.join(PATIENCE)
            assert answers["ra"].status_code == 201, answers["ra"].text
            assert [r["stored"] for r in answers["ra"].json()["results"]] == [True]
            for run_id in ("ra", "rb"):
                history = root / f"runs/@alice/p/{run_id}/history"
                assert len(list(history.glob("*.parquet"))) == 1
                assert (root / f"runs/@alice/p/{run_id}/run.json").exists()
        finally:
            disk_back.set()
