"""`flightlog --root DIR artifact ls` was refused ("invalid choice: 'DIR'"): the global
`--root` went right after the command's first word, where `artifact` (whose subcommands take
it) and `wandb` (whose actions do not) read a subcommand's name. In-process (`main(argv)`)."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog
from flightlog.cli import main


def test_root_before_a_command_with_subcommands_reads_that_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    run = flightlog.init(project="p", dir=str(other))
    ck = tmp_path / "w.ckpt"
    ck.write_bytes(b"weights")
    run.log_model(ck, name="net")
    run.finish()
    capsys.readouterr()
    assert main(["--root", str(other), "artifact", "ls"]) == 0
    assert "net" in capsys.readouterr().out


def test_root_before_a_command_whose_actions_take_none_is_refused_as_after_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--root", "somewhere", "wandb", "status"])
    assert exited.value.code == 2
    assert "unrecognized arguments: --root somewhere" in capsys.readouterr().err


def test_an_abbreviated_root_before_the_command_is_not_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # argparse takes `--ro` for `--root`: the main parser's value was then overwritten by
    # the command's default, and the command read the default store without a word
    other = tmp_path / "other"
    run = flightlog.init(project="p", dir=str(other), name="elsewhere")
    run.finish()
    capsys.readouterr()
    assert main(["--ro", str(other), "runs"]) == 0
    assert "elsewhere" in capsys.readouterr().out
