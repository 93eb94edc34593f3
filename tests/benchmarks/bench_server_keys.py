"""The server's keys route (`GET .../keys?stream=history`, what `run.history_keys` and
`history_line_count` ask through `Api(host=)`) on a long run: a real server of this checkout
against one of a baseline interpreter (another checkout's, `--baseline`), asked alternately
in the same run.

    python tests/benchmarks/bench_server_keys.py [--steps 4000000] [--stride 5]
                                                 [--rounds 5] [--baseline PYTHON]

The run holds one float key logged every STRIDE-th step for STEPS steps, in segments of
500,000 rows placed straight into each server's root (as tests/test_server_reads.py
places them). Each server is asked once untimed (imports, DuckDB, the page cache), then
ROUNDS times, the two alternating; printed: the load average, the median wall time of the
request, the server's peak RSS after its first request and how much that request grew it
(VmHWM, reset before each request; later requests reuse what the first left allocated),
and the most a later one grew it, with the ratios to the baseline. The answers must be
equal.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: its tests
from tests.servers import LiveServer, free_port, segment_file, tidy_table, wait_for_port

SEGMENT_ROWS = 500_000


def build(root: Path, steps: int, stride: int) -> str:
    """alice's run p/long in a server root; alice's key."""
    server = LiveServer(root).start()
    try:
        key = server.user("alice")
        with server.client(key) as c:
            c.put_run("alice", "p", "long", {"id": "long", "created_at": 0.0}, [])
    finally:
        server.stop()
    history = root / "runs" / "@alice/p/long/history"
    for seq, first in enumerate(range(0, steps, SEGMENT_ROWS), 1):
        t = tidy_table(min(SEGMENT_ROWS, steps - first), start=first)
        strided = t.set_column(0, "step", pc.multiply(t.column("step"), stride))
        segment_file(history, strided, seq=seq)
    return key


def _kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=4_000_000)
    ap.add_argument("--stride", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--read-memory-mb", type=int, default=256, help="both servers' flag")
    ap.add_argument("--baseline", help="another checkout's python, asked alternately")
    args = ap.parse_args()
    pythons = {"now": sys.executable, **({"base": args.baseline} if args.baseline else {})}
    tmp = Path(tempfile.mkdtemp(prefix="bench-server-keys-"))
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        key = build(tmp / "now", args.steps, args.stride)
        ports = {}
        for name, python in pythons.items():
            root = tmp / name
            if not root.exists():
                shutil.copytree(tmp / "now", root)
            ports[name] = free_port()
            cmd = [python, "-m", "flightlog.cli", "server", "--root", str(root)]
            cmd += ["--read-memory-mb", str(args.read_memory_mb)]
            log = open(root / "server.log", "ab")  # noqa: SIM115 - the server's, closed with it
            procs[name] = subprocess.Popen(
                [*cmd, "--port", str(ports[name])], stdout=log, stderr=subprocess.STDOUT
            )
            wait_for_port(ports[name], procs[name])
        headers = {"Authorization": f"Bearer {key}"}

        def ask(name: str) -> tuple[float, float, float, dict]:
            pid = procs[name].pid
            Path(f"/proc/{pid}/clear_refs").write_text("5")
            before = _kb(pid, "VmRSS")
            t0 = time.perf_counter()
            r = httpx.get(
                f"http://127.0.0.1:{ports[name]}/api/v1/runs/alice/p/long/keys",
                headers=headers,
                timeout=3600,
            )
            wall = time.perf_counter() - t0
            r.raise_for_status()
            peak = _kb(pid, "VmHWM")
            return wall, (peak - before) / 1024, peak / 1024, r.json()

        first = {name: ask(name) for name in pythons}  # untimed
        assert len({repr(a[3]) for a in first.values()}) == 1, first
        walls: dict[str, list[float]] = {n: [] for n in pythons}
        grew: dict[str, list[float]] = {n: [] for n in pythons}
        for _ in range(args.rounds):
            for name in pythons:
                wall, mb, _, _ = ask(name)
                walls[name].append(wall)
                grew[name].append(mb)
        print(f"load average {os.getloadavg()}")
        print(
            f"keys route, {args.steps:,} steps (one every {args.stride}), "
            f"median of {args.rounds}, alternating, --read-memory-mb {args.read_memory_mb}"
        )
        for name in pythons:
            print(
                f"  {name:5} {statistics.median(walls[name]) * 1000:8.0f} ms  first request: "
                f"peak RSS {first[name][2]:.0f} MB (+{first[name][1]:.0f}); later ones "
                f"+{max(grew[name]):.0f} MB at most"
            )
        if "base" in pythons:
            w = statistics.median(walls["now"]) / statistics.median(walls["base"])
            m = first["now"][1] / first["base"][1]
            print(f"  now/base: wall {w:.2f}x, the first request's peak RSS growth {m:.2f}x")
    finally:
        for p in procs.values():
            p.terminate()
            p.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
