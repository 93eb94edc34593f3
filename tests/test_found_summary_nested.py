"""`run.summary` takes nested dicts, as wandb's does and as `log()` does: they are stored
under dotted keys (`{"best": {"acc": 0.9}}` is `best.acc`), like a logged row's.

Found by the breaker session: `run.summary.update({"best": {"acc": acc}})`, common in wandb
scripts, raised TypeError ("log() value for 'best' has type dict") into the training script."""

from __future__ import annotations

import flightlog

from .conftest import python_script


def test_nested_summary_values_are_stored_under_dotted_keys(api: flightlog.Api) -> None:
    res = python_script(
        """
        import flightlog
        run = flightlog.init(project="p", id="nest0001")
        run.log({"loss": 0.5})
        run.summary.update({"best": {"acc": 0.9, "epoch": 3}})
        run.summary["eval"] = {"f1": 0.75, "split": {"name": "val"}}
        print(run.summary["best.acc"], run.summary["eval.split.name"])
        run.finish()
        """
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["0.9", "val"]
    summary = api.run("p/nest0001").summary
    assert (summary["best.acc"], summary["best.epoch"]) == (0.9, 3)
    assert (summary["eval.f1"], summary["eval.split.name"]) == (0.75, "val")
    assert summary["loss"] == 0.5
