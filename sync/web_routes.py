"""The browser view at `http://server/`: a static page of our own, and the login it needs.

Why a page of our own rather than textual-serve (or Textual's web driver): those run one
Textual app process per open browser tab on the server, each holding a terminal's worth of
state and its own reads, and speak a websocket protocol that streams terminal frames - a team
of twenty people with a tab open each costs twenty Python processes, each acting for its
tab's user with that user's key, and a chart is drawn in character cells. A static page is
six small files (`web/`, 28 KiB, package data, no CDN: the machines are air-gapped) that the
browser caches and that call the same JSON API as `flightlog tui --host` and `Api(host=)`:
the server does only the filtering, sorting and chart downsampling it does for every client,
behind the same keys and permissions, and the charts are drawn in SVG at the browser's
resolution.

Login: `POST /api/v1/session` with `{"key": ...}` exchanges a key for a session cookie
(sessions.py); `DELETE /api/v1/session` logs out. Both take JSON only, which a cross-site
form cannot send without a CORS preflight this server never grants. Every page answer carries
a Content-Security-Policy allowing only this server's own scripts and styles, so even a
stored string that slipped into markup could not run; the scripts themselves put stored text
into the page only through `textContent` and SVG attributes, never as markup.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from .bodies import read_body
from .limits import ServerLimits
from .refused import Refused
from .sessions import COOKIE, Sessions

#: the page's files, by URL name: nothing else under web/ is served
STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "charts.js": "text/javascript; charset=utf-8",
    "views.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
MAX_LOGIN_BODY = 4096


@cache
def _asset(name: str) -> tuple[bytes, str]:
    """A file of web/ and its ETag (read once per process: package data never changes)."""
    data = resources.files("flightlog.sync").joinpath("web", name).read_bytes()
    return data, '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def _serve(request: Request, name: str, media_type: str) -> Response:
    data, etag = _asset(name)
    headers = {**PAGE_HEADERS, "ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media_type, headers=headers)


async def _json_body(request: Request, limits: ServerLimits) -> dict[str, object]:
    """The JSON object of a login or logout, read within the size and time limits of every
    body (bodies.py: a stalled login is cut off like a stalled upload)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise Refused("send the login as JSON: Content-Type: application/json", "invalid", 415)
    body = await read_body(request, MAX_LOGIN_BODY, limits)
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        raise Refused('body must be JSON: {"key": "flk_..."}', "invalid") from None
    if not isinstance(doc, dict):
        raise Refused('body must be JSON: {"key": "flk_..."}', "invalid")
    return doc


def web_router(sessions: Sessions, limits: ServerLimits) -> APIRouter:
    """The page, its files, and the session endpoints."""
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def index(request: Request) -> Response:
        return _serve(request, "index.html", "text/html; charset=utf-8")

    @router.get("/web/{name}")
    def asset(name: str, request: Request) -> Response:
        if name not in STATIC:
            raise Refused(f"no file {name[:100]!r} in the browser view", "not_found", 404)
        return _serve(request, name, STATIC[name])

    @router.post("/api/v1/session")
    async def login(request: Request) -> Response:
        """Exchange an API key for a session cookie (the key itself is never stored)."""
        key = (await _json_body(request, limits)).get("key")
        opened = None
        if isinstance(key, str) and key:
            opened = await run_in_threadpool(sessions.open, key.strip()[:256])  # database I/O
        if opened is None:
            raise Refused("this API key is not known to the server", "bad_key", 401)
        user, session_id = opened
        request.state.user = user
        response = JSONResponse({"user": user})
        sessions.set_cookie(request, response, session_id)
        return response

    @router.delete("/api/v1/session")
    async def logout(request: Request) -> Response:
        """End this browser's session (JSON only, see the module docstring)."""
        await _json_body(request, limits)
        session_id = request.cookies.get(COOKIE)
        if session_id:
            await run_in_threadpool(sessions.close, session_id[:256])  # a database write
        response = JSONResponse({"logged_out": True})
        Sessions.clear_cookie(request, response)
        return response

    return router
