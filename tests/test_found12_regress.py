"""Found12 (breaker5): regressions in session 12's new code, each seen by a user."""

from __future__ import annotations

from pathlib import Path

import flightlog

#: a plain YAML config (no `wandb_version`) whose every key holds a mapping that happens to
#: have a `value` among its other settings: not wandb's format ({value, desc} only)
VALUED = """\
loss:
  name: focal
  value: 2.0
threshold:
  metric: f1
  value: 0.5
"""


def test_a_plain_yaml_config_of_mappings_with_a_value_is_kept_whole(
    store: Path, tmp_path: Path
) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(VALUED)
    run = flightlog.init(project="p", config=str(path))
    run.finish(quiet=True)
    (stored,) = flightlog.Api(store).runs("p")
    assert stored.config == {
        "loss": {"name": "focal", "value": 2.0},
        "threshold": {"metric": "f1", "value": 0.5},
    }
