"""The console of a run on a team server, followed by HTTP Range: the first read asks for
the log's tail, every later one for the bytes past what is shown, so a long log costs its
new lines per refresh, not the whole file."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import flightlog
from flightlog.store.layout import RunPaths
from flightlog.sync.remote import RemoteReader
from flightlog.sync.uploader import load_local, sync_run
from flightlog.tui.remote_source import RemoteSource

from .servers import LiveServer

pytestmark = pytest.mark.slow


def test_the_console_is_followed_by_range_requests(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "server").start()
    try:
        key = server.user("alice")
        run = flightlog.init(project="p", entity="alice", settings={"console": "off"})
        run.log({"loss": 1.0})
        run.finish()
        log = Path(run.dir) / "files" / "output.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        old = "".join(f"old line {i}\n" for i in range(5000))  # ~70 kB
        log.write_text(old)

        def sync() -> None:
            with server.client(key, retries=2) as c:
                assert sync_run(c, load_local(RunPaths(Path(run.dir))), "alice").complete

        sync()
        reader = RemoteReader(server.url, environ={"FLIGHTLOG_API_KEY": key})
        seen: list[httpx.Response] = []
        reader.client._http.event_hooks["response"].append(seen.append)
        source = RemoteSource(reader)
        run_key = f"@alice/p/{run.id}"

        text, end = source.read_console(run_key, 0, 1000)  # the tail, as the pane opens
        assert text.endswith("old line 4999\n") and len(text) == 1000
        assert end == len(old.encode())
        assert seen[-1].status_code == 206 and int(seen[-1].headers["content-length"]) == 1000

        assert source.read_console(run_key, end, 1000) == ("", end)  # nothing new
        with log.open("a") as f:
            f.write("new line 1\nnew line 2\n")
        sync()
        text, after = source.read_console(run_key, end, 1 << 20)
        assert text == "new line 1\nnew line 2\n" and after == end + len(text)
        assert seen[-1].status_code == 206  # only the new bytes crossed the network
        assert int(seen[-1].headers["content-length"]) == len(text)
        assert source.read_console(f"@alice/p/{run.id}x", 0, 1000) == ("", 0)  # no such run
        reader.close()
    finally:
        server.stop()
