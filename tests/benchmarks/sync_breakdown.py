"""Where an upload's wall time goes, for bench_sync.py: the client's time waiting on the
server against its own work, how many requests were in flight, and how often the server
process was idle while the machine was or was not busy with other work.

Requests are timed around ServerClient._call (the whole request: sending the body, the
server's work, the answer); the server is sampled every 50 ms (its CPU time in the
interval, and the machine's busy share, to tell "the server waits for us" from "the
server waits for a core").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psutil

#: an interval in which the server used less than this share of a core is idle
IDLE_SHARE = 0.05
TICK = 0.05


@dataclass
class Breakdown:
    """What `watch` saw during one upload."""

    spans: list[tuple[float, float]] = field(default_factory=list)  # (start, end) per request
    ticks: list[tuple[float, float]] = field(default_factory=list)  # (server, machine) busy
    lock: threading.Lock = field(default_factory=threading.Lock)
    t0: float = 0.0

    def report(self, wall: float) -> str:
        waited = sum(b - a for a, b in self.spans)
        idle_link = _uncovered(self.spans, wall, self.t0)
        idle = [m for s, m in self.ticks if s < IDLE_SHARE]
        share = len(idle) / max(1, len(self.ticks))
        busy = sum(m for m in idle) / max(1, len(idle))
        cores = sum(s for s, _ in self.ticks) / max(1, len(self.ticks))
        return (
            f"  wall-time breakdown: {len(self.spans)} requests, {waited / wall:.2f} in flight "
            f"on average; no request in flight (the client working alone) "
            f"{idle_link / wall:.0%} of the wall time; the server used {cores:.2f} cores on "
            f"average and was idle in {share:.0%} of 50 ms ticks (the machine {busy:.0%} busy "
            "in those)"
        )


def _uncovered(spans: list[tuple[float, float]], wall: float, t0: float) -> float:
    """Seconds of [t0, t0 + wall] covered by no span."""
    covered, end = 0.0, t0
    for a, b in sorted(spans):
        a, b = max(a, end), max(b, end)
        covered += b - a
        end = b
    return max(0.0, wall - covered)


@contextmanager
def watch(server_pid: int) -> Iterator[Breakdown]:
    """Time every request of ServerClient and sample the server while the block runs."""
    from flightlog.sync.client import ServerClient

    out = Breakdown(t0=time.perf_counter())
    call = ServerClient._call

    def timed(self: ServerClient, *a: Any, **kw: Any) -> Any:
        t = time.perf_counter()
        try:
            return call(self, *a, **kw)
        finally:
            with out.lock:
                out.spans.append((t, time.perf_counter()))

    stop = threading.Event()

    def sample() -> None:
        proc = psutil.Process(server_pid)
        psutil.cpu_percent(None)
        last, at = sum(proc.cpu_times()[:2]), time.perf_counter()
        while not stop.wait(TICK):
            cpu, now = sum(proc.cpu_times()[:2]), time.perf_counter()
            machine = psutil.cpu_percent(None) / 100
            out.ticks.append(((cpu - last) / (now - at), machine))
            last, at = cpu, now

    ServerClient._call = timed  # type: ignore[method-assign]
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield out
    finally:
        stop.set()
        sampler.join()
        ServerClient._call = call  # type: ignore[method-assign]
