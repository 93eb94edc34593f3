"""wandb loads `config-defaults.yaml` from the directory a script runs in into the config (the
sweeps documentation's habit); init(config=...) overrides its values. A script of such a
project reads `wandb.config.epochs` right after init(). Found by the session-13 breaker."""

from __future__ import annotations

from pathlib import Path

import flightlog

from .conftest import python_script


def test_config_defaults_yaml_fills_the_config(tmp_path: Path, api: flightlog.Api) -> None:
    (tmp_path / "config-defaults.yaml").write_text(
        "epochs:\n  desc: passes over the data\n  value: 3\nlr:\n  value: 0.01\n"
    )
    res = python_script(
        """
        import flightlog as wandb
        run = wandb.init(project="p", config={"lr": 0.1})
        print(run.id, wandb.config.epochs, wandb.config.lr)
        run.finish()
        """,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    run_id, epochs, lr = res.stdout.split()
    assert (epochs, lr) == ("3", "0.1")
    assert api.run(f"p/{run_id}").config == {"epochs": 3, "lr": 0.1}
