"""Browser sessions and the access log, over HTTP against a real server: a key exchanged for
a session cookie (never the key in it), reads only by cookie, expiry, logout and revocation;
one access line per request that never holds a key or a session id."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from flightlog.sync.accounts import Accounts
from flightlog.sync.sessions import COOKIE, Sessions

from .servers import LiveServer, answer_of, raw_request

pytestmark = pytest.mark.slow


def login(srv: LiveServer, key: str, **headers: str) -> httpx.Response:
    return httpx.post(f"{srv.url}/api/v1/session", json={"key": key}, headers=headers, timeout=30)


def test_a_key_becomes_an_httponly_strict_cookie_that_is_not_the_key(server: LiveServer):
    key = server.user("alice")
    r = login(server, key)
    assert r.status_code == 200 and r.json() == {"user": "alice"}
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and key not in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    session = r.cookies[COOKIE]
    me = httpx.get(f"{server.url}/api/v1/whoami", cookies={COOKIE: session}, timeout=30)
    assert me.status_code == 200 and me.json()["user"] == "alice"
    # behind a TLS proxy (X-Forwarded-Proto from 127.0.0.1, uvicorn's default trust) it is Secure
    assert "Secure" in login(server, key, **{"X-Forwarded-Proto": "https"}).headers["set-cookie"]


def test_a_bad_key_or_a_form_post_opens_no_session(server: LiveServer):
    server.user("alice")
    r = login(server, "flk_not-a-key")
    assert r.status_code == 401 and "set-cookie" not in r.headers
    assert "not known" in r.json()["message"]
    form = httpx.post(f"{server.url}/api/v1/session", data={"key": "x"}, timeout=30)
    assert form.status_code == 415 and "application/json" in form.json()["message"]


def test_the_cookie_authenticates_reads_only(server: LiveServer):
    """A cross-site form could carry the cookie in an old browser: it may not write."""
    session = login(server, server.user("alice")).cookies[COOKIE]
    r = httpx.put(
        f"{server.url}/api/v1/runs/alice/p/abc123",
        json={"meta": {"id": "abc123"}, "writers": []},
        cookies={COOKIE: session},
        timeout=30,
    )
    assert r.status_code == 401 and r.json()["error"] == "not_logged_in"
    assert not (server.root / "runs" / "alice.p").exists()


def test_logout_and_a_revoked_key_end_the_session(server: LiveServer):
    key = server.user("alice")
    whoami = f"{server.url}/api/v1/whoami"
    first = login(server, key).cookies[COOKIE]
    second = login(server, key).cookies[COOKIE]
    out = httpx.request(
        "DELETE", f"{server.url}/api/v1/session", json={}, cookies={COOKIE: first}, timeout=30
    )
    assert out.status_code == 200 and f'{COOKIE}=""' in out.headers["set-cookie"]
    assert httpx.get(whoami, cookies={COOKIE: first}, timeout=30).status_code == 401
    assert httpx.get(whoami, cookies={COOKIE: second}, timeout=30).status_code == 200
    server.accounts.revoke_keys("alice")
    assert httpx.get(whoami, cookies={COOKIE: second}, timeout=30).status_code == 401


def test_sessions_expire_and_the_file_holds_no_session_id_or_key(tmp_path: Path):
    accounts = Accounts(tmp_path)
    accounts.add_user("alice")
    key = accounts.create_key("alice")
    sessions = Sessions(accounts, lifetime=0.5)
    opened = sessions.open(key)
    assert opened is not None
    user, session_id = opened
    assert user == "alice" and sessions.user_for(session_id) == "alice"
    assert sessions.open("flk_wrong") is None
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("accounts.sqlite*"))
    assert session_id.encode() not in raw and key.encode() not in raw
    assert (tmp_path / "accounts.sqlite").stat().st_mode & 0o777 == 0o600
    end = time.monotonic() + 60
    while sessions.user_for(session_id) is not None and time.monotonic() < end:
        time.sleep(0.1)
    assert sessions.user_for(session_id) is None


def test_the_page_and_its_files_carry_a_strict_content_security_policy(server: LiveServer):
    assert "browser view at /" in (server.root / "server.log").read_text()  # the start line
    page = httpx.get(f"{server.url}/", timeout=30)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/web/app.js">' in page.text
    js = httpx.get(f"{server.url}/web/app.js", timeout=30)
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    again = httpx.get(
        f"{server.url}/web/app.js", headers={"If-None-Match": js.headers["etag"]}, timeout=30
    )
    assert again.status_code == 304
    for name in ("index.html", "..%2Fserver.py", "../server.py", "nope.js"):
        assert httpx.get(f"{server.url}/web/{name}", timeout=30).status_code == 404


def test_one_access_line_per_request_never_a_key_or_session(server: LiveServer):
    key = server.user("alice")
    session = login(server, key).cookies[COOKIE]
    auth = {"Authorization": f"Bearer {key}"}
    httpx.get(f"{server.url}/api/v1/whoami", headers=auth, timeout=30)
    httpx.get(f"{server.url}/api/v1/whoami", cookies={COOKIE: session}, timeout=30)
    httpx.get(f"{server.url}/api/v1/whoami", headers={"Authorization": "Bearer flk_bad"})
    httpx.get(f"{server.url}/api/v1/runs/alice/nope?filter={key}", headers=auth, timeout=30)
    httpx.get(f"{server.url}/no/such/%1B[2Jpage", timeout=30)
    log = server.root / "server.log"
    end = time.monotonic() + 60
    lines: list[str] = []
    while len(lines) < 6 and time.monotonic() < end:
        time.sleep(0.1)
        lines = [ln for ln in log.read_text().splitlines() if " INFO " in ln]
    fields = [ln.split()[-5:] for ln in lines]
    assert [f[:4] for f in fields] == [
        ["POST", "/api/v1/session", "200", "alice"],
        ["GET", "/api/v1/whoami", "200", "alice"],
        ["GET", "/api/v1/whoami", "200", "alice"],
        ["GET", "/api/v1/whoami", "401", "-"],
        ["GET", "/api/v1/runs/alice/nope", "404", "alice"],
        ["GET", "/no/such/\\x1b[2Jpage", "404", "-"],
    ]
    assert all(f[4].endswith("ms") and float(f[4][:-2]) >= 0 for f in fields)
    text = log.read_text()
    assert key not in text and key[4:] not in text and session not in text
    assert "\x1b" not in text


def test_no_access_log_turns_the_lines_off(live_server: Callable[..., LiveServer]):
    srv = live_server(flags=("--no-access-log",))
    assert httpx.get(f"{srv.url}/api/v1/whoami", timeout=30).status_code == 401
    assert httpx.get(f"{srv.url}/", timeout=30).status_code == 200
    srv.stop()  # its log complete
    assert " INFO " not in (srv.root / "server.log").read_text()


def test_a_stalled_login_body_is_cut_off_like_any_other_body(
    live_server: Callable[..., LiveServer],
):
    """The login reads its body within the server's idle and body timeouts (bodies.py): a
    client that sends the headers and then nothing does not hold the request forever."""
    srv = live_server(flags=("--idle-timeout", "2"))
    head = (
        "POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        'Content-Length: 1000\r\n\r\n{"key": '
    )
    answer = answer_of(raw_request(srv, head))  # then nothing: up to 60 s for an answer
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"error":"body_timeout"' in answer
