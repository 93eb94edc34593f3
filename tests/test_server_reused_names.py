"""A user or team added under a removed one's name: the removed one's private projects are
stored under that name, and whoever holds it reads them. `flightlog server user/team add`
refuses unless `--reclaim` says it is the same person or team again."""

from __future__ import annotations

import httpx

from .conftest import cli
from .servers import LiveServer

RUN = {"meta": {"id": "abcd1234", "name": "secret-plans"}, "writers": []}


def _status(server: LiveServer, key: str, path: str, method: str = "GET") -> int:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.url + "/api/v1", headers=headers, timeout=60) as http:
        return http.request(method, path, json=RUN if method == "PUT" else None).status_code


def _admin(server: LiveServer, *args: str) -> tuple[int, str]:
    r = cli("server", *args, "--root", str(server.root))
    return r.returncode, (r.stdout + r.stderr).strip()


def test_a_user_added_under_a_removed_users_name_needs_reclaim_to_get_their_projects(
    server: LiveServer,
) -> None:
    old = server.user("alice")
    assert _status(server, old, "/runs/alice/secret/abcd1234", "PUT") == 201
    assert _admin(server, "user", "remove", "alice")[0] == 0

    code, out = _admin(server, "user", "add", "alice")
    assert code == 1, out
    assert len(out.splitlines()) == 1 and "secret" in out and "--reclaim" in out, out
    assert "another name" in out, out
    server.user("bob")
    code, out = _admin(server, "team", "add", "alice", "--member", "bob")
    assert code == 1 and "--reclaim" in out, out  # users and teams share names
    assert server.accounts.kind("alice") is None

    code, out = _admin(server, "user", "add", "alice", "--reclaim")
    assert code == 0 and "1 project(s)" in out, out
    assert _status(server, server.user("alice"), "/runs/alice/secret/abcd1234") == 200
    assert _status(server, old, "/runs/alice/secret/abcd1234") == 401  # removed with alice


def test_a_team_added_under_a_removed_teams_name_needs_reclaim_to_get_its_projects(
    server: LiveServer,
) -> None:
    bob, carol = server.user("bob"), server.user("carol")
    assert _admin(server, "team", "add", "vision", "--member", "bob")[0] == 0
    assert _status(server, bob, "/runs/vision/secret/abcd1234", "PUT") == 201
    code, out = _admin(server, "team", "remove", "vision")
    assert code == 0 and "1 membership(s)" in out, out
    assert _status(server, bob, "/runs/vision/secret/abcd1234") == 404

    code, out = _admin(server, "team", "add", "vision", "--member", "carol")
    assert code == 1 and "secret" in out and "--reclaim" in out, out
    assert _status(server, carol, "/runs/vision/secret/abcd1234") == 404
    code, out = _admin(server, "team", "add", "vision", "--member", "carol", "--reclaim")
    assert code == 0, out
    assert _status(server, carol, "/runs/vision/secret/abcd1234") == 200
    assert _status(server, bob, "/runs/vision/secret/abcd1234") == 404  # not a member now
