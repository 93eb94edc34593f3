"""Summary and config changes made after `run.finish()` are not stored, and the script is
told so once (as log() after finish is), instead of losing them silently.

Found by the breaker session: `run.summary["test_acc"] = acc` after finish() (an evaluation
after training) changed the run object in memory only; `flightlog show`, the index and a
sync never saw it, and nothing said so. wandb refuses such calls with an error; flightlog
never raises into a training script, so it warns."""

from __future__ import annotations

import flightlog

from .conftest import python_script


def test_summary_and_config_changes_after_finish_are_said_not_stored(
    api: flightlog.Api,
) -> None:
    res = python_script(
        """
        import flightlog
        run = flightlog.init(project="p", id="late0001", config={"lr": 0.1})
        run.log({"loss": 0.5})
        run.finish()
        run.summary["test_acc"] = 0.9
        run.summary.update({"test_loss": 0.2})
        run.config.update({"eval_batch": 64})
        print("SCRIPT WENT ON")
        """
    )
    assert res.returncode == 0, res.stderr
    assert "SCRIPT WENT ON" in res.stdout
    said = [ln for ln in res.stderr.splitlines() if "is finished" in ln]
    assert len([ln for ln in said if "summary" in ln]) == 1, res.stderr
    assert len([ln for ln in said if "config" in ln]) == 1, res.stderr
    assert all("not stored" in ln for ln in said), said
    run = api.run("p/late0001")  # what was stored before finish() stays as it was
    assert run.summary["loss"] == 0.5 and "test_acc" not in run.summary
    assert run.config == {"lr": 0.1}
