"""Two (or more) `flightlog server` replicas on one PostgreSQL and one bucket, behind a small
round-robin HTTP proxy: what tests/test_scale_*.py and bench_scale.py deploy."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from flightlog.sync.accounts import Accounts
from tests.servers import LiveServer, free_port


class Replica(LiveServer):
    """`flightlog server --root SCRATCH --db URL --store URI`; accounts in the shared db."""

    def __init__(self, scratch: Path, accounts: Accounts, db: str, store: str) -> None:
        scratch.mkdir(parents=True, exist_ok=True)
        super().__init__(scratch, flags=("--db", db, "--store", store, "--db-pool", "4"))
        self.accounts = accounts


class RoundRobin:
    """An HTTP proxy that sends each request to the next replica, as a load balancer does,
    and skips a replica that refuses connections (a dead one). A replica that dies while
    answering gives the client a 502, which it retries."""

    def __init__(self, upstreams: list[str]) -> None:
        self.upstreams = upstreams
        self.hits: Counter[str] = Counter()
        self._next = itertools.count()
        self.port = free_port()
        self._server = uvicorn.Server(
            uvicorn.Config(
                self._app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                lifespan="off",
                interface="asgi3",
            )
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        end = time.monotonic() + 60
        while not self._server.started:
            if time.monotonic() > end:
                raise TimeoutError("the round-robin proxy did not start")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        skip = (b"host", b"content-length", b"connection")
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in skip]
        url = scope["path"] + (
            f"?{scope['query_string'].decode()}" if scope["query_string"] else ""
        )
        resp = None
        for _ in self.upstreams:
            up = self.upstreams[next(self._next) % len(self.upstreams)]
            try:
                async with httpx.AsyncClient(timeout=300) as c:
                    resp = await c.request(scope["method"], up + url, content=body, headers=headers)
                self.hits[up] += 1
                break
            except httpx.ConnectError:
                continue  # a dead replica: the next one
            except httpx.TransportError:
                break  # died mid-request: the client sees a 502 and retries
        if resp is None:
            await send({"type": "http.response.start", "status": 502, "headers": []})
            await send({"type": "http.response.body", "body": b'{"error": "bad_gateway"}'})
            return
        drop = {"content-length", "content-encoding", "transfer-encoding", "connection"}
        out = [(k.encode(), v.encode()) for k, v in resp.headers.items() if k.lower() not in drop]
        out.append((b"content-length", str(len(resp.content)).encode()))
        await send({"type": "http.response.start", "status": resp.status_code, "headers": out})
        await send({"type": "http.response.body", "body": resp.content})

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


class Cluster:
    """N replicas, their proxy, the database and the bucket."""

    def __init__(self, tmp: Path, db: str, store: str, replicas: int = 2) -> None:
        self.db, self.store = db, store
        self.accounts = Accounts(db=db)
        self.replicas = [
            Replica(tmp / f"replica{i}", self.accounts, db, store) for i in range(replicas)
        ]
        for r in self.replicas:
            r.start()
        self.proxy = RoundRobin([r.url for r in self.replicas])

    def user(self, name: str) -> str:
        return self.replicas[0].user(name)

    def env(self, key: str) -> dict[str, str]:
        return {"FLIGHTLOG_BASE_URL": self.proxy.url, "FLIGHTLOG_API_KEY": key}

    def close(self) -> None:
        self.proxy.close()
        for r in self.replicas:
            r.stop()
        self.accounts.driver.close()
