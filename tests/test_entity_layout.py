"""Entities as a level of the store: a server root keeps entity E's project P in
runs/@E/P/, every local tool shows E and P apart, and a server root of an earlier version
(runs/E.P/) opens as it is and is moved to the new layout when its server starts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import flightlog
from flightlog.store.index import Index
from flightlog.store.layout import RunPaths, run_key, runs_dir, split_run_key, split_run_path
from flightlog.tui import FlightlogApp

from .conftest import cli, python_script
from .servers import LiveServer
from .test_tui import SIZE, column, rows, settle

TRAIN = """
import flightlog
run = flightlog.init(project="demo", entity="alice", mode="offline", config={"lr": 0.1})
for i in range(50):
    run.log({"loss": 1 / (i + 1)})
run.finish()
print(run.id)
"""


@pytest.fixture
def old_server_root(store: Path, tmp_path: Path) -> tuple[Path, str]:
    """A server root as earlier versions wrote it: alice's project demo in runs/alice.demo/,
    next to a local project whose name holds a '.' (never an entity's)."""
    made = python_script(TRAIN)
    assert made.returncode == 0, made.stderr
    run_id = made.stdout.split()[-1]
    root = tmp_path / "old-server"
    made_at = store / "runs" / "@alice" / "demo" / run_id  # a local run of entity alice
    shutil.copytree(made_at, root / "runs" / "alice.demo" / run_id)
    dotted = root / "runs" / "v1.2" / "x1"
    dotted.mkdir(parents=True)
    (dotted / "run.json").write_text(json.dumps({"id": "x1", "project": "v1.2"}))
    return root, run_id


def test_an_old_server_root_opens_locally_as_entity_and_project(old_server_root) -> None:
    root, run_id = old_server_root
    with Index(root, persist=False) as idx:
        got = idx.con.execute("SELECT entity, project, id FROM runs ORDER BY project").fetchall()
    # by project: the run's id is random, so ordered by id "x1" came first 1 time in 12
    assert got == [("alice", "demo", run_id), (None, "v1.2", "x1")]
    runs = flightlog.Api(root).runs(project="demo")
    assert [(r.id, r.entity) for r in runs] == [(run_id, "alice")]
    listed = json.loads(cli("runs", "--root", str(root), "--json", "--entity", "alice").stdout)
    assert [(r["entity"], r["project"]) for r in listed] == [("alice", "demo")]


async def test_a_server_root_in_the_tui_shows_entity_and_project(old_server_root) -> None:
    root, _ = old_server_root
    app = FlightlogApp(root)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 2)
        assert sorted(column(app, "project")) == ["alice/demo", "v1.2"]


@pytest.mark.slow
def test_the_server_moves_an_old_root_to_the_entity_layout(old_server_root) -> None:
    root, run_id = old_server_root
    server = LiveServer(root)
    key = server.user("alice")
    server.accounts.ensure_project("alice", "demo")
    server.start()
    try:
        assert (root / "runs" / "@alice" / "demo" / run_id / "run.json").exists()
        assert not (root / "runs" / "alice.demo").exists()
        assert (root / "runs" / "v1.2" / "x1").exists()  # not an entity's: left alone
        with server.client(key) as c:
            assert [r["id"] for r in c.runs("alice", "demo")] == [run_id]
            assert len(c.history("alice", "demo", run_id, keys=["loss"])) == 50
        api = flightlog.Api(root)  # and it still opens locally, by entity/project/id
        assert api.run(f"alice/demo/{run_id}").summary["loss"] == pytest.approx(0.02)
    finally:
        server.stop()


_names = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,10}", fullmatch=True)


@given(_names, st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True), st.none() | _names)
def test_a_run_key_and_its_run_directory_name_the_same_run(project, run_id, entity):
    """A key, a run's directory and a path the agent sees below runs/ are read by one rule:
    each gives back the entity, project and id it was made of."""
    key = run_key(project, run_id, entity)
    assert split_run_key(key) == (entity, project, run_id)
    paths = RunPaths.of("/store", project, run_id, entity)
    assert paths.address == (entity, project, run_id)
    assert paths.root == Path("/store")
    inside = (*paths.history.relative_to(runs_dir("/store")).parts, "w-000001.parquet")
    assert split_run_path(inside) == (tuple(key.split("/")), ("history", "w-000001.parquet"))


@pytest.mark.parametrize("key", ["demo", "@alice/demo", "demo/abc/history"])
def test_a_malformed_run_key_is_refused_by_name(key: str):
    with pytest.raises(ValueError, match=f"not a run key: '{key}'"):
        split_run_key(key)
