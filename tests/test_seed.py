"""The seed's snippets (shared/seed/wandb-init.fr.md), verbatim but for the import."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import flightlog
import flightlog as wandb

from .conftest import python_script


def test_many_runs_from_one_script_with_reinit(api: flightlog.Api) -> None:
    for x in range(10):
        run = wandb.init(project="runs-from-for-loop", reinit=True)
        for y in range(100):
            wandb.log({"metric": x + y})
        run.finish()

    runs = api.runs("runs-from-for-loop")
    assert len(runs) == 10
    assert {r.state for r in runs} == {"finished"}
    for x, r in enumerate(runs):
        rows = list(r.scan_history())
        assert [row["metric"] for row in rows] == [x + y for y in range(100)]
        assert [row["_step"] for row in rows] == list(range(100))


def test_many_runs_with_context_manager(api: flightlog.Api) -> None:
    for x in range(10):
        run = wandb.init(reinit=True)
        with run:
            for y in range(100):
                run.log({"metric": x + y})

    runs = api.runs()
    assert len(runs) == 10
    assert all(r.state == "finished" for r in runs)
    assert [r.summary["metric"] for r in runs] == [x + 99 for x in range(10)]


def test_readable_run_name() -> None:
    wandb.init()
    run_name = wandb.run.name
    assert re.fullmatch(r"[a-z]+-[a-z]+-1", run_name), run_name
    wandb.finish()
    wandb.init()
    assert wandb.run.name.endswith("-2")  # N is the run's number in its project


def test_set_run_name_to_its_id(api: flightlog.Api) -> None:
    wandb.init()
    wandb.run.name = wandb.run.id
    wandb.run.save()
    run_id = wandb.run.id
    assert re.fullmatch(r"[a-z0-9]{8}", run_id)
    assert api.run(run_id).name == run_id  # persisted while the run is still going
    wandb.finish()
    assert api.run(run_id).name == run_id


def test_offline_snippet_writes_locally_and_never_opens_a_socket(store: Path) -> None:
    # The seed's offline example, in a child process whose sockets all refuse to connect.
    code = """
        import socket
        def refuse(*a, **k):
            raise AssertionError("flightlog opened a network connection in offline mode")
        socket.socket.connect = refuse
        socket.create_connection = refuse

        import flightlog as wandb
        import os

        os.environ["WANDB_API_KEY"] = "secret-key-abc123"
        os.environ["WANDB_MODE"] = "dryrun"

        config = {
          "dataset": "CIFAR10",
          "machine": "offline cluster",
          "model": "CNN",
          "learning_rate": 0.01,
          "batch_size": 128,
        }

        wandb.init(project="offline-demo")

        for i in range(100):
          wandb.log({"accuracy": i})
    """
    res = python_script(code, env={"FLIGHTLOG_SILENT": ""})
    assert res.returncode == 0, res.stderr
    assert "offline-demo" in res.stderr  # the one-line init message says where it is
    run = flightlog.Api(store).runs("offline-demo")[0]
    assert run.state == "finished"
    assert [r["accuracy"] for r in run.scan_history()] == list(range(100))
    for f in store.rglob("*"):
        if f.is_file():
            assert b"secret-key-abc123" not in f.read_bytes(), f"API key leaked into {f}"
    assert "secret-key-abc123" not in res.stderr + res.stdout


def _git(cwd: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "PATH": os.environ["PATH"],
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_git_commit_remote_dirty_diff_and_command_are_saved(tmp_path: Path, store: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "remote", "add", "origin", "https://user:token123@example.com/team/model.git")
    (repo / "train.py").write_text("import flightlog as wandb\nwandb.init()\nwandb.log({'a': 1})\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "first")
    commit = _git(repo, "rev-parse", "HEAD")
    (repo / "train.py").write_text((repo / "train.py").read_text() + "# local change\n")

    res = subprocess.run(
        [sys.executable, "train.py", "--lr", "0.1"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    assert res.returncode == 0, res.stderr
    run = flightlog.Api(store).runs()[0]
    assert run.git["commit"] == commit
    assert run.git["branch"] == "main"
    assert run.git["remote"] == "https://example.com/team/model.git"  # credentials stripped
    assert run.git["dirty"] is True
    diff = (run.dir / "files" / "diff.patch").read_text()
    assert "+# local change" in diff
    assert run.meta["command"][-3:] == ["train.py", "--lr", "0.1"]


def test_group_puts_every_process_run_in_one_group(api: flightlog.Api) -> None:
    code = """
        import flightlog as wandb, sys
        wandb.init(project="ddp", group="exp-1", job_type="train")
        wandb.log({"rank": int(sys.argv[1])})
    """
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), str(i)], env=dict(os.environ)
        )
        for i in range(3)
    ]
    assert [p.wait(60) for p in procs] == [0, 0, 0]
    runs = api.runs("ddp")
    assert len(runs) == 3
    assert {r.group for r in runs} == {"exp-1"}
    assert sorted(r.summary["rank"] for r in runs) == [0, 1, 2]
