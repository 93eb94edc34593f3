"""`flightlog --root DIR runs` was refused ("invalid choice: 'DIR'") and `flightlog runs
--debug` too ("unrecognized arguments"): the global options are taken before the command
and after it, as users type them both ways. Through the real command."""

from __future__ import annotations

from pathlib import Path

import flightlog

from .conftest import cli, settled


def _run_elsewhere(tmp_path: Path) -> tuple[Path, flightlog.Run]:
    other = tmp_path / "other"
    run = flightlog.init(project="p", dir=str(other), name="elsewhere")
    run.log({"a": 1})
    run.finish()
    settled()
    return other, run


def test_root_before_the_command_reads_that_store(tmp_path: Path) -> None:
    other, run = _run_elsewhere(tmp_path)
    for args in (
        ("--root", str(other), "runs"),
        (f"--root={other}", "runs"),
        ("--debug", "--root", str(other), "runs"),
        ("--root", str(other), "show", run.id),
    ):
        done = cli(*args)
        assert done.returncode == 0, (args, done.stderr)
        assert "elsewhere" in done.stdout, args


def test_debug_after_the_command_is_taken(tmp_path: Path) -> None:
    other, _ = _run_elsewhere(tmp_path)
    done = cli("runs", "--root", str(other), "--debug")
    assert done.returncode == 0, done.stderr
    assert "elsewhere" in done.stdout
    done = cli("show", "nosuchrun", "--root", str(other), "--debug")  # a traceback: --debug's
    assert done.returncode == 1 and "Traceback" in done.stderr


def test_root_before_a_command_without_a_store_is_refused_as_after_it() -> None:
    done = cli("--root", "somewhere", "logout")
    assert done.returncode == 2 and "unrecognized arguments: --root somewhere" in done.stderr
