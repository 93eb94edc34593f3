"""What init() records about the machine and the job, without being asked; what of it is
captured in the background (git, packages) is there however soon the run ends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import flightlog

from .conftest import python_script, spawn


def test_scheduler_cpu_memory_and_packages(
    api: flightlog.Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    monkeypatch.setenv("SLURM_AUTH_TOKEN", "do-not-store")
    monkeypatch.setenv("PBS_JOBID", "77.server")
    run = flightlog.init(project="ctx")
    run.finish(quiet=True)
    meta = api.run(run.path).meta
    assert meta["scheduler"] == {
        "PBS_JOBID": "77.server",
        "SLURM_ARRAY_TASK_ID": "3",
        "SLURM_JOB_ID": "4242",
    }  # secrets left out
    assert meta["cpu_count"] >= 1 and meta["memory_gb"] > 0
    reqs = (Path(run.dir) / "files" / "requirements.txt").read_text().splitlines()
    assert any(line.startswith("pyarrow==") for line in reqs)
    assert meta["packages"] == len(reqs)
    assert reqs == sorted(reqs, key=lambda line: line.split("==")[0].lower())
    assert "gpus" not in meta  # no NVML here


def test_gpu_names_driver_and_cuda_through_nvml(api: flightlog.Api, tmp_path: Path) -> None:
    fake = tmp_path / "fake_nvml"
    fake.mkdir()
    (fake / "pynvml.py").write_text(
        "def nvmlInit(): pass\n"
        "def nvmlDeviceGetCount(): return 2\n"
        "def nvmlDeviceGetHandleByIndex(i): return i\n"
        "def nvmlDeviceGetName(h): return b'NVIDIA H100 80GB HBM3'\n"
        "def nvmlSystemGetDriverVersion(): return '550.54.15'\n"
        "def nvmlSystemGetCudaDriverVersion(): return 12040\n"
    )
    res = python_script(
        """
        import flightlog
        flightlog.init(project="ctx", id="gpu", settings={"stats_interval": 0}).finish()
    """,
        env={"PYTHONPATH": str(fake)},
    )
    assert res.returncode == 0, res.stderr
    assert api.run("ctx/gpu").meta["gpus"] == {
        "count": 2,
        "names": ["NVIDIA H100 80GB HBM3"] * 2,
        "driver": "550.54.15",
        "cuda": "12.4",
    }


def _work_tree(repo: Path, script: str) -> str:
    """A git work tree whose one commit holds `script` as train.py; returns the commit."""
    repo.mkdir()
    (repo / "train.py").write_text(script)
    for args in (["init", "-q", "-b", "main"], ["add", "train.py"], ["commit", "-q", "-m", "1"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True
        )
    head = ["git", "rev-parse", "HEAD"]
    return subprocess.run(head, cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def _train(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `repo`'s train.py with `args`, as a user does, from the work tree."""
    return subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=repo,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "script",
    [
        'import flightlog\nflightlog.init(project="ctx", id="r1").finish()\n',
        'import flightlog\nflightlog.init(project="ctx", id="r1")\n',  # finished at exit
    ],
    ids=["finish-right-after-init", "script-ends-right-after-init"],
)
def test_a_run_that_ends_right_after_init_has_its_git_and_packages(
    api: flightlog.Api, tmp_path: Path, script: str
) -> None:
    commit = _work_tree(tmp_path / "repo", script)
    res = _train(tmp_path / "repo", "--lr", "0.1")
    assert res.returncode == 0, res.stderr
    run = api.run("ctx/r1")
    assert run.state == "finished"
    assert run.git["commit"] == commit and run.git["branch"] == "main"
    assert run.git["dirty"] is False
    assert run.meta["command"][-3:] == ["train.py", "--lr", "0.1"]
    reqs = (run.dir / "files" / "requirements.txt").read_text().splitlines()
    assert run.meta["packages"] == len(reqs) > 0
    assert (run.dir / "files" / "output.log").exists()  # the console copy, empty


def test_git_is_recorded_when_the_background_start_runs_after_the_script_ended(
    api: flightlog.Api, tmp_path: Path
) -> None:
    """The background start may first run once the script has ended (a busy machine): on
    Python 3.12 no thread can start then, but a process can, so git and the packages are
    still recorded by the exit hook's wait. (Forced here on any Python: the background
    start waits for the main thread to end.)"""
    commit = _work_tree(
        tmp_path / "repo",
        "import threading, flightlog\n"
        "from flightlog._run_background import RunBackground\n"
        "start = RunBackground._start_threads\n"
        "def late(self):\n"
        "    threading.main_thread().join(60)\n"
        "    start(self)\n"
        "RunBackground._start_threads = late\n"
        'flightlog.init(project="ctx", id="late")\n',
    )
    res = _train(tmp_path / "repo")
    assert res.returncode == 0, res.stderr
    assert "could not" not in res.stderr, res.stderr
    run = api.run("ctx/late")
    assert run.state == "finished"
    assert run.git["commit"] == commit and run.git["dirty"] is False
    assert run.meta["packages"] > 0


def test_kill_9_right_after_init_leaves_a_readable_run(api: flightlog.Api) -> None:
    proc = spawn("""
        import time, flightlog
        run = flightlog.init(project="ctx", id="k1", config={"lr": 0.1})
        print("started", flush=True)
        time.sleep(120)
    """)
    try:
        assert proc.stdout.readline() == "started\n"
    finally:
        proc.kill()
        proc.wait()
    run = api.run("ctx/k1")
    assert run.state == "crashed"
    assert run.config == {"lr": 0.1} and run.name.endswith("-1")
    assert run.meta["command"] and run.meta["host"]
    assert [r.id for r in api.runs("ctx")] == ["k1"]
