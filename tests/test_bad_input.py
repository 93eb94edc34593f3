"""Bad values are refused where they are passed, with one error naming them and the fix,
before anything is written: no run directory, nothing already logged lost."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import flightlog
from flightlog._errors import ArgumentError, ArgumentTypeError

from .conftest import cli


def run_dirs(store: Path) -> list[Path]:
    """Run directories (dot-names are the store's own: .numbers/, the run-number markers)."""
    runs = store / "runs"
    if not runs.exists():
        return []
    return [r for p in runs.iterdir() for r in p.iterdir() if not r.name.startswith(".")]


def circular() -> dict[str, Any]:
    c: dict[str, Any] = {"lr": 0.1}
    c["self"] = c
    return c


BAD_INIT: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"name": 42}, ArgumentTypeError, r"init\(name=...\) must be a string, got int 42"),
    ({"name": "a\x1b[2Jb"}, ArgumentError, r"control character '\\x1b'"),
    ({"name": "x" * 300}, ArgumentError, "300 characters long; the limit is 256"),
    ({"name": "   "}, ArgumentError, "must not be empty"),
    ({"group": 5}, ArgumentTypeError, r"init\(group=...\) must be a string"),
    ({"job_type": ["train"]}, ArgumentTypeError, r"init\(job_type=...\) must be a string"),
    ({"notes": 3}, ArgumentTypeError, r"init\(notes=...\) must be a string"),
    ({"notes": "hi\x07"}, ArgumentError, "control character"),
    ({"tags": 5}, ArgumentTypeError, r"must be a list of strings.*tags=\['5'\]"),
    ({"tags": "a,b"}, ArgumentTypeError, "must be a list of strings"),
    ({"tags": ["ok", None]}, ArgumentTypeError, r"tag None in init\(tags=...\)"),
    ({"tags": ["t" * 65]}, ArgumentError, "the limit is 64"),
    ({"id": 123}, ArgumentTypeError, "invalid run id 123"),
    ({"project": 5}, ArgumentTypeError, "invalid project name 5"),
    ({"entity": "Bad.Entity"}, ArgumentError, r"invalid entity name 'Bad.Entity'.*lowercase"),
    ({"dir": 5}, ArgumentTypeError, r"init\(dir=...\) must be a path"),
    ({"resume": 3}, ArgumentTypeError, r"init\(resume=...\) must be a string or True/False"),
    ({"resume": "sometimes"}, ArgumentError, "unknown resume='sometimes'"),
    ({"reinit": 2.5}, ArgumentTypeError, r"init\(reinit=...\) must be a string or True/False"),
    ({"mode": 5}, ArgumentTypeError, r"init\(mode=...\) must be a string"),
    ({"settings": 5}, ArgumentTypeError, "settings must be a flightlog.Settings or a dict"),
    ({"settings": {"flush_interval": 0}}, ArgumentError, r"flush_interval'\]=0 is out of range"),
    ({"settings": {"flush_interval": -1}}, ArgumentError, "use 0.01 to 60"),
    (
        {"settings": {"flush_interval": "abc"}},
        ArgumentTypeError,
        "'abc' is not a number of seconds",
    ),
    ({"settings": {"flush_interval": math.inf}}, ArgumentError, "out of range"),
    ({"settings": {"heartbeat_interval": 0}}, ArgumentError, "out of range"),
    ({"settings": {"stats_interval": math.nan}}, ArgumentError, "out of range"),
    ({"settings": {"segment_rows": "x"}}, ArgumentTypeError, "'x' is not an integer"),
    ({"settings": {"segment_rows": 2.5}}, ArgumentError, "must be a whole number"),
    ({"settings": {"max_buffered_rows": 0}}, ArgumentError, "out of range"),
    ({"settings": {"console_max_bytes": True}}, ArgumentTypeError, "True is not an integer"),
    ({"settings": {"silent": "maybe"}}, ArgumentTypeError, "must be True or False"),
    ({"settings": {"bogus": 1}}, ArgumentError, "unknown setting 'bogus'"),
    (
        {"settings": flightlog.Settings(flush_interval=0)},  # type: ignore[arg-type]
        ArgumentError,
        "out of range",
    ),
    ({"config": 5}, ArgumentTypeError, "config must be a dict"),
    ({"config": "no/such/params.yaml"}, flightlog.ConfigError, "params.yaml' does not exist"),
    ({"config": {(1, 2): 3}}, flightlog.ConfigError, r"keys must be non-empty strings.*tuple"),
    ({"config": {"opt": {(1, 2): 3}}}, flightlog.ConfigError, r"config\['opt'\] has the key"),
    ({"config": circular()}, flightlog.ConfigError, r"config\['self'\].* refers back"),
    ({"config": {"big": "x" * (11 * 2**20)}}, flightlog.ConfigError, "11.0 MiB.*run.save"),
    ({"config": {"a": 1}, "config_exclude_keys": "a"}, ArgumentTypeError, "list of key names"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD_INIT)
