"""The system-metrics sampler: what the machine was doing while the run trained.

A thread started by init() samples every `stats_interval` seconds (15 by default,
FLIGHTLOG_STATS_INTERVAL, at least 0.1, 0 turns it off) and writes `system/...` keys to the
run's system stream, which never advances the user's `_step`. psutil gives CPU, memory, disk
and network; NVML (the nvidia-ml-py package, imported as pynvml) adds per-GPU utilisation,
memory, temperature and power when it is installed and a GPU answers - never a dependency,
never an error when absent. Both are imported in the sampler's thread, off init()'s path.
Segments are sealed by age as history's are (`seal_after`, the run's segment_seconds), so
the agent uploads system metrics while the run trains.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flightlog.store.samples import SampleWriter
from flightlog.store.threads import start_thread

MIN_INTERVAL = 0.1
MB = 1024 * 1024


def _gpus() -> Any:
    """An object with a sample() -> dict method for NVIDIA GPUs, or None."""
    try:
        import pynvml  # type: ignore[import-not-found]

        pynvml.nvmlInit()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
    except Exception:  # not installed, no driver, no GPU: no GPU metrics
        return None
    if not handles:
        return None

    class _Nvml:
        def sample(self) -> dict[str, float]:
            out: dict[str, float] = {}
            for i, h in enumerate(handles):
                try:
                    util = pynvml.nvmlDeviceGetUtilizationRates(h)
                    mem = pynvml.nvmlDeviceGetMemoryInfo(h)
                    out[f"system/gpu.{i}.util_percent"] = float(util.gpu)
                    out[f"system/gpu.{i}.memory_percent"] = 100.0 * mem.used / mem.total
                    out[f"system/gpu.{i}.memory_used_mb"] = mem.used / MB
                    out[f"system/gpu.{i}.temp_c"] = float(
                        pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU)
                    )
                    out[f"system/gpu.{i}.power_w"] = pynvml.nvmlDeviceGetPowerUsage(h) / 1000
                except Exception:  # a GPU that stops answering is skipped, not fatal
                    continue
            return out

    return _Nvml()


class Sampler:
    """Samples until stopped; `stop()` writes nothing more and seals the stream."""

    def __init__(
        self,
        run_dir: Path,
        writer_id: str,
        label: str,
        interval: float,
        warn: Callable[[str], None],
        seal_after: float | None = None,
    ) -> None:
        self.interval = max(interval, MIN_INTERVAL)
        self.writer = SampleWriter(run_dir / "system", writer_id, label, warn, seal_after)
        self._run_dir = run_dir
        self._stop = threading.Event()
        #: held while a sample is written and while `stop()` seals the stream, which so
        #: need not wait for the thread to end (a busy machine may not run it for ms)
        self._writing = threading.RLock()
        self._closed = False
        start_thread(self._loop, "flightlog-system")

    def _loop(self) -> None:
        try:
            import psutil
        except ImportError:  # pragma: no cover - a dependency; a broken install only
            return
        proc = psutil.Process(os.getpid())
        proc.cpu_percent(None)
        psutil.cpu_percent(None)
        disk0 = psutil.disk_io_counters()
        net0 = psutil.net_io_counters()
        gpus = _gpus()
        while not self._stop.wait(self.interval):
            row: dict[str, float] = {
                "system/cpu_percent": psutil.cpu_percent(None),
                "system/proc_cpu_percent": proc.cpu_percent(None),
                "system/memory_percent": psutil.virtual_memory().percent,
                "system/proc_rss_mb": proc.memory_info().rss / MB,
            }
            try:
                row["system/disk_percent"] = psutil.disk_usage(
                    str(self._run_dir)
                ).percent  # the store's disk
            except OSError:
                pass
            disk, net = psutil.disk_io_counters(), psutil.net_io_counters()
            if disk and disk0:
                row["system/disk_read_mb"] = (disk.read_bytes - disk0.read_bytes) / MB
                row["system/disk_write_mb"] = (disk.write_bytes - disk0.write_bytes) / MB
            if net and net0:
                row["system/net_sent_mb"] = (net.bytes_sent - net0.bytes_sent) / MB
                row["system/net_recv_mb"] = (net.bytes_recv - net0.bytes_recv) / MB
            if gpus is not None:
                row.update(gpus.sample())
            with self._writing:
                if self._closed:
                    return
                self.writer.write(time.time(), row)

    def stop(self) -> None:
        """Seal the stream; the thread ends at its next wake-up, and nothing waits for it."""
        self._stop.set()
        with self._writing:
            if not self._closed:
                self._closed = True
                self.writer.close()
