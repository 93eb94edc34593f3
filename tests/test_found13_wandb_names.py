"""`import flightlog as wandb` in a resume script of many years: `wandb.util.generate_id()`
makes the id kept with the checkpoint, and `wandb.errors.CommError` guards init(), as with
the `import wandb` alias. Found by the session-13 breaker."""

from __future__ import annotations

import flightlog

from .conftest import python_script


def test_wandbs_util_and_errors_work_through_import_flightlog_as_wandb(
    api: flightlog.Api,
) -> None:
    res = python_script(
        """
        import flightlog as wandb
        run_id = wandb.util.generate_id()
        try:
            run = wandb.init(project="p", id=run_id, resume="allow")
        except wandb.errors.CommError:
            raise SystemExit("offline: never")
        run.log({"loss": 0.5})
        run.finish()
        print(run_id)
        """
    )
    assert res.returncode == 0, res.stderr
    run_id = res.stdout.split()[0]
    assert len(run_id) == 8
    assert api.run(f"p/{run_id}").summary["loss"] == 0.5