def test_bad_init_argument_is_one_clear_error_and_no_run_directory(
    store: Path, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        flightlog.init(**kwargs)
    assert isinstance(caught.value, flightlog.UsageError)
    assert run_dirs(store) == []
    assert flightlog.run is None


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        (
            "FLIGHTLOG_STATS_INTERVAL",
            "soon",
            "FLIGHTLOG_STATS_INTERVAL='soon' is not a number of seconds",
        ),
        ("FLIGHTLOG_STATS_INTERVAL", "-3", "FLIGHTLOG_STATS_INTERVAL='-3' is out of range"),
        ("FLIGHTLOG_SEGMENT_SECONDS", "0", "FLIGHTLOG_SEGMENT_SECONDS='0' is out of range"),
        ("FLIGHTLOG_NAME", "run\x1b]0;owned\x07", "FLIGHTLOG_NAME .* control character"),
        ("WANDB_ENTITY", "My.Team", "WANDB_ENTITY: invalid entity name"),
        ("FLIGHTLOG_SILENT", "perhaps", "FLIGHTLOG_SILENT must be True or False"),
        ("FLIGHTLOG_RESUME", "later", "unknown resume='later'"),
    ],
)
def test_bad_environment_variable_is_named_in_the_error(
    store: Path, monkeypatch: pytest.MonkeyPatch, var: str, value: str, message: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ArgumentError, match=message):
        flightlog.init()
    assert run_dirs(store) == []


def test_empty_strings_mean_unset_as_argparse_defaults_pass_them(store: Path) -> None:
    run = flightlog.init(name="", group="", job_type="", notes="")
    assert run.name and run.group is None
    run.finish(quiet=True)


def test_good_values_of_every_kind_are_still_accepted(store: Path) -> None:
    run = flightlog.init(
        name="résumé run ✓",
        entity="team-1",
        tags=("a", "b"),
        notes="line one\nline two\twith a tab",
        settings={"flush_interval": "0.5", "segment_rows": 10.0, "silent": "true"},
        config={"betas": (0.9, 0.99), "classes": {0: "cat", 1: "dog"}, "arr": np.arange(3)},
        resume=False,
    )
    assert run.config["classes"] == {"0": "cat", "1": "dog"}
    assert run.config["arr"] == [0, 1, 2]
    run.log({"x": 1}, step=np.int64(5))
    run.log({"x": 2}, step=6.0)
    run.finish(quiet=True)
    assert len(run_dirs(store)) == 1


@pytest.mark.parametrize(
    ("step", "error", "message"),
    [
        (2**63, ArgumentError, r"step must be an integer from 0 to 2\*\*53"),
        (2**53 + 1, ArgumentError, "from 0 to 2"),
        (-1, ArgumentError, "from 0 to 2"),
        (math.nan, ArgumentError, "step must be a whole number, got nan"),
        (math.inf, ArgumentError, "step must be a whole number, got inf"),
        (1.5, ArgumentError, "whole number"),
        (True, ArgumentTypeError, "step must be an int, got bool"),
        ("7", ArgumentTypeError, "step must be an int, got str"),
    ],
)
def test_bad_step_is_refused_and_the_run_keeps_logging(
    api: flightlog.Api, step: Any, error: type[Exception], message: str
) -> None:
    run = flightlog.init()
    run.log({"loss": 1.0})
    with pytest.raises(error, match=message):
        run.log({"loss": 2.0}, step=step)
    run.log({"loss": 3.0})  # the old code raised OverflowError here after step=2**63
    run.log({"loss": 4.0}, step=10)
    run.finish(quiet=True)
    history = api.run(run.id).history()
    assert history.column("_step").to_pylist() == [0, 1, 10]
    assert history.column("loss").to_pylist() == [1.0, 3.0, 4.0]


def test_bad_setter_values_are_refused_and_the_run_keeps_its_metadata(
    api: flightlog.Api,
) -> None:
    run = flightlog.init(name="good", tags=["a"], notes="n")
    run.log({"x": 1})
    for attr, value, error in [
        ("name", 42, ArgumentTypeError),
        ("name", "", ArgumentError),
        ("name", "[red]x[/]\x1b[31m", ArgumentError),
        ("tags", "abc", ArgumentTypeError),
        ("tags", [1], ArgumentTypeError),
        ("notes", 7, ArgumentTypeError),
        ("notes", "\x1b]52;c;cGF5bG9hZA==\x07", ArgumentError),
    ]:
        with pytest.raises(error, match=f"run.{attr}|tag "):
            setattr(run, attr, value)
    with pytest.raises(flightlog.ConfigError, match="refers back"):
        run.config.update({"loop": circular()})
    run.finish(quiet=True)
    stored = api.run(run.id)
    assert (stored.name, stored.tags, stored.notes) == ("good", ["a"], "n")
    assert "loop" not in stored.config and stored.history().num_rows == 1


def test_runs_listing_works_after_every_refused_init(store: Path) -> None:
    """init(name=42) used to write a run that broke `flightlog runs` for the whole store."""
    for kwargs, _error, _message in BAD_INIT:
        with pytest.raises(flightlog.UsageError):
            flightlog.init(**kwargs)
    flightlog.init(name="fine").finish(quiet=True)
    out = cli("runs", "--root", str(store))
    assert out.returncode == 0, out.stderr
    assert "fine" in out.stdout


def test_a_refused_reinit_leaves_the_current_run_recording(api: flightlog.Api) -> None:
    run = flightlog.init(name="first")
    run.log({"x": 1})
    for bad in ({"name": 42}, {"config": circular()}, {"settings": {"flush_interval": 0}}):
        with pytest.raises(flightlog.UsageError):
            flightlog.init(reinit=True, **bad)
    assert flightlog.run is run
    run.log({"x": 2})
    run.finish(quiet=True)
    assert api.run(run.id).history().column("x").to_pylist() == [1, 2]
