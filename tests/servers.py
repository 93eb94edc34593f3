"""A real flightlog server in a subprocess on 127.0.0.1 (or on a thread, for tests that hook
its code), and a TCP proxy that drops connections, for the sync tests; raw requests on a
socket and what the server read of them;
the server's memory (RSS and its peak) and a snapshot of its store, for the hardening tests;
stopping a store's sync agent."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from flightlog.sync.accounts import Accounts
from flightlog.sync.client import ServerClient
from flightlog.sync.credentials import Credentials
from flightlog.sync.lock import LOCK_FILE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Until `proc` itself listens on `port`: not another test's server that took the port
    between free_port() and the bind (parallel workers), and not a wait for a dead process."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        try:
            conns = psutil.Process(proc.pid).net_connections(kind="tcp")
        except psutil.Error:
            conns = []
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in conns):
            return
        time.sleep(0.05)
    raise TimeoutError(f"the server (exit code {proc.poll()}) does not listen on port {port}")


def _port_taken(log: Path, since: int) -> bool:
    """Whether the server's log says, after byte `since`, that its port was in use."""
    with open(log, "rb") as f:
        f.seek(since)
        return b"address already in use" in f.read().lower()


class LiveServer:
    """`flightlog server --root ROOT --port PORT`, for real; restartable on the same port."""

    def __init__(
        self, root: Path, max_upload_mb: float | None = None, flags: tuple[str, ...] = ()
    ) -> None:
        self.root = root
        self.port = free_port()
        self.max_upload_mb = max_upload_mb
        self.flags = flags
        self.proc: subprocess.Popen[bytes] | None = None
        self.accounts = Accounts(root)
        self._started = False  # a restart keeps its port (clients know it)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        args = [
            sys.executable,
            "-m",
            "flightlog.cli",
            "server",
            "--root",
            str(self.root),
            "--port",
            str(self.port),
        ]
        if self.max_upload_mb is not None:
            args += ["--max-upload-mb", str(self.max_upload_mb)]
        args += self.flags
        for _ in range(5):
            log_path = self.root / "server.log"
            seen = log_path.stat().st_size if log_path.exists() else 0
            with open(log_path, "ab") as log:
                self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
            try:
                wait_for_port(self.port, self.proc)
                self._started = True
                return self
            except TimeoutError:
                if self._started or not _port_taken(log_path, seen):
                    raise
            # another test's server took the port between free_port() and the bind
            self.port = free_port()
            args[args.index("--port") + 1] = str(self.port)
        raise TimeoutError("no free port for the server after 5 tries")

    def kill(self) -> None:
        """kill -9: no graceful shutdown, as a crashed or unplugged server."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_mb(self) -> float:
        """The server process's resident memory now."""
        return _status_kb(self.pid, "VmRSS") / 1024

    def reset_peak(self) -> float:
        """Reset the kernel's peak-RSS mark of the server (VmHWM) to its RSS now; return it."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        return self.rss_mb()

    def peak_mb(self) -> float:
        """The most resident memory the server had since `reset_peak` (or its start)."""
        return _status_kb(self.pid, "VmHWM") / 1024

    def user(self, name: str) -> str:
        """Add a user and return a fresh key of theirs."""
        if self.accounts.kind(name) is None:
            self.accounts.add_user(name)
        return self.accounts.create_key(name)

    def client(self, key: str, retries: int = 0) -> ServerClient:
        """A client of this server signed in with `key` (no retries unless asked: a test
        sees the first failure)."""
        return ServerClient(Credentials(self.url, key, "file"), retries=retries)

    def env(self, key: str | None) -> dict[str, str]:
        out = {"FLIGHTLOG_BASE_URL": self.url}
        if key:
            out["FLIGHTLOG_API_KEY"] = key
        return out


class DroppingProxy:
    """Forwards 127.0.0.1:port to a server and cuts connections mid-request: every
    connection dies after `budget` bytes from the client, except every `every`-th, which
    gets 20 times more. A flaky network between a cluster and its server. With `stall`
    (and no budget), the first connection's request body is held back that many seconds
    after its head: a client stalled mid-body (a loaded machine). With `one_request`, a
    connection carries one request: the next one on it is cut without an answer, as a
    link that drops idle connections does to a kept-alive one."""

    def __init__(
        self,
        upstream: int,
        budget: int | None = 4000,
        every: int = 3,
        stall: float = 0.0,
        one_request: bool = False,
    ) -> None:
        self.upstream = upstream
        self.budget = budget
        self.every = every
        self.stall = stall
        self.one_request = one_request
        self.port = free_port()
        self.connections = 0
        self.cuts = 0
        self._sock = socket.create_server(("127.0.0.1", self.port))
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            budget = self.budget
            if budget is not None and self.connections % self.every == 0:
                budget *= 20
            stall = self.stall if self.connections == 1 else 0.0
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                client.close()
                continue
            answered = threading.Event() if self.one_request else None
            up = (client, server, budget, stall, answered)
            down = (server, client, None, 0.0, None, answered)
            threading.Thread(target=self._pipe, args=up, daemon=True).start()
            threading.Thread(target=self._pipe, args=down, daemon=True).start()

    def _pipe(
        self,
        src: socket.socket,
        dst: socket.socket,
        budget: int | None,
        stall: float = 0.0,
        cut_once: threading.Event | None = None,
        answers: threading.Event | None = None,
    ) -> None:
        """Forward `src` to `dst`; a request coming after `cut_once` is set (its connection
        answered one) is cut; `answers` is set once anything went back to the client."""
        sent = 0
        try:
            while data := src.recv(65536):
                if cut_once is not None and cut_once.is_set():
                    self.cuts += 1
                    break
                if answers is not None:
                    answers.set()
                if stall and b"\r\n\r\n" in data:  # the head now, the body after the stall
                    end = data.index(b"\r\n\r\n") + 4
                    dst.sendall(data[:end])
                    time.sleep(stall)
                    data, stall = data[end:], 0.0
                if budget is not None and sent + len(data) > budget:
                    dst.sendall(data[: budget - sent])  # half a request, then nothing
                    self.cuts += 1
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()


def server_rows(root: Path, entity: str, project: str, run_id: str) -> list[dict]:
    """Every logged row the server stored for a run, read straight from its store."""
    from flightlog.store.layout import RunPaths
    from flightlog.store.reader import StoredRun

    run = StoredRun.load(RunPaths.of(root, project, run_id, entity))
    assert run is not None, f"the server has no run {entity}/{project}/{run_id}"
    return list(run.scan_history())


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def store_tree(root: Path) -> dict[str, str]:
    """Every file and directory under a server root with its content's sha256 (directories:
    ""), but the server's log and the accounts database: what a refused request must leave
    exactly as it was."""
    import hashlib

    out = {}
    for p in sorted(root.rglob("*")):
        if p.name == "server.log" or p.name.startswith("accounts.sqlite"):
            continue
        rel = str(p.relative_to(root))
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
    return out


def tidy_table(
    steps: int,
    keys: tuple[str, ...] = ("loss",),
    writer: str = "w1",
    start: int = 0,
    kind: int = 0,
    text: str | None = None,
):
    """A history segment's rows: every key at every step (float values unless `kind`)."""
    import numpy as np
    import pyarrow as pa

    from flightlog.store.schema import segment_schema

    n = steps * len(keys)
    step = np.repeat(np.arange(start, start + steps, dtype=np.int64), len(keys))
    return pa.table(
        {
            "step": step,
            "time": pa.array(step * 1000, pa.timestamp("us", "UTC")),
            "key": pa.array(list(keys) * steps, pa.string()),
            "value": pa.nulls(n, pa.float64()) if text else pa.array(step.astype(np.float64)),
            "kind": pa.array(np.full(n, kind, np.int8)),
            "text": pa.array([text] * n if text else pa.nulls(n), pa.string()),
        },
        schema=segment_schema(writer, ""),
    )


