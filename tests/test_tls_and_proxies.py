"""What stands between the client and its server, said as it is. A server whose TLS
certificate this machine does not trust (self-signed) is one line naming the certificate
problem and the fix (SSL_CERT_FILE, which flightlog's httpx honours), not five retries of an
"unreachable" server - and the fix works. A rate limit (429) is waited out as its Retry-After
asks, within bounds; a proxy's or gateway's 401 or 407 says that it refused authentication.
Before, all three were "not a flightlog server" or "cannot reach ... (after 5 attempts)"."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flightlog._errors import ServerUnavailableError, WrongServerError
from flightlog.store.blobs import BlobStore
from flightlog.sync.accounts import Accounts
from flightlog.sync.agent import Agent
from flightlog.sync.blob_client import download
from flightlog.sync.client import ServerClient
from flightlog.sync.credentials import Credentials
from flightlog.sync.retry_policy import RETRY_AFTER_CAP, retry_after
from flightlog.sync.server import create_app

from .conftest import cli
from .servers import app_in_thread, wait_until
from .sync_runs import small_runs

pytestmark = pytest.mark.slow


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    """A real flightlog server (uvicorn, on a thread: app_in_thread) over TLS on 127.0.0.1
    with a self-signed certificate made by `openssl`: (its URL, the certificate, alice's
    key)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl binary to make a certificate with")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    root = tmp_path / "server"
    accounts = Accounts(root)
    accounts.add_user("alice")
    alice = accounts.create_key("alice")
    with app_in_thread(create_app(root), ssl_certfile=str(cert), ssl_keyfile=str(key)) as port:
        yield f"https://127.0.0.1:{port}", cert, alice


