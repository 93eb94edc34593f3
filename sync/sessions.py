"""Browser sessions: an API key entered once, exchanged for a session id kept in a cookie.

The browser never holds the key after the login form: the server answers a session id (32
random bytes) in a `Secure` (over https), `HttpOnly`, `SameSite=Strict` cookie, so page
scripts cannot read it and other sites cannot send it. Like keys, sessions are stored as
the sha256 of their id only, in the accounts database (the `sessions` table: SQLite's
`accounts.sqlite`, mode 0600, or the PostgreSQL database every replica shares, so a session
opened through one replica is valid on all and a logout ends it on all): a leaked table
opens no session. Each session also keeps the hash of the key it was opened
with, and is valid only while that key is: `flightlog server key revoke` ends the user's
browser sessions too. A session ends at logout or SESSION_SECONDS after login, whichever
comes first.

The cookie authenticates reads only (GET and HEAD): every request that changes something
still needs the `Authorization` header, so a forged cross-site form can do nothing even in
a browser that ignores SameSite (no CSRF token needed).
"""

from __future__ import annotations

import hashlib
import secrets
import time

from starlette.requests import Request
from starlette.responses import Response

from .accounts import Accounts, hash_key

COOKIE = "flightlog_session"
SESSION_SECONDS = 12 * 3600.0
#: methods a session cookie authenticates: reads only (see the module docstring)
COOKIE_METHODS = ("GET", "HEAD")


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class Sessions:
    """The browser sessions of a server, in its accounts database (the `sessions` table)."""

    def __init__(self, accounts: Accounts, lifetime: float = SESSION_SECONDS) -> None:
        self.accounts = accounts
        self.driver = accounts.driver
        self.lifetime = lifetime

    def open(self, key: str) -> tuple[str, str] | None:
        """(user, new session id) for a valid key, or None; expired sessions are dropped."""
        user = self.accounts.user_for_key(key)
        if user is None:
            return None
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        with self.driver.tx() as db:
            db.execute("DELETE FROM sessions WHERE expires < ?", [now])
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?)",
                [_hash(session_id), user, hash_key(key), now + self.lifetime],
            )
        return user, session_id

    def user_for(self, session_id: str) -> str | None:
        """The user of a live session whose key is still valid (the join), else None."""
        with self.driver.tx() as db:
            row = db.execute(
                'SELECT s."user" FROM sessions s JOIN keys k ON k.hash = s.key_hash '
                'AND k."user" = s."user" WHERE s.hash = ? AND s.expires >= ?',
                [_hash(session_id), time.time()],
            ).fetchone()
        return None if row is None else str(row[0])

    def close(self, session_id: str) -> None:
        with self.driver.tx() as db:
            db.execute("DELETE FROM sessions WHERE hash = ?", [_hash(session_id)])

    # -- HTTP ------------------------------------------------------------------------------
    def user_of_request(self, request: Request) -> str | None:
        """The session cookie's user, for a read; None for other methods or no session."""
        session_id = request.cookies.get(COOKIE)
        if not session_id or request.method not in COOKIE_METHODS:
            return None
        return self.user_for(session_id[:256])

    def set_cookie(self, request: Request, response: Response, session_id: str) -> None:
        response.set_cookie(
            COOKIE,
            session_id,
            max_age=int(self.lifetime),
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )

    @staticmethod
    def clear_cookie(request: Request, response: Response) -> None:
        response.delete_cookie(
            COOKIE,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