def segment_file(directory: Path, tables, writer: str = "w1", seq: int = 1, **kw) -> Path:
    """Write `tables` (one table, or an iterable streamed in as row groups) as a sealed
    segment in `directory`, named by its sha256 as the store names them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from flightlog.store.blobs import sha256_file

    tables = [tables] if isinstance(tables, pa.Table) else tables
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{writer}-{seq}.tmp"
    writer_ = None
    for t in tables:
        if writer_ is None:
            writer_ = pq.ParquetWriter(tmp, t.schema, compression="zstd", **kw)
        writer_.write_table(t)
    assert writer_ is not None
    writer_.close()
    path = directory / f"{writer}-{seq:06d}-{sha256_file(tmp)[0]}.parquet"
    tmp.rename(path)
    return path


def place_uploaded(store: Any, paths: Any, stream: str, seg: Path, tmp: str = "up.tmp") -> bool:
    """Place segment file `seg` in `stream` of the run at `paths` of a server store
    (`ReceivingStore`) as the routes do: a temp copy named `tmp` under its uploads, then
    place_segment. Whether it was stored (False: the same content was there)."""
    from flightlog.sync.receive import check_segment_name

    shutil.copy(seg, store.uploads / tmp)
    parsed = check_segment_name(stream, seg.name)
    return store.place_segment(paths, stream, parsed, store.uploads / tmp, parsed.sha256)


def wait_until(cond: Callable[[], object], timeout: float, what: str) -> float:
    """Poll `cond` until it is true: the seconds that took; else fail saying `what`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if cond():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


