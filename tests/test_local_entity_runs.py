"""A local run of an entity lives under it (runs/@E/P/ID), as on a server; a run without one
stays in runs/P/ID. Resume, `flightlog show`, `Api().run`, the index, `flightlog sync` and the
sync agent find runs in both places, runs of earlier versions (runs/P/ID) included."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import flightlog
from flightlog.cli import main
from flightlog.store.layout import RunPaths
from flightlog.sync.agent import Agent

from .servers import LiveServer


def store() -> Path:
    return Path(flightlog.Api().root)


def test_a_run_of_an_entity_lives_under_it_and_is_found_everywhere(
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = flightlog.init(project="p", entity="vision", config={"lr": 0.1})
    run.log({"loss": 0.5})
    run.finish()
    plain = flightlog.init(project="p", reinit="create_new")
    plain.finish()
    root = store()
    assert Path(run.dir) == root / "runs" / "@vision" / "p" / run.id
    assert Path(plain.dir) == root / "runs" / "p" / plain.id

    again = flightlog.init(project="p", entity="vision", id=run.id, resume="must")
    assert Path(again.dir) == Path(run.dir)  # resumed in place
    again.log({"loss": 0.25})
    again.finish()
    bare = flightlog.init(project="p", id=run.id, resume="must")  # no entity named
    assert Path(bare.dir) == Path(run.dir)
    bare.finish()

    api = flightlog.Api()
    for ref in (f"vision/p/{run.id}", f"@vision/p/{run.id}", f"p/{run.id}", run.id):
        assert Path(api.run(ref).dir) == Path(run.dir), ref
    assert api.run(f"p/{plain.id}").id == plain.id
    assert {r.id for r in api.runs(project="p")} == {run.id, plain.id}
    for ref in (run.id, f"vision/p/{run.id}"):
        assert main(["show", ref]) == 0
        out = capsys.readouterr().out
        assert run.id in out and "vision" in out


def test_a_run_from_before_entities_resumes_where_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    old = flightlog.init(project="p")  # as an earlier version stored every run: runs/p/ID
    old.finish()
    monkeypatch.setenv("FLIGHTLOG_ENTITY", "vision")
    resumed = flightlog.init(project="p", id=old.id, resume="must")
    assert Path(resumed.dir) == Path(old.dir)
    resumed.finish()
    new = flightlog.init(project="p", reinit="create_new")  # the environment's entity
    assert Path(new.dir) == store() / "runs" / "@vision" / "p" / new.id
    new.finish()


@pytest.mark.slow
def test_sync_and_the_agent_send_a_run_of_an_entity_to_its_place(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "server").start()
    try:
        key = server.user("alice")
        server.accounts.add_team("vision", ["alice"])
        run = flightlog.init(project="p", entity="vision")
        run.log({"loss": 1.0})
        run.finish()
        env = {"FLIGHTLOG_API_KEY": key, "FLIGHTLOG_BASE_URL": server.url}
        with pytest.MonkeyPatch.context() as mp:
            for k, v in env.items():
                mp.setenv(k, v)
            assert main(["sync", "--project", "p"]) == 0
        assert RunPaths.of(server.root, "p", run.id, "vision").meta.exists()

        later = flightlog.init(project="q", entity="vision")
        later.log({"loss": 2.0})
        later.finish()
        client = server.client(key, retries=2)
        stop = threading.Event()
        agent = Agent(store(), client, poll=0.2, idle_exit=3.0, log=lambda _m: None)
        agent.stop = stop
        agent.on_path(str(Path(later.dir) / "run.json"))  # as the file watcher reports it
        assert agent.queue.pop(0.1, stop) == Path(later.dir)
        agent.run()
        assert RunPaths.of(server.root, "q", later.id, "vision").meta.exists()
        client.close()
    finally:
        server.stop()
