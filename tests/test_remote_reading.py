"""`--host` and `Api(host=)`: a team server read as the local store is, with the server's
permissions - the same answers as `--root` on the store the runs came from."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import flightlog

from .remote_world import World, child, cli_as, make_world

pytestmark = pytest.mark.slow
#: what only the copy in a store knows: where it is on disk, and whether it was synced
LOCAL_ONLY = ("path", "sync")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = make_world(tmp_path_factory.mktemp("remote"))
    yield w
    w.server.stop()


def json_of(world: World, user: str, *args: str) -> Any:
    r = cli_as(world, user, *args)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


def without(doc: Any) -> Any:
    if isinstance(doc, list):
        return [without(d) for d in doc]
    return {k: v for k, v in doc.items() if k not in LOCAL_ONLY}


def test_runs_show_compare_export_answer_as_the_local_store(world: World):
    host = ("--host", world.server.url)
    local = json_of(world, "alice", "runs", "--json", "--sort", "created_at")
    remote = json_of(world, "alice", "runs", "--json", "--sort", "created_at", *host)
    assert len(local) == 3 and without(remote) == without(local)
    newest = json_of(world, "alice", "runs", "--json", "--limit", "2", *host)
    assert [r["id"] for r in newest] == [r["id"] for r in local[:0:-1]]  # the newest first
    assert {(r["entity"], r["project"]) for r in remote} == {
        ("alice", "secret"),
        ("vision", "shared"),
    }
    where = ["--where", "config.lr > 0.02 and entity:alice"]
    assert [
        r["id"]
        for r in json_of(world, "alice", "runs", "--json", *where, "--host", world.server.url)
    ] == [r["id"] for r in json_of(world, "alice", "runs", "--json", *where)]
    run_id = local[0]["id"]
    show_local = json_of(world, "alice", "show", run_id, "--json")
    show_remote = json_of(world, "alice", "show", run_id, "--json", "--host", world.server.url)
    assert without(show_remote) == without(show_local)
    assert [m["key"] for m in show_remote["metrics"]] == ["acc", "loss"]
    key = f"@alice/secret/{run_id}"  # the run's key, as the TUI shows it
    assert without(json_of(world, "alice", "show", key, "--json", *host)) == without(show_local)
    ids = [r["id"] for r in local[:2]]
    assert json_of(
        world, "alice", "compare", *ids, "--json", "--host", world.server.url
    ) == json_of(world, "alice", "compare", *ids, "--json")
    exported = [
        cli_as(
            world, "alice", "export", f"alice/secret/{run_id}", "--format", "jsonl", *host
        ).stdout
        for host in ((), ("--host", world.server.url))
    ]
    assert exported[0] == exported[1] and exported[0].count("\n") == 300


def test_api_host_gives_the_local_objects(world: World, monkeypatch: pytest.MonkeyPatch):
    for k, v in world.env("alice").items():
        monkeypatch.setenv(k, v)
    local = flightlog.Api(world.store).runs(order="created_at")
    remote = flightlog.Api(host=world.server.url).runs(order="created_at")
    assert [r.id for r in remote] == [r.id for r in local]
    for a, b in zip(local, remote, strict=True):
        assert (b.name, b.entity, b.project, b.state) == (a.name, a.entity, a.project, a.state)
        assert b.config == a.config and b.summary == a.summary and b.tags == a.tags
        assert b.history(keys=["loss"]).equals(a.history(keys=["loss"]))
        assert list(b.scan_history(keys=["acc"], min_step=10, max_step=20)) == list(
            a.scan_history(keys=["acc"], min_step=10, max_step=20)
        )
    picked = flightlog.Api(host=world.server.url).runs(
        "alice/secret", filters={"config.lr": {"$gt": 0.05}}
    )
    assert [r.config["lr"] for r in picked] == [0.1]
    one = flightlog.Api(host=world.server.url).run(f"vision/shared/{local[2].id}")
    assert one.summary_metrics == local[2].summary and one.url.startswith(world.server.url)


def test_permissions_hold_on_every_remote_path(world: World, monkeypatch: pytest.MonkeyPatch):
    """bob is in no team: vision's open project reads without the command; alice's private
    project does not exist for him - in the CLI, the Api and the listing alike."""
    host = ("--host", world.server.url)
    alice_runs = json_of(world, "alice", "runs", "--json", *host)
    secret = next(r["id"] for r in alice_runs if r["project"] == "secret")
    shared = next(r["id"] for r in alice_runs if r["project"] == "shared")
    bobs = json_of(world, "bob", "runs", "--json", *host)
    assert [(r["entity"], r["project"]) for r in bobs] == [("vision", "shared")]
    refused = cli_as(world, "bob", "show", secret, *host)
    assert (
        refused.returncode == 1 and "no run" in refused.stderr and "Traceback" not in refused.stderr
    )
    assert json_of(world, "alice", "show", shared, "--json", *host)["command"]
    assert json_of(world, "bob", "show", shared, "--json", *host)["command"] is None
    for k, v in world.env("bob").items():
        monkeypatch.setenv(k, v)
    api = flightlog.Api(host=world.server.url)
    assert [r.id for r in api.runs()] == [shared]
    assert "command" not in api.run(shared).meta
    with pytest.raises(flightlog.Error, match="no run"):
        api.run(f"alice/secret/{secret}")
    with pytest.raises(flightlog.Error, match="no project alice/secret"):
        api.runs("alice/secret")


def test_without_a_key_the_remote_ui_and_cli_say_to_log_in(world: World):
    env = {"FLIGHTLOG_CONFIG_DIR": str(world.config)}
    for args in (["tui", world.server.url], ["runs", "--host", world.server.url]):
        code = f"import sys; from flightlog.cli import main; sys.exit(main({args!r}))"
        r = child(code, env)
        assert r.returncode == 1 and "flightlog login" in r.stderr
        assert "Traceback" not in r.stderr and world.keys["alice"] not in r.stderr


def test_the_run_screen_reads_a_server_as_the_store_whole_and_zoomed(world: World):
    """The run screen's values (stats, curves, x extent) from a server are the store's: over
    the whole run, zoomed into its middle, and zoomed past its end (no curves there)."""
    from flightlog.sync.remote import RemoteReader
    from flightlog.tui.data import load_curves, load_run
    from flightlog.tui.remote_source import RemoteSource

    environ = {"FLIGHTLOG_API_KEY": world.keys["alice"], "FLIGHTLOG_CONFIG_DIR": str(world.config)}
    server = RemoteSource(RemoteReader(world.server.url, environ=environ))
    key = next(r["run_key"] for r in server.load_runs(None, None, None, None).rows)
    try:
        for x_range in (None, (20.0, 40.0), (1e9, 2e9)):
            local, remote = (
                load_run(world.store, key, x_range=x_range),
                load_run(server, key, x_range=x_range),
            )
            assert (remote.metrics, remote.x_bounds) == (local.metrics, local.x_bounds)
            assert remote.curves == local.curves, x_range
        assert local.curves == {}  # past the end: nothing to draw, not the whole run again
        for keys in (["loss"], None):  # a pan or zoom redraws the charts only
            wanted = ([key], keys, "step", 240, (20.0, 40.0))
            assert load_curves(server, *wanted) == load_curves(world.store, *wanted) != {}
    finally:
        server.reader.close()


def test_compare_host_reads_each_runs_meta_without_a_history_scan(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`compare --host` prints config and summary differences: it asked the server for each
    run's view (24 buckets of stats, a scan of the run's history) only to read its meta."""
    from flightlog.cli import main
    from flightlog.sync.client import ServerClient
    from flightlog.sync.remote import RemoteReader

    for k, v in {**world.env("alice"), "FLIGHTLOG_CONFIG_DIR": str(world.config)}.items():
        monkeypatch.setenv(k, v)
    views: list[str] = []
    real_view = RemoteReader.view

    def counted(self: RemoteReader, key: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        views.append(key)
        return real_view(self, key, *args, **kwargs)

    monkeypatch.setattr(RemoteReader, "view", counted)
    metas: list[str] = []
    real_run = ServerClient.run

    def counted_run(self: ServerClient, *args: Any) -> dict[str, Any]:
        metas.append(args[-1])
        return real_run(self, *args)

    monkeypatch.setattr(ServerClient, "run", counted_run)
    ids = [r["id"] for r in json_of(world, "alice", "runs", "--json", "--sort", "created_at")][:2]
    assert main(["compare", *ids, "--json", "--host", world.server.url]) == 0
    remote = json.loads(capsys.readouterr().out)
    assert main(["compare", *ids, "--json"]) == 0
    assert remote == json.loads(capsys.readouterr().out)
    assert views == [] and len(metas) == 2
    assert main(["show", ids[0], "--json", "--host", world.server.url]) == 0
    assert len(views) == 1 and len(metas) == 2  # show: one view serves its stats and its meta
