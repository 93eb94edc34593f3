"""A config-defaults.yaml in the current directory that is not a config (a YAML typo, a
list, someone else's file in a cluster job's home directory) ended the training script at
init(): the script never named the file. It is left out with one warning naming the file,
what is wrong and the fix, and the run trains with the config it was given. Found by the
session-13 re-breaker."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog

from .conftest import python_script


@pytest.mark.parametrize("text", ["epochs: [1, 2\n", "- 1\n- 2\n"], ids=["typo", "list"])
def test_a_malformed_config_defaults_yaml_does_not_stop_training(
    tmp_path: Path, api: flightlog.Api, text: str
) -> None:
    (tmp_path / "config-defaults.yaml").write_text(text)
    res = python_script(
        """
        import flightlog as wandb
        run = wandb.init(project="p", config={"lr": 0.1})
        run.log({"loss": 0.5})
        print(run.id)
        run.finish()
        """,
        cwd=tmp_path,
        env={"FLIGHTLOG_SILENT": "0"},
    )
    assert res.returncode == 0, res.stderr
    assert api.run(f"p/{res.stdout.split()[0]}").config == {"lr": 0.1}
    assert "config-defaults.yaml" in res.stderr and "left out" in res.stderr, res.stderr
