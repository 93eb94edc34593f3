"""A server whose root was restored from an older backup (a lost disk, a bad migration)
no longer holds runs the machines synced to it. `flightlog sync` must notice and upload
them again, not say "synced" from its local marks (sync.json) alone: a user who believes
the server and cleans up the cluster's scratch then loses those runs for good."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import cli
from .servers import LiveServer
from .sync_runs import local_segments, on_server, small_runs


def restore_backup(server: LiveServer, backup: Path) -> None:
    """The server stopped, its root replaced by `backup`, started again on its port."""
    server.stop()
    for p in server.root.iterdir():
        if p.name != "server.log":
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    for p in backup.iterdir():
        (shutil.copytree if p.is_dir() else shutil.copy2)(p, server.root / p.name)
    server.start()


@pytest.fixture
def backed_up(server: LiveServer, key: str, tmp_path: Path) -> Path:
    """A backup of the server root taken before anything was synced (alice exists)."""
    backup = tmp_path / "backup"
    server.stop()
    shutil.copytree(server.root, backup, ignore=shutil.ignore_patterns("server.log"))
    server.start()
    return backup


def test_sync_all_uploads_again_what_a_restored_server_lost(
    server: LiveServer, backed_up: Path
) -> None:
    ids = small_runs(2)
    first = cli("sync", "--all")
    assert first.returncode == 0, first.stdout + first.stderr
    assert all(on_server(server, i) == local_segments(i) for i in ids)

    restore_backup(server, backed_up)
    assert not any(on_server(server, i) for i in ids)  # the server lost both runs

    again = cli("sync", "--all")
    assert again.returncode == 0, again.stdout + again.stderr
    for i in ids:
        assert on_server(server, i) == local_segments(i), (i, again.stdout)


def test_sync_of_a_named_run_checks_the_server(server: LiveServer, backed_up: Path) -> None:
    (run_id,) = small_runs(1)
    assert cli("sync", run_id).returncode == 0
    restore_backup(server, backed_up)

    again = cli("sync", run_id)
    # what the user is told must be true: either it is on the server again, or sync says not
    if again.returncode == 0:
        assert on_server(server, run_id) == local_segments(run_id), again.stdout
