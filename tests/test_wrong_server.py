"""A server URL that is not a flightlog server's - a plain web server, another API's 404
for /api/v1, a proxy's login page or redirect, text that is no URL - must give one readable
line naming the URL, the status, that it does not look like a flightlog server and where the
URL comes from; what the server sent is escaped and cut short. Before: "refused the request:
<!DOCTYPE HTML>..." with no status code, a JSON decoding error, 501 retried five times as an
unreachable server, or httpx's "Invalid port"."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flightlog.store.text import CONTROL

from .conftest import cli
from .servers import app_in_thread, free_port, wait_for_port, wait_until
from .sync_runs import Lines, small_runs

pytestmark = pytest.mark.slow

#: a login page's title with a terminal escape in it: it must not reach the terminal raw
LOGIN_TITLE = "Corp SSO \x1b]0;owned\x07 - please sign in"


#: where python's http.server logs the requests it answered (in the test's tmp_path)
ACCESS_LOG = "http.server.log"


def _page(status: int, body: bytes, kind: bytes, extra: list | None = None):
    """An ASGI app that answers every request so (and counts them in `app.hits`)."""

    async def app(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        app.hits.append(scope["path"])  # type: ignore[attr-defined]
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-type", kind), *(extra or [])]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    app.hits = []  # type: ignore[attr-defined]
    return app


PAGES = {
    "login-page": (
        _page(200, f"<html><head><title>{LOGIN_TITLE}</title></head></html>".encode(),
              b"text/html; charset=utf-8"),
        "HTTP 200",
    ),
    "redirect": (
        _page(302, b"", b"text/html", [(b"location", b"https://sso.example.com/login?next=/")]),
        "HTTP 302 (a redirect to https://sso.example.com/login",
    ),
    "json-404": (_page(404, b'{"detail":"Not Found"}', b"application/json"), "HTTP 404"),
}  # fmt: skip


@pytest.fixture(params=["http.server", *PAGES])
def wrong_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(a URL that answers, but not as a flightlog server; what the error must quote)."""
    for app, _ in PAGES.values():
        app.hits.clear()
    if request.param == "http.server":  # python's own: HTML 404 to GET, 501 to PUT/POST
        port = free_port()
        (tmp_path / "www").mkdir()
        with (tmp_path / ACCESS_LOG).open("w") as log:  # a line a request
            proc = subprocess.Popen(
                [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                cwd=tmp_path / "www",
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        try:
            wait_for_port(port, proc)  # type: ignore[arg-type]
            yield f"http://127.0.0.1:{port}", "HTTP "
        finally:
            proc.kill()
            proc.wait()
        return
    app, quoted = PAGES[request.param]
    with app_in_thread(app) as port:
        yield f"http://127.0.0.1:{port}", quoted


def assert_one_readable_line(stderr: str, url: str, quoted: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    (line,) = lines
    assert line.startswith(f"flightlog: error: {url} does not look like a flightlog server"), line
    assert quoted in line, line
    assert "--host" in line and "FLIGHTLOG_BASE_URL" in line and "flightlog login" in line, line
    assert "<!DOCTYPE" not in line and "<html" not in line, line
    assert not CONTROL.search(line), repr(line)
    assert len(line) < 400, line


@pytest.mark.parametrize("entity", [None, "alice"])  # whoami first, or straight to a PUT/POST
def test_sync_to_a_wrong_url(wrong_url: tuple[str, str], entity: str | None, monkeypatch) -> None:
    url, quoted = wrong_url
    small_runs(2)
    monkeypatch.setenv("FLIGHTLOG_BASE_URL", url)
    monkeypatch.setenv("FLIGHTLOG_API_KEY", "fl_not_checked_here")
    r = cli("sync", "--all", *(["--entity", entity] if entity else []), timeout=120)
    assert r.returncode == 1
    assert_one_readable_line(r.stderr, url, quoted)
    assert "synced" not in r.stdout


def test_login_to_a_wrong_url_stores_nothing(wrong_url: tuple[str, str], tmp_path: Path) -> None:
    url, quoted = wrong_url
    r = cli("login", "fl_some_key", "--host", url)
    assert r.returncode == 1
    assert_one_readable_line(r.stderr, url, quoted)
    assert not list((tmp_path / "config").glob("*"))


def test_a_login_page_title_is_quoted_escaped() -> None:
    with app_in_thread(PAGES["login-page"][0]) as port:
        r = cli("login", "fl_some_key", "--host", f"http://127.0.0.1:{port}")
    assert "Corp SSO \\x1b]0;owned\\x07 - please sign in" in r.stderr, r.stderr


@pytest.mark.parametrize("host", ["notaurl::", "http://host:99999", "ftp://files.example"])
def test_login_to_text_that_is_no_url(host: str) -> None:
    r = cli("login", "fl_some_key", "--host", host)
    assert r.returncode == 1
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("flightlog: error: ") and "is not a server URL" in line, line
    assert host.rstrip(":") in line, line
    assert "--host" in line and "FLIGHTLOG_BASE_URL" in line, line


def test_the_agent_logs_a_wrong_url_once(
    wrong_url: tuple[str, str], store: Path, tmp_path: Path
) -> None:
    url, quoted = wrong_url
    small_runs(3)
    env = {"FLIGHTLOG_BASE_URL": url, "FLIGHTLOG_API_KEY": "fl_k"}
    agent = Lines("sync", "--watch", str(store), env=env)
    access_log = tmp_path / ACCESS_LOG  # the plain web server's requests

    def hits() -> int:
        served = access_log.read_text().count("HTTP/1.") if access_log.exists() else 0
        return served + sum(len(app.hits) for app, _ in PAGES.values())

    try:
        wait_until(lambda: agent.having("flightlog server"), 120, "the agent to say so")
        wait_until(lambda: hits() >= 3, 120, "the agent to try every run")  # each of the three
    finally:
        log = agent.stop()
    told = agent.having("flightlog server")
    assert len(told) == 1, log  # once, not once per run
    assert url in told[0] and quoted in told[0], told
    assert "does not look like a flightlog server" in told[0], told
    assert not CONTROL.search(told[0]), repr(told[0])


def test_https_for_a_server_that_speaks_http(server, monkeypatch) -> None:
    """Not retried as an unreachable server (five tries, then "run it again when the server
    is up"): one line with the URL that works."""
    https = server.url.replace("http://", "https://")
    small_runs(1)
    monkeypatch.setenv("FLIGHTLOG_BASE_URL", https)
    monkeypatch.setenv("FLIGHTLOG_API_KEY", server.user("alice"))
    for args in (("login", "--host", https), ("sync", "--all")):
        r = cli(*args)
        assert r.returncode == 1
        (line,) = r.stderr.strip().splitlines()
        assert line.startswith(f"flightlog: error: {https} does not speak HTTPS"), line
        assert f"use {server.url} if that is the flightlog server" in line, line
