"""`resume="auto"` (wandb's `resume=True`) as a requeued Slurm job relies on it: "if your
process doesn't exit successfully, the next time you run it wandb will start logging from the
last step". A job preempted with SIGTERM (after `run.mark_preempting()`, whose docstring
promises exactly this) continues its run, as a killed one does. Found by the session-13
breaker."""

from __future__ import annotations

import signal

import flightlog

from .conftest import python_script, reaped, spawn

JOB = """
import sys, time
import flightlog as wandb
run = wandb.init(project="p", resume="auto")
print(run.id, run.resumed, run.step, flush=True)
run.log({"epoch": run.step})
if sys.argv[-1] == "preempted":
    run.mark_preempting()
    print("ready", flush=True)
    time.sleep(120)
run.finish()
"""


def _requeued() -> tuple[str, bool, int]:
    """The job run again, to its end: its run's id, whether it resumed, its first step."""
    res = python_script(JOB.replace("sys.argv[-1]", "'requeued'"))
    assert res.returncode == 0, res.stderr
    run_id, resumed, step = res.stdout.split()[:3]
    return run_id, resumed == "True", int(step)


def test_a_preempted_job_continues_its_run_when_requeued(api: flightlog.Api) -> None:
    with reaped(spawn(JOB.replace("sys.argv[-1]", "'preempted'"))) as job:
        assert job.stdout is not None
        first_id = job.stdout.readline().split()[0]
        assert job.stdout.readline().strip() == "ready"
        job.send_signal(signal.SIGTERM)  # Slurm preempts it
        assert job.wait(timeout=120) == -signal.SIGTERM
    run_id, resumed, step = _requeued()
    assert (run_id, resumed, step) == (first_id, True, 1)
    assert [r["epoch"] for r in api.run(f"p/{run_id}").scan_history()] == [0, 1]
