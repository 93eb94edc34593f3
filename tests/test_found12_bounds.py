"""Requests at the server's bounds, for real (`flightlog server` in a subprocess): what a
request may ask for is bounded, and asking for more is a 4xx that says what is wrong - never
a 500 with a traceback in the server's log."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from flightlog.sync.limits import MB, ServerLimits

from .servers import LiveServer, segment_file, tidy_table
from .test_server_bombs import _prepared, _upload

pytestmark = pytest.mark.slow
READ_MB = ServerLimits().read_memory / MB


@pytest.mark.parametrize(
    "nested",
    ["(" * 3000 + "state:running" + ")" * 3000, "not " * 2000],
    ids=["groups", "nots"],
)
def test_a_filter_nested_deeper_than_the_parser_goes_is_a_400_saying_so(
    server: LiveServer, nested: str
) -> None:
    """Within the 8,192 characters a query parameter may have, a filter can nest thousands
    of groups or `not`s; the parser recurses once per level."""
    key = server.user("alice")
    with server.client(key) as c:
        c.put_run("alice", "p", "r1", {"id": "r1", "name": "r1"}, [])
    auth = {"Authorization": f"Bearer {key}"}
    for url in (f"{server.url}/api/v1/runs/alice/p", f"{server.url}/api/v1/runs"):
        r = httpx.get(url, params={"filter": nested}, headers=auth, timeout=60)
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "invalid_filter" and "nest" in r.json()["message"], r.text
    log = (server.root / "server.log").read_text()
    assert "RecursionError" not in log and "Traceback" not in log, log[-2000:]


def test_a_longer_seal_of_millions_of_rows_is_compared_in_bounded_memory(
    server: LiveServer, tmp_path: Path
) -> None:
    """Any member may upload a segment of millions of rows under a number they stored short
    (sync/seal_growth.py compares the two): each row as Python objects took gigabytes of the
    server's memory, and, on a one-machine server, its placement lock for every upload of
    every user meanwhile."""
    headers, url = _prepared(server, tmp_path)  # segment 1: steps 0..999
    chunk = 131_072  # a writer's row group
    longer = segment_file(
        tmp_path / "job", (tidy_table(chunk, start=i * chunk) for i in range(23)), seq=1
    )
    r, grew = _upload(server, headers, url, longer)
    assert r.status_code == 201, r.text  # it holds steps 0..999 and 3 million more
    # what a history read may take (--read-memory-mb); before: +1.4 GB, and 20 s of CPU
    assert grew < READ_MB, f"server peak RSS grew by {grew:.0f} MB"
    other = segment_file(
        tmp_path / "other", (tidy_table(chunk, start=i * chunk + 7) for i in range(23)), seq=1
    )
    r, grew = _upload(server, headers, url, other)
    assert r.status_code == 409, r.text
    assert grew < READ_MB, f"server peak RSS grew by {grew:.0f} MB"


@pytest.mark.parametrize(
    "params",
    [{"at": "nan"}, {"at": "inf"}, {"at": "1", "window": "nan"}, {"at": "1", "window": "-inf"}],
    ids=["nan", "inf", "nan-window", "inf-window"],
)
def test_a_chart_cursor_not_at_a_finite_x_is_a_400_saying_so(
    server: LiveServer, tmp_path: Path, params: dict[str, str]
) -> None:
    """GET .../cursor?at= takes any float FastAPI parses, 'nan' and 'inf' too: written into
    the query as text, they named columns that do not exist."""
    key = server.user("alice")
    with server.client(key) as c:
        c.put_run("alice", "p", "r1", {"id": "r1", "name": "r1"}, [])
        seg = segment_file(tmp_path, tidy_table(100), seq=1)
        assert c.put_segment("alice", "p", "r1", "history", seg)
    r = httpx.get(
        f"{server.url}/api/v1/runs/alice/p/r1/cursor",
        params={"keys": "loss", **params},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert r.status_code == 400 and "finite" in r.json()["message"], r.text
    assert "Traceback" not in (server.root / "server.log").read_text()
