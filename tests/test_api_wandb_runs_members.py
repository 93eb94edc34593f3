"""More of wandb's public API that report scripts call: `api.runs(..., lazy=False)`,
`runs.histories()` (every run's rows with a `run_id`), `run.commit`, `run.rawconfig`,
`run.sweep`, `run.wait_until_finished()`, `run.load()`, `run.history_line_count`,
`api.projects()`, `api.project()`, `api.default_entity`."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

import flightlog

from .conftest import reaped, settled, spawn


def _two_runs() -> list[str]:
    ids = []
    for lr in (0.1, 0.2):
        run = flightlog.init(project="p", config={"lr": lr}, reinit=True)
        for i in range(3):
            run.log({"loss": lr * (3 - i)})
        run.finish(quiet=True)
        ids.append(run.id)
    settled()
    return ids


def test_histories_gives_every_runs_rows_with_its_run_id(api: flightlog.Api) -> None:
    first, second = _two_runs()
    runs = api.runs("p", lazy=False)
    rows = runs.histories(keys=["loss"])
    assert [(r["run_id"], r["_step"], round(r["loss"], 6)) for r in rows] == [
        (first, 0, 0.3), (first, 1, 0.2), (first, 2, 0.1),
        (second, 0, 0.6), (second, 1, 0.4), (second, 2, 0.2),
    ]  # fmt: skip
    assert len(runs.histories(samples=2)) == 4  # two a run, first and last kept
    with pytest.raises(flightlog.UsageError, match="format"):
        runs.histories(format="csv")
    if importlib.util.find_spec("pandas"):
        frame = runs.histories(keys=["loss"], format="pandas")
        assert list(frame["run_id"]) == [first] * 3 + [second] * 3
        assert list(frame.columns) == sorted(frame.columns)
    assert api.runs("nothing").histories() == []


def test_commit_rawconfig_and_sweep(api: flightlog.Api) -> None:
    first, _ = _two_runs()
    run = api.run(f"p/{first}")
    assert run.rawconfig == {"lr": 0.1} == run.config
    assert run.sweep is None and run.commit is None  # (the test's directory is no git tree)


LIVE = """
import time, flightlog
run = flightlog.init(project="p", id="slow")
run.log({"loss": 0.5})
print("logged", flush=True)
input()
run.log({"loss": 0.25})
run.finish()
"""


def test_wait_until_finished_returns_once_the_run_ended(api: flightlog.Api) -> None:
    with reaped(spawn(LIVE, stdin=subprocess.PIPE)) as proc:
        assert proc.stdout is not None and proc.stdout.readline() == "logged\n"
        run, stale = api.run("p/slow"), api.run("p/slow")
        assert run.state == "running" == stale.state
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        run.wait_until_finished(poll=0.1)
        assert run.state == "finished"
        assert run.summary["loss"] == 0.25
        proc.wait(timeout=60)
    assert stale.state != "finished"  # its writer's state as read (its process gone now)
    assert stale.load()["id"] == "slow"  # read again, as wandb's Run.load()
    assert stale.state == "finished" and stale.summary["loss"] == 0.25
    assert stale.history_line_count == 2


def test_history_with_wandbs_positional_samples_says_to_name_it(api: flightlog.Api) -> None:
    """wandb's `history(samples=500, keys=None, ...)` takes samples first; here keys come
    first, so `run.history(100)` would read the int as keys (a bare TypeError before)."""
    first, _ = _two_runs()
    with pytest.raises(flightlog.UsageError, match="samples=100 by name"):
        api.run(f"p/{first}").history(100)
    assert len(api.run(f"p/{first}").history(samples=2)) == 2


def test_projects_project_and_default_entity(store: Path) -> None:
    """wandb's `api.projects()` / `api.project(name)`, and `overrides={"entity": ...}`: a
    project named alone is that entity's (with the runs of none), as in wandb."""
    for entity, project in (("team", "vision"), ("team", "nlp"), (None, "vision")):
        flightlog.init(project=project, entity=entity, reinit=True).finish(quiet=True)
    flightlog.init(project="nlp", entity="other", reinit=True).finish(quiet=True)
    settled()
    api = flightlog.Api(store)
    got = [(p.entity, p.name, p.run_count) for p in api.projects()]
    assert got == [
        ("", "vision", 1),
        ("other", "nlp", 1),
        ("team", "nlp", 1),
        ("team", "vision", 1),
    ]
    assert [p.path for p in api.projects("team")] == [["team", "nlp"], ["team", "vision"]]
    assert api.project("vision", entity="team").run_count == 1
    with pytest.raises(LookupError, match="several entities"):
        api.project("nlp")
    with pytest.raises(LookupError, match=r"api\.projects\(\)"):
        api.project("audio")
    assert api.default_entity is None
    team = flightlog.Api(store, overrides={"entity": "team"})
    assert team.default_entity == "team"
    assert {r.entity for r in team.runs("nlp")} == {"team"}
    assert {r.entity for r in team.runs("vision")} == {"team", None}


def test_a_run_shows_as_wandbs_does(api: flightlog.Api) -> None:
    """`<Run entity/project/id (state)>`, not the dataclass's every field (a notebook cell
    showing `api.runs()` printed each run's whole run.json and writers)."""
    first, second = _two_runs()
    assert repr(api.run(f"p/{first}")) == f"<Run p/{first} (finished)>"
    assert repr(api.runs("p")) == f"[<Run p/{first} (finished)>, <Run p/{second} (finished)>]"
