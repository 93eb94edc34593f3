"""`init(config="params.yaml")`, as wandb's init() takes a config file: a plain YAML mapping,
or wandb's own format (each key's `value`, the `config.yaml` wandb writes beside a run). A
file that cannot be a config is one clear error before the run is created."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog

from .test_bad_input import run_dirs

PLAIN = """\
lr: 0.001
optimizer:
  name: adam
  betas: [0.9, 0.999]
epochs: 10
"""

#: what wandb writes as files/config.yaml (and reads from config-defaults.yaml)
WANDB = """\
wandb_version: 1

lr:
  desc: learning rate
  value: 0.001
epochs:
  value: 10
_wandb:
  desc: null
  value:
    python_version: 3.11.7
"""


def test_a_plain_yaml_file(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(PLAIN)
    run = flightlog.init(project="p", config=str(path), config_exclude_keys=["epochs"])
    run.config.update({"seed": 1})
    run.finish(quiet=True)
    (stored,) = flightlog.Api(store).runs("p")
    assert stored.config == {
        "lr": 0.001,
        "optimizer": {"name": "adam", "betas": [0.9, 0.999]},
        "seed": 1,
    }


def test_wandbs_config_format(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "config-defaults.yaml"
    path.write_text(WANDB)
    run = flightlog.init(project="p", config=path)  # a Path as well as a str
    assert run.config["lr"] == 0.001 and run.config.epochs == 10
    run.finish(quiet=True)
    (stored,) = flightlog.Api(store).runs("p")
    assert stored.config["lr"] == 0.001
    assert stored.config["_wandb"] == {"python_version": "3.11.7"}
    assert "wandb_version" not in stored.config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lr: [0.1\n", "is not valid YAML"),
        ("- 0.1\n- 0.2\n", "holds a list, not a mapping"),
        ("\0", "is not valid YAML|cannot read"),
    ],
    ids=["broken", "a-list", "binary"],
)
def test_a_file_that_is_no_config_is_one_error_and_no_run(
    store: Path, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(flightlog.ConfigError, match=message) as caught:
        flightlog.init(project="p", config=str(path))
    assert "params.yaml" in str(caught.value)
    assert run_dirs(store) == []
