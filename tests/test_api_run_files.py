"""`run.files(names=, pattern=)` and `run.file(name).download()` as in wandb's public API,
from a local store and from a server (`Api(host=)`, which said "not listed by Api(host=)
yet" for every run)."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog
from flightlog._errors import ArgumentError

from .conftest import cli, python_script
from .servers import LiveServer

SCRIPT = """
import flightlog
from pathlib import Path
Path("notes.json").write_text('{"lr": 0.1}')
Path("model.txt").write_text("weights")
run = flightlog.init(project="p", entity="alice", id="r1", mode="offline")
run.save("notes.json")
run.save("model.txt")
print("training")
run.log({"loss": 0.5})
run.finish()
"""


def _logged(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    done = python_script(SCRIPT, cwd=work)
    assert done.returncode == 0, done.stderr


def _check(run: flightlog.Api, tmp_path: Path) -> None:
    names = [f.name for f in run.files()]
    assert {"notes.json", "model.txt", "output.log"} <= set(names), names
    assert [f.name for f in run.files(names=["model.txt", "nope"])] == ["model.txt"]
    assert [f.name for f in run.files(pattern="%.json")] == ["notes.json"]
    assert [f.name for f in run.files(pattern="model._xt")] == ["model.txt"]
    with pytest.raises(ArgumentError, match="not both"):
        run.files(names=["model.txt"], pattern="%")
    got = run.file("notes.json").download(str(tmp_path / "out"))
    assert got.read_text() == '{"lr": 0.1}'
    assert run.file("notes.json").size == len('{"lr": 0.1}')
    with pytest.raises(FileExistsError, match="replace=True"):
        run.file("notes.json").download(str(tmp_path / "out"))


def test_a_local_runs_files_by_names_and_pattern(api: flightlog.Api, tmp_path: Path) -> None:
    _logged(tmp_path)
    _check(api.run("alice/p/r1"), tmp_path)


@pytest.mark.slow
def test_a_servers_run_lists_and_downloads_its_files(
    server: LiveServer, key: str, tmp_path: Path
) -> None:
    _logged(tmp_path)
    synced = cli("sync", "--all")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    run = flightlog.Api(host=server.url).run("alice/p/r1")
    _check(run, tmp_path)
    assert "training" in run.file("output.log").download(str(tmp_path / "log")).read_text()
    # a file kept with the run afterwards is shipped by the next sync
    (tmp_path / "late.txt").write_text("after the fact")
    flightlog.Api().run("alice/p/r1").upload_file(str(tmp_path / "late.txt"), root=str(tmp_path))
    again = cli("sync", "--all")
    assert again.returncode == 0, again.stdout + again.stderr
    late = flightlog.Api(host=server.url).run("alice/p/r1").file("late.txt")
    assert late.download(str(tmp_path / "late")).read_text() == "after the fact"


def test_upload_file_keeps_a_file_with_a_finished_run(api: flightlog.Api, tmp_path: Path) -> None:
    """wandb's `run.upload_file(path, root=".")`: the file is named by its path from root,
    listed by files() at once; a name the run keeps already is refused (files are never
    rewritten), as is a file outside root."""
    _logged(tmp_path)
    (tmp_path / "analysis").mkdir()
    (tmp_path / "analysis" / "report.md").write_text("# best run")
    run = api.run("alice/p/r1")
    kept = run.upload_file(str(tmp_path / "analysis" / "report.md"), root=str(tmp_path))
    assert kept.name == "analysis/report.md"
    again = flightlog.Api().run("alice/p/r1")
    assert again.file("analysis/report.md").download(str(tmp_path / "dl")).read_text() == (
        "# best run"
    )
    with pytest.raises(FileExistsError, match="another name"):
        run.upload_file(str(tmp_path / "analysis" / "report.md"), root=str(tmp_path))
    with pytest.raises(ArgumentError, match="not below root"):
        run.upload_file(str(tmp_path / "analysis" / "report.md"), root=str(tmp_path / "work"))
    assert not [p for p in run.paths.dir.iterdir() if p.name.endswith(".part")]
