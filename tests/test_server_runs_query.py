"""The server's run listings: the local filter language, sort and paging computed on the
server, an ETag, and the server's permissions (two users, a team, a private and an open
project)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flightlog.sync.client import ServerClient

from .servers import LiveServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """alice owns a private project; team vision (alice) has an open project; bob is in no
    team."""
    srv = LiveServer(tmp_path_factory.mktemp("q") / "server").start()
    keys = {u: srv.user(u) for u in ("alice", "bob")}
    srv.accounts.add_team("vision", ["alice"])
    with srv.client(keys["alice"]) as c:
        for i in range(12):
            put(c, "alice", "secret", f"s{i:02d}", lr=0.001 * (i + 1), loss=1.0 / (i + 1))
        for i in range(5):
            put(c, "vision", "shared", f"v{i}", lr=0.01 * i, loss=float(i), tags=["base"])
    srv.accounts.set_visibility("vision", "shared", "open")
    yield {"server": srv, "keys": keys}
    srv.stop()


def put(
    c: ServerClient, entity: str, project: str, run_id: str, *, lr: float, loss: float, **kw: Any
) -> None:
    now = time.time()
    meta = {
        "id": run_id,
        "name": f"run-{run_id}",
        "created_at": now,
        "config": {"lr": lr},
        "git": {"commit": "abc123"},
        "command": ["train.py", "--secret-flag"],
        **kw,
    }
    writer = {"writer": "w1", "state": "finished", "finished_at": now, "summary": {"loss": loss}}
    c.put_run(entity, project, run_id, meta, [writer])


def get(world: dict[str, Any], user: str, path: str, **params: Any) -> httpx.Response:
    srv: LiveServer = world["server"]
    headers = {"Authorization": f"Bearer {world['keys'][user]}"}
    return httpx.get(f"{srv.url}/api/v1{path}", params=params, headers=headers, timeout=60)


def test_listing_filters_sorts_and_pages_with_the_local_grammar(world):
    r = get(world, "alice", "/runs/alice/secret", filter="config.lr >= 0.005", sort="-summary.loss")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["total"] == 8  # lr 0.005 .. 0.012
    assert [x["id"] for x in doc["runs"]] == [f"s{i:02d}" for i in range(4, 12)]
    first = doc["runs"][0]
    assert (first["entity"], first["project"], first["state"]) == ("alice", "secret", "finished")
    assert first["config"] == {"lr": 0.005} and first["summary"] == {"loss": 0.2}
    page = get(world, "alice", "/runs/alice/secret", sort="id", offset=10, limit=5).json()
    assert [x["id"] for x in page["runs"]] == ["s10", "s11"] and page["total"] == 12
    # entity is a field of the filter language; a bad filter says where it is wrong
    assert get(world, "alice", "/runs", filter="entity:vision").json()["total"] == 5
    bad = get(world, "alice", "/runs/alice/secret", filter="config.lr >>")
    assert bad.status_code == 400 and "invalid filter" in bad.json()["message"]


def test_an_unchanged_listing_is_a_304_and_a_change_is_seen(world):
    r = get(world, "alice", "/runs/vision/shared", sort="created_at")
    etag = r.headers["ETag"]
    srv: LiveServer = world["server"]
    again = httpx.get(
        f"{srv.url}/api/v1/runs/vision/shared",
        params={"sort": "created_at"},
        headers={"Authorization": f"Bearer {world['keys']['alice']}", "If-None-Match": etag},
    )
    assert again.status_code == 304 and again.content == b""
    with srv.client(world["keys"]["alice"]) as c:
        put(c, "vision", "shared", "v9", lr=0.5, loss=9.0)
        put(c, "vision", "shared", "v0", lr=0.0, loss=0.25)  # an indexed run changes
    changed = httpx.get(
        f"{srv.url}/api/v1/runs/vision/shared",
        params={"sort": "created_at"},
        headers={"Authorization": f"Bearer {world['keys']['alice']}", "If-None-Match": etag},
    )
    assert changed.status_code == 200 and "v9" in [x["id"] for x in changed.json()["runs"]]
    assert changed.headers["ETag"] != etag
    v0 = next(x for x in changed.json()["runs"] if x["id"] == "v0")
    assert v0["summary"] == {"loss": 0.25}


def test_non_members_see_open_projects_without_git_and_no_private_project(world):
    member = get(world, "alice", "/runs/vision/shared", sort="id").json()["runs"][0]
    assert member["git"] == {"commit": "abc123"} and "--secret-flag" in member["command"]
    r = get(world, "bob", "/runs/vision/shared", sort="id")
    assert r.status_code == 200 and r.json()["total"] >= 5
    assert "abc123" not in r.text and "--secret-flag" not in r.text
    hidden = get(world, "bob", "/runs/alice/secret")
    assert hidden.status_code == 404 and hidden.json()["error"] == "project_not_found"
    everything = get(world, "bob", "/runs", limit=1000).json()
    assert {(x["entity"], x["project"]) for x in everything["runs"]} == {("vision", "shared")}
    assert "abc123" not in str(everything)
    projects = {
        (p["entity"], p["project"]): p for p in get(world, "bob", "/projects").json()["projects"]
    }
    assert list(projects) == [("vision", "shared")]
    assert projects["vision", "shared"]["visibility"] == "open"
    assert projects["vision", "shared"]["member"] is False
    mine = {
        (p["entity"], p["project"]): p for p in get(world, "alice", "/projects").json()["projects"]
    }
    assert mine["alice", "secret"]["runs"] == 12 and mine["alice", "secret"]["member"] is True


def test_the_no_permission_advice_is_the_change_that_grants_writing(world, tmp_path: Path):
    """Opening a project grants reading only: the advice is membership, and following it
    works."""
    srv: LiveServer = world["server"]
    carol = srv.user("carol")
    srv.accounts.add_team("audio", ["alice"])
    with srv.client(carol) as c:
        with pytest.raises(Exception) as refused:
            put(c, "audio", "open-one", "c1", lr=0.1, loss=0.1)
        message = str(refused.value)
        assert type(refused.value).__name__ == "PermissionDeniedError"
        assert "--visibility" not in message
        assert "flightlog server team add audio --member carol" in message
        srv.accounts.add_members("audio", ["carol"])  # what the advised command does
        put(c, "audio", "open-one", "c1", lr=0.1, loss=0.1)
        with pytest.raises(Exception) as other_user:
            put(c, "alice", "secret", "c2", lr=0.1, loss=0.1)
        assert "sync to your own entity ('carol')" in str(other_user.value)


def test_a_runs_view_and_cursor_keep_the_same_permissions(world):
    member = get(world, "alice", "/runs/vision/shared/v1/view", buckets=10)
    assert member.status_code == 200, member.text
    doc = member.json()
    assert doc["run"]["id"] == "v1" and doc["meta"]["git"] == {"commit": "abc123"}
    outsider = get(world, "bob", "/runs/vision/shared/v1/view", buckets=10)
    assert outsider.status_code == 200 and "abc123" not in outsider.text
    assert "--secret-flag" not in outsider.text
    for what, params in (("view", {}), ("cursor", {"keys": "loss", "at": 0}), ("chart", {})):
        hidden = get(world, "bob", f"/runs/alice/secret/s01/{what}", **params)
        assert hidden.status_code == 404 and hidden.json()["error"] == "project_not_found"
