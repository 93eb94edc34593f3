"""A real flightlog server in a subprocess on 127.0.0.1, and a TCP proxy that drops
connections, for the sync tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from flightlog.sync.accounts import Accounts
from flightlog.sync.receive import project_dir_name


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


class LiveServer:
    """`flightlog server --root ROOT --port PORT`, for real; restartable on the same port."""

    def __init__(self, root: Path, max_upload_mb: float | None = None) -> None:
        self.root = root
        self.port = free_port()
        self.max_upload_mb = max_upload_mb
        self.proc: subprocess.Popen[bytes] | None = None
        self.accounts = Accounts(root)

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
        with open(self.root / "server.log", "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.proc)
        return self

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

    def user(self, name: str) -> str:
        """Add a user and return a fresh key of theirs."""
        if self.accounts.kind(name) is None:
            self.accounts.add_user(name)
        return self.accounts.create_key(name)

    def env(self, key: str | None) -> dict[str, str]:
        out = {"FLIGHTLOG_BASE_URL": self.url}
        if key:
            out["FLIGHTLOG_API_KEY"] = key
        return out


class DroppingProxy:
    """Forwards 127.0.0.1:port to a server and cuts connections mid-request: every
    connection dies after `budget` bytes from the client, except every `every`-th, which
    gets 20 times more. A flaky network between a cluster and its server."""

    def __init__(self, upstream: int, budget: int = 4000, every: int = 3) -> None:
        self.upstream = upstream
        self.budget = budget
        self.every = every
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
            budget = self.budget * (20 if self.connections % self.every == 0 else 1)
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pipe, args=(client, server, budget), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, None), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, budget: int | None) -> None:
        sent = 0
        try:
            while data := src.recv(65536):
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

    run = StoredRun.load(RunPaths.of(root, project_dir_name(entity, project), run_id))
    assert run is not None, f"the server has no run {entity}/{project}/{run_id}"
    return list(run.scan_history())
