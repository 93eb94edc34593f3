"""run.json changes made while the disk was full for a moment (session 16's fault hunt): a
config value set, an artifact used. The writer merges a run's changes into run.json on its
ticks; one that failed for the full disk must be written once there is room again, as the
rows are, not dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import python_script
from .test_full_tmpfs import tmpfs

pytestmark = pytest.mark.slow


SCRIPT = """
import os, flightlog
open({ckpt!r}, "wb").write(b"weights")
run = flightlog.init(project="disk", id="meta", dir={store!r}, settings={{"console": "off"}})
run.log_artifact({ckpt!r}, name="net", type="model")
with open({filler!r}, "wb", buffering=0) as f:
    try:
        while True:
            f.write(b"x" * 4096)
    except OSError:
        pass  # the disk is full
run.config.update({{"lr": 0.1}})
run.use_artifact("net:v0")
run.save()  # run.json now: the disk refuses it
os.remove({filler!r})
run.log({{"loss": 1.0}})
run.finish()
print("script survived")
"""


def test_config_and_artifacts_set_while_the_disk_was_full_reach_run_json(tmp_path: Path) -> None:
    with tmpfs(tmp_path, "16m") as disk:  # (root only: skipped elsewhere)
        store = disk / "store"
        code = SCRIPT.format(
            ckpt=str(tmp_path / "m.ckpt"), store=str(store), filler=str(disk / "filler")
        )
        res = python_script(code, timeout=180)
        assert res.returncode == 0, res.stderr
        assert "script survived" in res.stdout
        meta = json.loads((store / "runs" / "disk" / "meta" / "run.json").read_text())
    assert meta["config"] == {"lr": 0.1}
    assert [a["name"] for a in meta.get("used_artifacts") or []] == ["net"]
