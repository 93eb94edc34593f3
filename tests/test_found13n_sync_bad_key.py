"""Found following the README as a newcomer: with every run already synced, `flightlog
sync --all` under a key the server does not accept (a typo in FLIGHTLOG_API_KEY, a revoked
key) says "synced N run(s)" and exits 0. The check that the server still has the marked
runs (sync/uploader.py `forget_lost`) swallows the refusal, "the sync that follows says what
is wrong", but the sync that follows sends nothing, so nothing is said: the user learns of
the bad key only when a new run fails to sync later, from a job's log."""

from __future__ import annotations

import os

import pytest

from .conftest import cli
from .servers import LiveServer
from .sync_runs import small_runs


def test_a_refused_key_is_said_even_with_nothing_to_send(
    server: LiveServer, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_runs(1)
    assert cli("sync", "--all").returncode == 0
    monkeypatch.setenv("FLIGHTLOG_API_KEY", "flk_" + "x" * 40)
    assert os.environ["FLIGHTLOG_API_KEY"] != key

    r = cli("sync", "--all")
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "does not accept" in out or "not known" in out, out
    # the key comes from the environment, which overrides a stored login: the fix is there
    assert "FLIGHTLOG_API_KEY" in out, out
