"""A server URL with a password in it (`http://bob:s3cret@host`) is shown everywhere as
`http://bob:***@host`: in errors, in the remote UI's connection line, in `flightlog sync`'s
lines; and the API key is never shown. Before, every message printed the URL as given,
password and all. And since httpx sends such a URL's user:password as the Authorization
header, in the key's place, the server's refusal says so (before: "does not accept the API
key", of a key it never saw)."""

from __future__ import annotations

import pytest

from flightlog._errors import ServerUnavailableError, SyncError
from flightlog.sync.client import ServerClient
from flightlog.sync.client_errors import shown_url
from flightlog.sync.credentials import Credentials
from flightlog.sync.remote import RemoteReader

from .conftest import cli
from .servers import LiveServer, free_port
from .sync_runs import small_runs

pytestmark = pytest.mark.slow
PASSWORD = "s3cret"
KEY = "fl_0123456789abcdefkey"


def _with_password(url: str) -> str:
    return url.replace("http://", f"http://bob:{PASSWORD}@")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://bob:s3cret@host:8080/x", "http://bob:***@host:8080/x"),
        ("https://bob:p@ss:w@host", "https://bob:***@host"),  # an @ typed raw in it
        ("https://bob@host", "https://bob@host"),  # no password: nothing to hide
        ("https://host/a:b@c", "https://host/a:b@c"),  # a path is no password
    ],
)
def test_shown_url(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_errors_and_the_remote_ui_hide_the_password() -> None:
    down = _with_password(f"http://127.0.0.1:{free_port()}")
    client = ServerClient(Credentials(down, KEY, "env"), retries=0)
    with client, pytest.raises(ServerUnavailableError) as e:
        client.whoami()
    assert "bob:***@127.0.0.1" in str(e.value) and PASSWORD not in str(e.value), e.value
    reader = RemoteReader(down, environ={"FLIGHTLOG_API_KEY": KEY})
    try:
        with pytest.raises(ServerUnavailableError):
            reader.projects()
        shown = reader.status.text()
        assert "bob:***@127.0.0.1" in shown and PASSWORD not in shown, shown
        assert PASSWORD not in reader.url
    finally:
        reader.close()
    with pytest.raises(SyncError) as e:
        ServerClient(Credentials(_with_password("http://127.0.0.1:99999"), KEY, "env"))
    assert PASSWORD not in str(e.value) and "bob:***@" in str(e.value), e.value


def test_a_refusal_from_the_server_hides_password_and_key(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_runs(1)
    monkeypatch.setenv("FLIGHTLOG_BASE_URL", _with_password(server.url))
    monkeypatch.setenv("FLIGHTLOG_API_KEY", KEY)
    r = cli("sync", "--all")
    assert r.returncode == 1
    (error,) = [line for line in r.stderr.splitlines() if line.startswith("flightlog: error:")]
    assert "bob:***@127.0.0.1" in error, error
    assert PASSWORD not in error and KEY not in error, error
    assert "instead of the API key" in error and "without user:password@" in error, error


def test_sync_lines_hide_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    small_runs(1)
    monkeypatch.setenv("FLIGHTLOG_BASE_URL", _with_password(f"http://127.0.0.1:{free_port()}"))
    monkeypatch.setenv("FLIGHTLOG_API_KEY", KEY)
    r = cli("sync", "--all", timeout=180)
    out = r.stdout + r.stderr
    assert "bob:***@127.0.0.1" in out, out
    assert PASSWORD not in out and KEY not in out, out
