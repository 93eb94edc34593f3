"""The framework integrations as users run them (session 12's fault hunt): several processes,
checkpoints, resumes, on CPU in real child processes. Skipped when the framework is not
installed (the `integrations` extra installs them)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import flightlog

pytestmark = pytest.mark.slow


def _torchrun(code: str, tmp_path: Path, nproc: int = 2) -> subprocess.CompletedProcess[str]:
    """`code` as a script started by torchrun on `nproc` CPU ranks."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(code))
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    return subprocess.run(
        [*torchrun, f"--nproc_per_node={nproc}", str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_accelerate_tracker_under_torchrun_keeps_ddp_and_makes_one_run(
    store: Path, tmp_path: Path
) -> None:
    """A tracker object is built before the Accelerator it is given to; building it must not
    set up the distributed state (accelerate's own trackers wait for start())."""
    pytest.importorskip("accelerate")
    r = _torchrun(
        """
        from accelerate import Accelerator
        from flightlog.integrations.accelerate import FlightlogTracker

        acc = Accelerator(log_with=FlightlogTracker("ddp"), cpu=True)
        print(f"RANK {acc.process_index} OF {acc.num_processes}", flush=True)
        acc.init_trackers("ddp", config={"world": acc.num_processes})
        for step in range(3):
            acc.log({"loss": 1.0 / (step + 1)}, step=step)
        acc.end_training()
        """,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert sorted(line for line in r.stdout.splitlines() if line.startswith("RANK")) == [
        "RANK 0 OF 2",
        "RANK 1 OF 2",
    ]
    runs = flightlog.Api(store).runs("ddp")
    assert len(runs) == 1 and runs[0].state == "finished"
    assert runs[0].config == {"world": 2}
