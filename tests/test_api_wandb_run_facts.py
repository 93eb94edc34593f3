"""What wandb's public-API Run tells besides the logged values, which report scripts read:
`run.history_keys` (wandb's historyKeys: last step, and each key's value types and counts),
`run.system_metrics` (the latest sample of each system metric), `run.metadata` (what
wandb-metadata.json holds: host, os, python, program, args, git, start time...), and the
names wandb scripts call (`description`, `storage_id`, `sweep_name`, `save()`). From a
local store and, the same, from a server (`Api(host=)`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import flightlog

from .conftest import cli, python_script, settled
from .servers import LiveServer

SCRIPT = """
import time, flightlog
run = flightlog.init(project="p", entity="alice", id="r1", notes="first try",
                     settings={"stats_interval": 0.1, "segment_rows": 4})  # several segments
for i in range(4):
    run.log({"loss": 1.0 / (i + 1), "epoch": i, "phase": "train", "done": i == 3})
run.log({"loss": "nan-guarded"})  # a key of two kinds
run.log({"preds": flightlog.Table(columns=["a"], data=[[1]])})
time.sleep(0.6)  # a few system samples
run.finish()
"""


def _logged() -> None:
    done = python_script(SCRIPT, env={"FLIGHTLOG_MODE": "offline"})
    assert done.returncode == 0, done.stderr


def _check(run: flightlog.Api) -> None:
    keys = run.history_keys
    assert keys["lastStep"] == 5 == run.lastHistoryStep
    counts = {k: v["typeCounts"] for k, v in keys["keys"].items()}
    assert counts["loss"] == [{"type": "number", "count": 4}, {"type": "string", "count": 1}]
    assert counts["epoch"] == [{"type": "number", "count": 4}]
    assert counts["phase"] == [{"type": "string", "count": 4}]
    assert counts["done"] == [{"type": "boolean", "count": 4}]
    assert counts["preds"] == [{"type": "table-file", "count": 1}]
    assert counts["_step"] == [{"type": "number", "count": 6}]

    system = run.system_metrics
    assert system and all(k.startswith("system/") for k in system), system
    assert all(isinstance(v, int | float) for v in system.values()), system

    meta = run.metadata
    assert meta is not None
    assert meta["host"] and meta["os"] and meta["python"] and meta["username"]
    assert meta["program"] == "-c" and meta["args"] == []
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", meta["startedAt"])
    assert meta["memory"]["total"] > 0 and meta["cpu_count"] >= 1

    assert run.description == "first try"
    assert run.storage_id == "r1" and run.sweep_name is None
    assert run.history_line_count == 6 and run.load()["id"] == "r1"
    run.wait_until_finished(poll=0.1)  # (it ended: at once)
    assert run.state == "finished" and run.summary["epoch"] == 3


def test_a_local_runs_history_keys_system_metrics_and_metadata(api: flightlog.Api) -> None:
    _logged()
    _check(api.run("alice/p/r1"))


def test_save_stores_an_edit_as_update_does(api: flightlog.Api) -> None:
    _logged()
    run = api.run("alice/p/r1")
    run.tags.append("best")
    run.save()
    assert api.run("alice/p/r1").tags == ["best"]


def test_a_run_that_logged_nothing_has_no_keys_and_no_system_metrics(
    api: flightlog.Api,
) -> None:
    run = flightlog.init(project="p", settings={"stats_interval": 0})
    run.finish()
    got = api.run(f"p/{run.id}")
    assert got.history_keys == {"lastStep": -1, "keys": {}}
    assert got.system_metrics == {}
    assert got.metadata is not None and got.metadata["program"]


@pytest.mark.slow
def test_a_servers_run_answers_as_the_local_one(server: LiveServer, key: str) -> None:
    _logged()
    synced = cli("sync", "--all")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    api = flightlog.Api(host=server.url)
    _check(api.run("alice/p/r1"))
    with pytest.raises(flightlog.UsageError, match="only reads"):  # not dropped silently
        api.run("alice/p/r1").summary.update({"best": 1})
    assert [(p.entity, p.name, p.run_count) for p in api.projects()] == [("alice", "p", 1)]
    assert api.project("p").path == ["alice", "p"] and api.default_entity == "alice"


@pytest.mark.slow
def test_a_non_member_sees_no_command_in_a_servers_metadata(
    server: LiveServer, key: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """git and the command line are for the project's members only, as on the server."""
    _logged()
    assert cli("sync", "--all").returncode == 0
    server.accounts.set_visibility("alice", "p", "open")
    bob = server.user("bob")
    meta = flightlog.Api(host=server.url, api_key=bob).run("alice/p/r1").metadata
    assert meta is not None and meta["host"]
    assert not {"program", "args", "executable", "git"} & set(meta), meta


def test_history_keys_of_a_run_sealed_in_several_row_groups(api: flightlog.Api) -> None:
    """A sealed segment is cut into row groups of 64 Ki rows by key, each read with a
    dictionary of the key names it holds: history_keys' group_by could not mix them
    ("Unifying differing dictionaries": found on a 200,000-step run)."""
    run = flightlog.init(project="p", id="long", settings={"stats_interval": 0})
    for i in range(20_000):
        run.log({"loss": 1.0 / (i + 1), "acc": i % 100, "lr": 0.1, "grad": 0.5})
        if i == 600:
            run.log({"note": "half way"})
    run.finish()
    settled(run)  # its backlog sealed, as the agent does
    stored = api.run("p/long")
    assert [p.suffix for p in (stored.paths.dir / "history").iterdir()] == [".parquet"]
    keys = stored.history_keys
    assert keys["lastStep"] == 20_000
    for k in ("loss", "acc", "lr", "grad"):
        assert keys["keys"][k]["typeCounts"] == [{"type": "number", "count": 20_000}], k
    assert keys["keys"]["note"]["typeCounts"] == [{"type": "string", "count": 1}]
    assert stored.history_line_count == 20_001
