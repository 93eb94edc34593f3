"""Found12 (breaker5): regressions in session 12's new code, each seen by a user."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog

from .conftest import cli, python_script
from .servers import LiveServer

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


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_under_the_console_copy_does_not_crash_finish(
    api: flightlog.Api, tmp_path: Path
) -> None:
    # files/output.log on /dev/full: every write that reaches the disk fails with ENOSPC,
    # as on a full disk; print()'s lines are buffered, then flushed at finish()
    res = python_script(
        """
        import os, flightlog
        from pathlib import Path
        run = flightlog.init(project="p", id="r1")
        log = Path(run.dir) / "files" / "output.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        os.symlink("/dev/full", log)
        print("epoch 1 done")
        run.log({"a": 1})
        run.finish()
        print("script survived")
        """
    )
    assert res.returncode == 0, res.stderr
    assert "script survived" in res.stdout
    assert api.run("p/r1").state == "finished"
    said = res.stderr.count("could not be written (No space left on device)")
    assert said == 1, res.stderr  # said, once


@pytest.mark.parametrize("path", ["/api/v1", "/flightlog"])
def test_a_server_url_with_a_path_that_is_not_its_root_says_the_url_is_wrong(
    server: LiveServer, path: str, tmp_path: Path
) -> None:
    key = server.user("alice")
    url = server.url + path
    r = cli("login", key, "--host", url)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    # the URL and the fix are named: the server answers, but there is no such route
    assert url in lines[0] and "--host" in lines[0] and "FLIGHTLOG_BASE_URL" in lines[0], r.stderr
    assert "not the flightlog server's root" in lines[0], r.stderr
    assert not list((tmp_path / "config").glob("*"))
