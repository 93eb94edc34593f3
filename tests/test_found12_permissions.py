"""Who may read what on a server, for real (`flightlog server` in a subprocess, runs trained
and synced by the real scripts and `flightlog sync`)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from .conftest import cli
from .servers import LiveServer
from .test_run_context import _train, _work_tree

pytestmark = pytest.mark.slow

SCRIPT = """import flightlog
run = flightlog.init(project="vision", entity="alice", id="r1", mode="offline")
run.log({"loss": 0.5})
run.finish()
"""


def test_the_dirty_diff_of_a_run_in_an_open_project_is_for_members_only(
    server: LiveServer, key: str, tmp_path: Path
) -> None:
    """The seed: the git commit, remote and dirty diff, and the command line, are visible
    to members only in a public project. The commit and the command were (run.json's
    fields are filtered), but the diff is a run file (`diff.patch`), and the files route
    listed and served it to anyone signed in - a working tree's uncommitted changes,
    often the very secrets and paths a team keeps to itself."""
    repo = tmp_path / "repo"
    _work_tree(repo, SCRIPT)
    (repo / "train.py").write_text(SCRIPT + 'TOKEN = "hunter2"  # not committed\n')
    trained = _train(repo)
    assert trained.returncode == 0, trained.stderr
    synced = cli("sync", "--all")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    server.accounts.set_visibility("alice", "vision", "open")
    bob = server.user("bob")
    files = f"{server.url}/api/v1/runs/alice/vision/r1/files"

    def listed(who: str) -> list[str]:
        r = httpx.get(files, headers={"Authorization": f"Bearer {who}"}, timeout=30)
        assert r.status_code == 200, r.text
        return [f["name"] for f in r.json()["files"]]

    assert "diff.patch" in listed(key)  # the member sees it
    r = httpx.get(f"{files}/diff.patch", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert r.status_code == 200 and "hunter2" in r.text
    assert "diff.patch" not in listed(bob)
    r = httpx.get(f"{files}/diff.patch", headers={"Authorization": f"Bearer {bob}"}, timeout=30)
    assert r.status_code == 404 and "hunter2" not in r.text, r.text
    meta = httpx.get(
        f"{server.url}/api/v1/runs/alice/vision/r1", headers={"Authorization": f"Bearer {bob}"}
    ).json()["meta"]
    assert "git" not in meta and "command" not in meta  # as before