def test_an_untrusted_certificate_is_one_line_with_the_fix_that_works(
    tls_server: tuple[str, Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, cert, alice = tls_server
    client = ServerClient(Credentials(url, alice, "env"), retries=4)
    with client, pytest.raises(WrongServerError) as e:  # not retried: no ServerUnavailable
        client.whoami()
    text = str(e.value)
    assert text.startswith(f"{url}'s TLS certificate is not trusted here"), text
    assert "self-signed certificate" in text and "SSL_CERT_FILE" in text, text
    r = cli("login", alice, "--host", url)
    assert r.returncode == 1
    (line,) = r.stderr.strip().splitlines()
    assert "TLS certificate is not trusted" in line and "SSL_CERT_FILE" in line, line
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # what the line says to do
    r = cli("login", alice, "--host", url)
    assert r.returncode == 0, r.stderr
    assert "logged in" in r.stdout and "as alice" in r.stdout, r.stdout


def test_a_certificate_for_another_name_says_so(
    tls_server: tuple[str, Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, cert, alice = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trusted, but issued for 127.0.0.1
    other = url.replace("127.0.0.1", "localhost")
    client = ServerClient(Credentials(other, alice, "env"), retries=4)
    with client, pytest.raises(WrongServerError) as e:
        client.whoami()
    text = str(e.value)
    assert "Hostname mismatch" in text and "the certificate is for another name" in text, text


def _answers(*answers: tuple[int, list[tuple[bytes, bytes]], bytes]):
    """An ASGI app giving `answers` in turn (the last one from then on), noting when each
    request came in `app.times`."""

    async def app(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        app.times.append(time.monotonic())  # type: ignore[attr-defined]
        while (await receive()).get("more_body"):
            pass
        status, headers, body = answers[min(len(app.times), len(answers)) - 1]  # type: ignore[attr-defined]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    app.times = []  # type: ignore[attr-defined]
    return app


HTML = [(b"content-type", b"text/html")]
WHOAMI = (200, [(b"content-type", b"application/json")], b'{"user": "alice"}')


def test_a_rate_limit_is_waited_out_as_retry_after_asks() -> None:
    limited = (429, [*HTML, (b"retry-after", b"1")], b"<title>Too Many Requests</title>")
    app = _answers(limited, limited, WHOAMI)
    with app_in_thread(app) as port:
        url = f"http://127.0.0.1:{port}"
        with ServerClient(Credentials(url, "fl_key", "env"), retries=4) as client:
            assert client.whoami()["user"] == "alice"
    gaps = [b - a for a, b in zip(app.times, app.times[1:], strict=False)]
    assert len(app.times) == 3 and min(gaps) >= 1.0, gaps  # no sooner than asked


def test_a_rate_limits_wait_is_on_its_error_whatever_the_client_does_next() -> None:
    """The agent reads the Retry-After from the error it caught: a request the same client
    started meanwhile (segments go up in parallel) answered at once and reset the client's
    own record of the wait before the agent read it."""
    limited = (429, [*HTML, (b"retry-after", b"2")], b"<title>Too Many Requests</title>")
    with app_in_thread(_answers(limited, WHOAMI)) as port:
        url = f"http://127.0.0.1:{port}"
        with ServerClient(Credentials(url, "fl_key", "env"), retries=0) as client:
            with pytest.raises(ServerUnavailableError) as e:
                client.whoami()
            assert client.whoami()["user"] == "alice"  # another request, after it
    assert e.value.wait == 2.0


def test_a_rate_limit_that_lasts_is_said_so() -> None:
    limited = (429, [*HTML, (b"retry-after", b"0")], b"<title>Too Many Requests</title>")
    with app_in_thread(_answers(limited)) as port:
        url = f"http://127.0.0.1:{port}"
        client = ServerClient(Credentials(url, "fl_key", "env"), retries=1)
        with client, pytest.raises(ServerUnavailableError) as e:
            client.whoami()
    assert "is rate-limiting: HTTP 429" in str(e.value), e.value
    assert "does not look like a flightlog server" not in str(e.value)


def test_a_rate_limited_download_is_to_be_tried_again(tmp_path: Path) -> None:
    limited = (429, HTML, b"<title>Too Many Requests</title>")
    with app_in_thread(_answers(limited)) as port:
        client = ServerClient(Credentials(f"http://127.0.0.1:{port}", "fl_key", "env"))
        with client, pytest.raises(ServerUnavailableError) as e:
            download(client, "alice", "p", "ab" * 32, BlobStore(tmp_path / "blobs"))
    assert "HTTP 429" in str(e.value) and "run it again" in str(e.value), e.value


def test_the_agent_waits_as_a_rate_limit_asks(store: Path) -> None:
    """The agent's client does not retry (its backoff does): its backoff honours Retry-After
    too, where it tried again after 0.25-1 s."""
    small_runs(1)
    limited = (429, [*HTML, (b"retry-after", b"2")], b"<title>Too Many Requests</title>")
    app = _answers(limited)
    lines: list[str] = []
    with app_in_thread(app) as port:
        client = ServerClient(Credentials(f"http://127.0.0.1:{port}", "fl_key", "env"), retries=0)
        agent = Agent(store, client, log=lines.append)
        thread = threading.Thread(target=agent.run, daemon=True)
        thread.start()
        try:
            wait_until(lambda: len(app.times) >= 3, 120, "three tries of the agent")
        finally:
            agent.stop.set()
            thread.join(60)
            client.close()
    gaps = [b - a for a, b in zip(app.times, app.times[1:], strict=False)]
    assert min(gaps) >= 2.0, gaps  # no sooner than asked
    assert any("HTTP 429" in m for m in lines), lines


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("2", 2.0), ("-5", 0.0), ("3600", RETRY_AFTER_CAP), ("soon", 0.0), ("", 0.0)],
)
def test_retry_after_is_bounded(value: str, seconds: float) -> None:
    r = httpx.Response(429, headers={"Retry-After": value} if value else {})
    assert retry_after(r) == seconds


def test_retry_after_as_a_date() -> None:
    soon = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= retry_after(httpx.Response(429, headers={"Retry-After": soon})) <= 30


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (401, "a proxy or gateway in front of {url} refused authentication (HTTP 401"),
        (407, "the proxy between here and {url} refused authentication (HTTP 407"),
    ],
)
def test_a_proxys_refusal_of_authentication_says_so(status: int, said: str) -> None:
    page = (status, HTML, b"<html><title>Authentication required</title></html>")
    with app_in_thread(_answers(page)) as port:
        url = f"http://127.0.0.1:{port}"
        r = cli("login", "fl_some_key", "--host", url)
    assert r.returncode == 1
    (line,) = r.stderr.strip().splitlines()
    assert said.format(url=url) in line, line
    assert "Authentication required" in line, line
    assert "does not look like a flightlog server" not in line, line
