"""One access-log line per request: method, path, status, user, duration in milliseconds.

A pure ASGI middleware (not Starlette's BaseHTTPMiddleware, which buffers streamed answers),
logging on the `flightlog.access` logger after the answer's last byte - or after the
connection dropped, with status 499, or after a crash, with 500. The line holds only what
is safe to keep in a log file others read: the path without its query string, escaped so a
crafted URL cannot forge log lines or send terminal control codes; the user's name, as the
authentication dependency recorded it in the request's state (`-` when there was none);
never a header, so never a key, a cookie or a session id.

    2026-11-26 04:01:02 GET /api/v1/runs/alice/mnist 200 alice 3.4ms
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flightlog.store.text import safe

log = logging.getLogger("flightlog.access")

#: the longest path written to the log; the rest is cut (a path is bounded by the server's
#: header limits anyway, this keeps each line readable)
MAX_PATH = 300


class AccessLog:
    """Wraps an ASGI app; logs one line per HTTP request it serves."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 499  # the client went away before any answer (nginx's code for it)

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except BaseException:
            status = 500 if status == 499 else status
            raise
        finally:
            if log.isEnabledFor(logging.INFO):
                user = scope.get("state", {}).get("user") or "-"
                path = safe(scope.get("path", ""))[:MAX_PATH].replace(" ", "%20")
                ms = (time.perf_counter() - start) * 1000
                log.info("%s %s %d %s %.1fms", scope["method"], path, status, user, ms)
