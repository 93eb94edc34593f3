"""`flightlog artifact ls/show/get` in-process, and artifacts through `import wandb`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import flightlog
from flightlog._wandb_install import enable
from flightlog.cli import main

from .conftest import python_script


@pytest.fixture
def logged(tmp_path: Path) -> flightlog.Run:
    run = flightlog.init(project="p")
    ck = tmp_path / "w.ckpt"
    ck.write_bytes(b"one")
    run.log_model(ck, name="net", aliases=["best"])
    ck.write_bytes(b"two!")
    art = flightlog.Artifact("net", "model", description="evil \x1b[2J name\x07")
    art.add_file(ck)
    art.add_reference("s3://bucket/\x1b]0;title\x07")
    run.log_artifact(art)
    run.finish()
    return run


def test_ls_and_show_list_versions_aliases_files_and_lineage(
    logged: flightlog.Run, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["artifact", "ls"]) == 0
    out = capsys.readouterr().out
    assert "net" in out and "model" in out and "v1" in out
    assert main(["artifact", "ls", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["name"], row["versions"], row["version"], row["aliases"]) == (
        "net",
        2,
        "v1",
        ["latest"],
    )
    assert main(["artifact", "show", "net"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [r[:2] for r in rows] == [["v0", "best"], ["v1", "latest"]]
    assert f"p/{logged.id}" in out
    assert main(["artifact", "show", "p/net:best"]) == 0
    out = capsys.readouterr().out
    assert "p/net:v0 (model)" in out and "w.ckpt" in out and "3 B" in out
    assert main(["artifact", "show", "net:latest", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["version"] == "v1" and doc["aliases"] == ["latest"]
    assert doc["entries"]["w.ckpt"]["size"] == 4


def test_stored_text_reaches_the_terminal_escaped(
    logged: flightlog.Run, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["artifact", "show", "net:v1"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "evil \\x1b[2J name\\x07" in out and "s3://bucket/\\x1b]0;title\\x07" in out


def test_get_downloads_a_version_and_errors_are_one_line(
    logged: flightlog.Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["artifact", "get", "net:best", "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "w.ckpt").read_bytes() == b"one"
    assert "p/net:v0 ->" in capsys.readouterr().out
    for bad, says in (
        (["artifact", "get", "net:v5"], "no artifact p/net:v5"),
        (["artifact", "show", "ghost"], "no artifact named 'ghost'"),
        (["artifact", "show", "net:bad alias"], "invalid artifact alias"),
        (["artifact", "ls", "--root", str(tmp_path / "none")], "no flightlog store"),
    ):
        assert main(bad) == 1
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, err


@pytest.mark.slow
def test_artifacts_through_import_wandb(tmp_path: Path, store: Path) -> None:
    target = tmp_path / "alias"
    enable(target)
    r = python_script(
        """
        import wandb
        run = wandb.init(project="w")
        with open("m.pt", "wb") as f:
            f.write(b"weights")
        art = wandb.Artifact("m", type="model")
        art.add_file("m.pt")
        wandb.log_artifact(art, aliases=["best"])
        print(wandb.use_artifact("m:best").version, open(wandb.use_model("m:latest"), "rb").read())
        run.finish()
        """,
        env={"PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])},
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "v0 b'weights'"
