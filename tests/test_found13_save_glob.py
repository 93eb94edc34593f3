"""`wandb.save("checkpoints/*.pt")` at the top of a training script, before the first
checkpoint exists (a habit of years): wandb says nothing matched yet and training goes on;
flightlog must not end the script. Found by the session-13 breaker."""

from __future__ import annotations

import flightlog

from .conftest import python_script


def test_a_save_glob_matching_nothing_yet_does_not_stop_training(api: flightlog.Api) -> None:
    res = python_script(
        """
        import flightlog as wandb
        run = wandb.init(project="p")
        print(wandb.save("checkpoints/*.pt"))
        for epoch in range(3):
            run.log({"epoch": epoch})
        print(run.id)
        run.finish()
        """
    )
    assert res.returncode == 0, res.stderr
    saved, run_id = res.stdout.splitlines()[:2]
    assert saved == "[]"
    assert "checkpoints/*.pt" in res.stderr and "matched no file" in res.stderr, res.stderr
    assert "save" in res.stderr.split("matched no file", 1)[1]  # ... and says to save again
    assert [r["epoch"] for r in api.run(f"p/{run_id}").scan_history()] == [0, 1, 2]
