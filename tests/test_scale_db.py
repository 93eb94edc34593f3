"""Accounts, the run catalog and the admin CLI on both database backends: the embedded SQLite
file and a real PostgreSQL (tests/scale_services.py)."""

# ruff: noqa: F811 - the services' fixtures are imported, then named as parameters
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from flightlog.cli import main
from flightlog.sync.accounts import Accounts
from flightlog.sync.db import connect
from flightlog.sync.db.catalog import Catalog, SegmentRow
from flightlog.sync.db.schema import LATEST, upgrade, version
from tests.scale_services import pg_url, postgres  # noqa: F401 - fixtures

SHA_A = "a" * 64
SHA_B = "b" * 64


@pytest.fixture(params=["sqlite", "postgresql"])
def db_args(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    """The admin CLI's database flags for each backend."""
    if request.param == "sqlite":
        return ["--root", str(tmp_path)]
    return ["--db", request.getfixturevalue("pg_url")]


def accounts_of(args: list[str]) -> Accounts:
    return Accounts(Path(args[1])) if args[0] == "--root" else Accounts(db=args[1])


def test_accounts_answer_the_same_on_both_backends(db_args: list[str]) -> None:
    acc = accounts_of(db_args)
    acc.add_user("alice")
    acc.add_user("bob")
    acc.add_team("vision", ["alice"])
    key = acc.create_key("bob")
    assert acc.user_for_key(key) == "bob"
    assert acc.user_for_key(key + "x") is None
    assert acc.teams_of("alice") == ["vision"]
    acc.ensure_project("vision", "resnet")
    assert not acc.access("bob", "vision", "resnet").read
    acc.set_visibility("vision", "resnet", "open")
    a = acc.access("bob", "vision", "resnet")
    assert (a.read, a.member, a.project_exists) == (True, False, True)
    assert acc.access("alice", "vision", "resnet").member
    with pytest.raises(ValueError, match="already exists"):
        acc.add_user("vision")
    assert version(acc.driver) == LATEST


def test_admin_cli_lists_and_removes_users_members_and_keys(
    db_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    acc = accounts_of(db_args)
    for u in ("alice", "bob"):
        acc.add_user(u)
    acc.add_team("vision", ["alice", "bob"])
    keys = [acc.create_key("alice"), acc.create_key("bob")]
    capsys.readouterr()

    assert main(["server", "user", "list", *db_args]) == 0
    out = capsys.readouterr().out
    assert "alice  teams: vision  keys: 1" in out and "bob  teams: vision  keys: 1" in out

    assert main(["server", "key", "list", *db_args]) == 0
    out = capsys.readouterr().out
    for key in keys:
        assert key not in out  # a key is never printed, only its prefix
        assert f"{key[:8]}..." in out

    assert main(["server", "team", "remove-member", "vision", "--member", "bob", *db_args]) == 0
    assert main(["server", "team", "list", *db_args]) == 0
    assert "vision  members: alice\n" in capsys.readouterr().out

    assert main(["server", "user", "remove", "alice", *db_args]) == 0
    assert "removed, with 1 key(s)" in capsys.readouterr().out
    assert acc.user_for_key(keys[0]) is None  # the removed user's key no longer signs in
    assert acc.user_for_key(keys[1]) == "bob"
    assert acc.teams() == [("vision", [])]
    assert main(["server", "user", "remove", "alice", *db_args]) == 1
    assert "no user 'alice'" in capsys.readouterr().err


def test_catalog_records_a_segment_once_and_refuses_other_content(db_args: list[str]) -> None:
    acc = accounts_of(db_args)
    cat = Catalog(acc.driver)
    assert cat.put_run("alice", "p", "r1", '{"id": "r1"}', {"w1": "{}"}) is True
    assert cat.put_run("alice", "p", "r1", '{"id": "r1", "x": 1}', {"w2": "{}"}) is False
    meta, writers = cat.run("alice", "p", "r1") or ("", {})
    assert meta == '{"id": "r1", "x": 1}' and sorted(writers) == ["w1", "w2"]
    seg = SegmentRow("history", "w1", 1, SHA_A, 10)
    assert cat.add_segment("alice", "p", "r1", seg) is None
    assert cat.add_segment("alice", "p", "r1", seg) == SHA_A  # the same: a no-op
    other = SegmentRow("history", "w1", 1, SHA_B, 10)
    assert cat.add_segment("alice", "p", "r1", other) == SHA_A  # a conflict for the caller
    assert [s.name for s in cat.segments("alice", "p", "r1")] == [f"w1-000001-{SHA_A}.parquet"]
    assert cat.run_ids("alice", "p") == ["r1"]


def test_an_accounts_file_from_before_versioning_is_adopted(tmp_path: Path) -> None:
    old = sqlite3.connect(tmp_path / "accounts.sqlite")
    old.executescript(  # the schema the server created before migrations existed
        "CREATE TABLE entities (name TEXT PRIMARY KEY, kind TEXT NOT NULL, created REAL);"
        "CREATE TABLE members (team TEXT, user TEXT, PRIMARY KEY (team, user));"
        "CREATE TABLE keys (hash TEXT PRIMARY KEY, user TEXT NOT NULL, hint TEXT, created REAL);"
        "CREATE TABLE projects (entity TEXT, name TEXT, visibility TEXT NOT NULL, created REAL,"
        " PRIMARY KEY (entity, name));"
        "INSERT INTO entities VALUES ('alice', 'user', 0);"
    )
    old.commit()
    old.close()
    acc = Accounts(tmp_path)
    assert acc.kind("alice") == "user"
    assert version(acc.driver) == LATEST


def test_replicas_starting_together_migrate_the_database_once(pg_url: str) -> None:
    drivers = [connect(pg_url, ".", filename="-", pool=1) for _ in range(4)]
    applied: list[list[int]] = []
    barrier = threading.Barrier(len(drivers))

    def start(d) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        applied.append(upgrade(d))

    threads = [threading.Thread(target=start, args=(d,)) for d in drivers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(v for a in applied for v in a) == list(range(1, LATEST + 1))
    for d in drivers:
        d.close()


def test_an_unknown_database_url_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pass --db postgresql://"):
        Accounts(tmp_path, "mysql://x@y/z")
