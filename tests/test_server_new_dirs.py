"""A run's first system segment makes its system/ directory, whose entry in the run's
directory is fsynced before the upload is answered. That fsync ran under the lock every
upload of the server takes: on a slow or busy disk (1-100 ms a directory fsync, seconds on
a struggling NFS server) every other upload waited for it. Here the disk is made slow for
the run's directory only, for real (os.fsync waits), and the server's store is driven
as its routes drive it."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from flightlog.sync import receive

from .servers import place_uploaded, segment_file, tidy_table, wait_until


def test_an_upload_elsewhere_is_not_held_up_by_a_new_directorys_fsync_one_into_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = receive.ReceivingStore(tmp_path / "server")
    for run in ("r1", "r2"):
        store.put_run("alice", "p", run, {"id": run}, [])
    r1, r2 = store.paths("alice", "p", "r1"), store.paths("alice", "p", "r2")
    in_fsync, disk_back = threading.Event(), threading.Event()
    real = os.fsync

    def slow_for_r1(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}") == str(r1.dir):
            in_fsync.set()
            disk_back.wait(60)
        real(fd)

    monkeypatch.setattr(os, "fsync", slow_for_r1)
    answers: dict[str, bool] = {}

    def upload(name: str, paths, stream: str, seq: int) -> None:
        seg = segment_file(tmp_path / name, tidy_table(10, start=seq * 10), seq=seq)
        answers[name] = place_uploaded(store, paths, stream, seg, f"{name}.tmp")

    first = threading.Thread(target=upload, args=("first", r1, "system", 1))
    first.start()
    assert in_fsync.wait(120), "the first system segment never made system/"
    upload("elsewhere", r2, "history", 1)  # before: waited for r1's fsync, under the lock
    assert answers["elsewhere"] is True and "first" not in answers

    second = threading.Thread(target=upload, args=("second", r1, "system", 2))
    second.start()
    wait_until(lambda: len(list(r1.system.glob("*-000002-*.parquet"))) == 1, 120, "placed")
    assert "second" not in answers  # placed, but not answered before system/ is durable
    disk_back.set()
    for t in (first, second):
        t.join(120)
    assert answers == {"elsewhere": True, "first": True, "second": True}
    assert len(store.segments("alice", "p", "r1")["system"]) == 2