@contextmanager
def app_in_thread(app: object, **options: Any) -> Iterator[int]:
    """`app` served by a real uvicorn on a thread of this process, on a free port of
    127.0.0.1 (for a test that hooks the server's code: its monkeypatches reach it), with
    uvicorn's `options` (`ssl_certfile=`, ...); yields the port once the server is up, and
    stops it after."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, 120, "the in-process server to start")
        yield port
    finally:
        server.should_exit = True
        thread.join(60)


def raw_request(server: LiveServer, head: str) -> socket.socket:
    """A connection to the server that has sent `head` (and whatever the test sends next)."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    s.sendall(head.encode())
    return s


def answer_of(s: socket.socket, trickle: bool = False) -> bytes:
    """What the server sends back before it closes the connection (trickling a byte a
    second meanwhile, if asked); the socket's 60 s timeout bounds the wait."""
    s.settimeout(1.0 if trickle else 60)
    out = b""
    end = time.monotonic() + 60
    while time.monotonic() < end:
        try:
            data = s.recv(65536)
        except TimeoutError:
            try:
                s.sendall(b"x")
            except OSError:
                break
            continue
        except OSError:
            break
        if not data:
            break
        out += data
    s.close()
    return out


def read_by_server(server_port: int, client_port: int) -> bool:
    """Whether the server process has read every byte the client sent on this loopback
    connection: nothing in flight (the client's send queue) nor unread (the server's
    receive queue), per /proc/net/tcp. A batch's small segments are held in memory until
    its body ends, so no temp file shows that the server has them."""
    queues = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, tx_rx = fields[1], fields[2], fields[4]
        tx, rx = (int(q, 16) for q in tx_rx.split(":"))
        queues[(int(local.split(":")[1], 16), int(remote.split(":")[1], 16))] = (tx, rx)
    mine, theirs = queues.get((client_port, server_port)), queues.get((server_port, client_port))
    return mine is not None and theirs is not None and mine[0] == 0 and theirs[1] == 0


def wait_for_store_agent(store: Path) -> None:
    """Wait until a sync agent holds `store`'s lock (its lock file written)."""
    lock = store / LOCK_FILE
    wait_until(lambda: lock.exists() and lock.read_text(), 60, "first agent holds the lock")


def stop_store_agent(store: Path) -> None:
    """SIGTERM the sync agent holding `store`'s lock, if one does (the detached agent an
    online run started outlives it)."""
    try:
        pid = json.loads((store / LOCK_FILE).read_text())["pid"]
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError, KeyError):
        pass
