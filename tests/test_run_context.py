"""What init() records about the machine and the job, without being asked."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog

from .conftest import python_script


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
