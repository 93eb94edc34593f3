"""A store copied off a compute node mid-run and synced from the copy AFTER the node itself
synced the finished run (tests/test_found2_copied_store.py is the other order): a login
node's cron job that copies and syncs, running late, or a second copy. The copy's run.json
and writer states are older than the server's; they must not take the finished run back
to an earlier state."""

from __future__ import annotations

from pathlib import Path

from .conftest import cli
from .servers import LiveServer, server_rows
from .test_found2_copied_store import copied_mid_run


def test_an_older_copy_synced_last_leaves_the_run_finished_with_its_last_summary(
    server: LiveServer, key: str, store: Path, tmp_path: Path
) -> None:
    copy = copied_mid_run(store, tmp_path)

    node = cli("sync", "--all")  # the node syncs its own store, the job done
    assert node.returncode == 0, node.stdout + node.stderr
    with server.client(key) as c:
        before = c.run("alice", "p", "copied")
    assert before["state"] == "finished" and before["summary"]["loss"] == 2999.0, before
    late = cli("sync", "--all", "--root", str(copy))  # the copy, taken mid-run, syncs last
    assert late.returncode == 0, late.stdout + late.stderr

    with server.client(key) as c:
        after = c.run("alice", "p", "copied")
    assert after["state"] == "finished", after["state"]
    assert after["summary"]["loss"] == 2999.0, after["summary"]
    losses = [r["loss"] for r in server_rows(server.root, "alice", "p", "copied")]
    assert losses == [float(s) for s in range(3000)], len(losses)
