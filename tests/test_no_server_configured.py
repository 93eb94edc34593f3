"""With no server configured, `flightlog.login()` and an online run said "not signed in to
http://127.0.0.1:8080", an address the user never gave: they say no server is configured
and how to set one (FLIGHTLOG_BASE_URL, or `flightlog login --host URL`)."""

from __future__ import annotations

import pytest

from .conftest import cli, python_script

NO_SERVER = "no flightlog server is configured"


def _said(code: str, **env: str) -> str:
    done = python_script(code, env={"FLIGHTLOG_SILENT": "", **env})
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_login_without_a_server_says_none_is_configured() -> None:
    said = _said("import flightlog; assert flightlog.login() is False")
    assert NO_SERVER in said and "127.0.0.1" not in said
    assert "FLIGHTLOG_BASE_URL" in said and "flightlog login --host URL" in said


def test_an_online_run_without_a_server_says_none_is_configured() -> None:
    code = """
        import flightlog
        run = flightlog.init(project="p", mode="online")
        run.log({"a": 1})
        run.finish()
    """
    said = _said(code)
    assert NO_SERVER in said and "127.0.0.1" not in said
    assert "stored offline" in said and "flightlog login --host URL" in said


def test_a_server_given_is_named_when_there_is_no_key() -> None:
    said = _said(
        "import flightlog; assert flightlog.login() is False",
        FLIGHTLOG_BASE_URL="http://gpu-login:8080",
    )
    assert "not signed in to http://gpu-login:8080" in said


def test_login_verify_without_a_server_raises_saying_none_is_configured() -> None:
    import flightlog

    with pytest.raises(flightlog.errors.AuthenticationError, match=NO_SERVER):
        flightlog.login(verify=True)


def test_sync_without_a_server_says_none_is_configured() -> None:
    _said("import flightlog; flightlog.init(project='p', mode='offline').finish()")
    done = cli("sync", "--all")
    assert done.returncode == 1
    assert NO_SERVER in done.stderr and "127.0.0.1" not in done.stderr
