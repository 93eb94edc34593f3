"""System metrics: a sampler thread writing its own stream, never the user's `_step`."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

import flightlog

from .conftest import python_script

pytestmark = pytest.mark.slow

LOGGER = """
    import flightlog, time
    run = flightlog.init(project="sys", id="s1")
    for i in range(30):
        run.log({"loss": 1 / (i + 1)})
        time.sleep(0.05)
    run.finish()
"""


def test_samples_at_the_set_interval_in_their_own_stream(api: flightlog.Api) -> None:
    res = python_script(LOGGER, env={"FLIGHTLOG_STATS_INTERVAL": "0.1"})
    assert res.returncode == 0, res.stderr
    run = api.run("sys/s1")
    assert [r["_step"] for r in run.scan_history()] == list(range(30))  # untouched
    system = list(run.scan_history(stream="system"))
    assert len(system) >= 3  # ~15 in the script's 1.5 s at 0.1 s; fewer on a loaded machine
    assert [r["_step"] for r in system] == list(range(len(system)))
    for key in (
        "system/cpu_percent",
        "system/proc_cpu_percent",
        "system/memory_percent",
        "system/proc_rss_mb",
        "system/disk_percent",
        "system/net_sent_mb",
    ):
        assert key in system[-1], key
    assert 0 <= system[-1]["system/memory_percent"] <= 100
    assert system[-1]["system/proc_rss_mb"] > 10
    gaps = [b["_timestamp"] - a["_timestamp"] for a, b in pairwise(system)]
    assert all(g > 0.05 for g in gaps), gaps  # never faster than set (slower under load)
    assert not any(k.startswith("system/gpu") for k in system[-1])  # no NVML here
    assert list((run.dir / "system").glob("*.parquet"))  # sealed at finish


def test_zero_turns_the_sampler_off(api: flightlog.Api) -> None:
    res = python_script(LOGGER, env={"FLIGHTLOG_STATS_INTERVAL": "0"})
    assert res.returncode == 0, res.stderr
    assert not (api.run("sys/s1").dir / "system").exists()


def test_gpu_metrics_through_nvml_when_it_answers(api: flightlog.Api, tmp_path: Path) -> None:
    # This machine has no GPU: a stand-in pynvml module answers as one GPU would.
    fake = tmp_path / "fake_nvml"
    fake.mkdir()
    (fake / "pynvml.py").write_text(
        "NVML_TEMPERATURE_GPU = 0\n"
        "class _U: gpu = 87\n"
        "class _M: used = 6 * 2**30; total = 8 * 2**30\n"
        "def nvmlInit(): pass\n"
        "def nvmlDeviceGetCount(): return 1\n"
        "def nvmlDeviceGetHandleByIndex(i): return i\n"
        "def nvmlDeviceGetUtilizationRates(h): return _U()\n"
        "def nvmlDeviceGetMemoryInfo(h): return _M()\n"
        "def nvmlDeviceGetTemperature(h, kind): return 64\n"
        "def nvmlDeviceGetPowerUsage(h): return 250000\n"
    )
    res = python_script(LOGGER, env={"FLIGHTLOG_STATS_INTERVAL": "0.1", "PYTHONPATH": str(fake)})
    assert res.returncode == 0, res.stderr
    last = list(api.run("sys/s1").scan_history(stream="system"))[-1]
    assert last["system/gpu.0.util_percent"] == 87.0
    assert last["system/gpu.0.memory_percent"] == 75.0
    assert last["system/gpu.0.temp_c"] == 64.0 and last["system/gpu.0.power_w"] == 250.0


def test_a_broken_nvml_is_no_error(api: flightlog.Api, tmp_path: Path) -> None:
    fake = tmp_path / "broken_nvml"
    fake.mkdir()
    (fake / "pynvml.py").write_text("def nvmlInit():\n    raise RuntimeError('no driver')\n")
    res = python_script(LOGGER, env={"FLIGHTLOG_STATS_INTERVAL": "0.1", "PYTHONPATH": str(fake)})
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert list(api.run("sys/s1").scan_history(stream="system"))


def test_bad_interval_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLIGHTLOG_STATS_INTERVAL", "often")
    with pytest.raises(flightlog.UsageError, match="not a number of seconds"):
        flightlog.init()


def test_unknown_stream_is_refused(api: flightlog.Api) -> None:
    run = flightlog.init(project="sys", id="s2", settings={"stats_interval": 0})
    run.finish(quiet=True)
    with pytest.raises(ValueError, match="unknown stream 'gpu'"):
        api.run("sys/s2").history(stream="gpu")
