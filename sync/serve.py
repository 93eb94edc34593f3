"""Running the app on uvicorn with the connection-level timeouts a shared service needs.

uvicorn closes idle keep-alive connections (`timeout_keep_alive`) but waits forever for the
headers of a request: a client that opens connections and trickles header bytes (slow loris)
would hold them all. `_protocol`'s class closes a connection whose request headers are not
complete within `header_timeout` seconds of the connection opening or the previous response
ending. Bodies are bounded in the app itself (`bodies.py`). A root is served by one server at
a time (`SERVER_LOCK`).

It is built on uvicorn's httptools parser (C) rather than h11 (pure Python): receiving a
0.7 MB segment through h11 cost the server more CPU than checking it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path
from typing import Any

from .limits import ServerLimits
from .lock import AgentLock, AgentRunningError

#: held (flock) by the server serving a root, while it lives: see `serve`
SERVER_LOCK = "server.lock"


def serve(
    root: Path | str,
    host: str,
    port: int,
    limits: ServerLimits | None = None,
    *,
    access_log: bool = True,
    db: str | None = None,
    store: str | None = None,
    pool: int = 8,
) -> None:
    """Run the server in the foreground until interrupted; `access_log`: a line per request
    (`db`, `store`: see create_app)."""
    import uvicorn

    from .server import create_app

    # one server per root: a second one lists only the runs it received itself, and its
    # start empties the upload directory under the first's uploads under way
    lock = AgentLock(Path(root), SERVER_LOCK, "flightlog server")
    try:
        lock.acquire()
    except AgentRunningError as e:
        raise ValueError(
            f"{e}: stop it first, or give this server a --root of its own (replicas share "
            "--db and --store, each with its own --root)"
        ) from None
    limits = limits or ServerLimits()
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("flightlog.server").addHandler(handler)
    access = logging.getLogger("flightlog.access")  # one line per request (access_log.py)
    access.addHandler(handler)
    access.setLevel(logging.INFO if access_log else logging.WARNING)
    app = create_app(root, limits, db=db, store_uri=store, pool=pool)
    # the app's ~80,000 objects live as long as the process: kept out of the garbage
    # collector's full passes (each ~50-90 ms of the GIL on a loaded machine, about once per
    # 400 runs received)
    gc.freeze()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        http=_protocol(limits.header_timeout),
        timeout_keep_alive=min(5, int(limits.idle_timeout)) or 1,
        timeout_graceful_shutdown=10,
        limit_concurrency=limits.max_connections,
    )
    try:
        uvicorn.Server(config).run()
    finally:
        lock.release()


def _protocol(header_timeout: float) -> type:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class _TimedHttpTools(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            if self.cycle is None or self.cycle.response_complete:
                self.transport.close()

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            self._disarm()  # the headers are in: the app bounds the body

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return _TimedHttpTools
