"""Aliases on their way to a server across an upgrade: a sync mark written by the previous
flightlog holds no `aliases`, and every alias a pushed version had was taken as sent - also
one given here after that mark was written, which the server never had: it was never sent.
Now an alias the server has on none of the name's versions is sent; one it has (moved since
by another machine) is still not taken back (test_found16_artifact_sync)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import flightlog

from .conftest import settled
from .servers import LiveServer
from .test_found16_artifact_sync import _best_and_latest, _sync

pytestmark = pytest.mark.slow


def test_an_alias_given_between_an_old_sync_and_the_upgrade_reaches_the_server(
    server: LiveServer, tmp_path: Path
) -> None:
    key = server.user("alice")
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"epoch 0")
    run = flightlog.init(project="p", entity="alice")
    run.log_artifact(ckpt, name="net", type="model")
    settled()
    _sync(server, key, run.dir, running=True)  # the previous flightlog's agent
    mark_path = Path(run.dir) / "sync.json"
    mark = json.loads(mark_path.read_text())
    del mark["blobs"]["aliases"]  # as the previous flightlog wrote it
    mark_path.write_text(json.dumps(mark))
    # the same checkpoint logged again as `best` (the same version), before the upgrade
    assert run.log_artifact(ckpt, name="net", type="model", aliases=["best"]).version == "v0"
    run.finish()
    _sync(server, key, run.dir)  # this flightlog
    assert _best_and_latest(server, key) == (0, 0)
    digest = json.loads(mark_path.read_text())["blobs"]["artifacts"][0].split(":", 1)[1]
    assert json.loads(mark_path.read_text())["blobs"]["aliases"] == {f"p/net:{digest}": ["best"]}
