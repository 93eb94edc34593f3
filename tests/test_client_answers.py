"""A 2xx answer that is not a flightlog server's - a captive portal's or a proxy's page,
another API's JSON - read by the remote UI's cursor, the history's Arrow stream or the blob
calls, is the one-line "does not look like a flightlog server" error naming the URL and the
fix, as every other call gives. Before: a bare JSONDecodeError or KeyError('values') (or
pyarrow's "Expected to read 1330795073 metadata bytes") reached the command or the TUI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flightlog._errors import WrongServerError
from flightlog.artifacts import remote as artifacts_remote
from flightlog.artifacts.names import parse_ref
from flightlog.artifacts.registry import Registry
from flightlog.sync import blob_client
from flightlog.sync.client import ServerClient
from flightlog.sync.credentials import Credentials
from flightlog.sync.remote import RemoteReader

from .servers import app_in_thread

PORTAL = b"<html><head><title>Hotel WiFi - accept the terms</title></head></html>"


def _answer(body: bytes, kind: bytes):
    """An ASGI app that answers every request 200 with `body`."""

    async def app(scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-type", kind)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.fixture(
    params=[(PORTAL, b"text/html"), (b'{"status": "ok"}', b"application/json")],
    ids=["portal-page", "other-json"],
)
def portal(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of something that answers 200 to every request, but not as flightlog does."""
    with app_in_thread(_answer(*request.param)) as port:
        yield f"http://127.0.0.1:{port}"


def _one_line_naming(e: pytest.ExceptionInfo[WrongServerError], url: str) -> None:
    text = str(e.value)
    assert "\n" not in text
    assert text.startswith(f"{url} does not look like a flightlog server"), text
    assert "FLIGHTLOG_BASE_URL" in text and "--host" in text, text


def test_the_remote_uis_reads_of_a_portal_page(portal: str) -> None:
    reader = RemoteReader(portal, environ={"FLIGHTLOG_API_KEY": "fl_key"})
    try:
        with pytest.raises(WrongServerError) as e:
            reader.cursor("@alice/p/run1", ["loss"], at=3)
        _one_line_naming(e, portal)
        with pytest.raises(WrongServerError) as e:
            reader.tidy("@alice/p/run1", ["loss"])
        _one_line_naming(e, portal)
    finally:
        reader.close()


def test_the_blob_calls_on_a_portal_page(portal: str, tmp_path: Path) -> None:
    data = tmp_path / "weights.bin"
    data.write_bytes(b"x" * 100)
    sha = "ab" * 32
    with ServerClient(Credentials(portal, "fl_key", "file"), retries=0) as client:
        with pytest.raises(WrongServerError) as e:
            blob_client.lacking(client, "alice", "p", {sha: 100})
        _one_line_naming(e, portal)
        with pytest.raises(WrongServerError) as e:
            blob_client.upload(client, "alice", "p", sha, 100, data)
        _one_line_naming(e, portal)


def test_the_artifact_calls_on_a_portal_page(portal: str, tmp_path: Path) -> None:
    """`flightlog artifact get` / `use_artifact` of a server's version, and a logged version's
    manifest sent to it: a bare JSONDecodeError or AttributeError before."""
    registry = Registry(tmp_path / "store")
    with ServerClient(Credentials(portal, "fl_key", "file"), retries=0) as client:
        with pytest.raises(WrongServerError) as e:
            artifacts_remote.fetch(client, parse_ref("alice/p/weights:latest"), registry)
        _one_line_naming(e, portal)
        version, _ = registry.commit("p", "weights", {}, [])
        with pytest.raises(WrongServerError) as e:
            artifacts_remote.push(client, "alice", "p", version, [])
        _one_line_naming(e, portal)


def test_the_listings_and_history_on_a_portal_page(portal: str) -> None:
    """`flightlog runs --host`, Api(host=) and the remote UI's runs list, a run's history and
    the sync's batches: a bare KeyError('runs') / KeyError('rows') before, for another API's
    JSON."""
    with ServerClient(Credentials(portal, "fl_key", "file"), retries=0) as client:
        for read in (
            lambda: client.runs("alice", "p"),
            lambda: client.run_ids("alice", "p"),
            lambda: client.history("alice", "p", "run1", ["loss"]),
            lambda: client.put_segments("alice", "p", "run1", []),
            lambda: client.sync_runs("alice", "p", []),
        ):
            with pytest.raises(WrongServerError) as e:
                read()
            _one_line_naming(e, portal)
    reader = RemoteReader(portal, environ={"FLIGHTLOG_API_KEY": "fl_key"})
    try:
        for read in (reader.projects, lambda: reader.select(project="p", entity="alice")):
            with pytest.raises(WrongServerError) as e:
                read()
            _one_line_naming(e, portal)
    finally:
        reader.close()
