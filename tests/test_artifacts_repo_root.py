"""A store made by a script run in the repository's root is `./flightlog`, the package's own
directory: its artifact versions live in `flightlog/artifacts/<project>/`, beside the
package's `__init__.py`, `registry.py`… and `__pycache__/`. These tests build that in a temp
clone (the package's real files, the repository's real .gitignore, a real training
subprocess) and check that the CLI, doctor, the TUI and sync see only the store's versions,
and that `git status` stays clean."""

from __future__ import annotations

import compileall
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import flightlog
from flightlog.store.layout import RunPaths
from flightlog.sync.uploader import load_local, sync_run
from flightlog.tui.artifacts_screen import ArtifactsScreen

from .servers import LiveServer
from .test_artifacts_tui import ArtifactsApp, listed
from .test_tui import settle

PACKAGE = Path(flightlog.__file__).resolve().parent
REPO = PACKAGE.parent
TRAIN = """
import sys
import flightlog
run = flightlog.init(project="demo")
open(sys.argv[1], "wb").write(b"w" * 300)
art = flightlog.Artifact("model", type="model")
art.add_file(sys.argv[1])
run.log_artifact(art)
run.log({"loss": 0.5})
run.finish()
print(run.dir)
"""
NOT_PROJECTS = ("__pycache__", "registry.py", "__init__.py")


def _env() -> dict[str, str]:
    """The test's environment without FLIGHTLOG_DIR: the store is ./flightlog."""
    return {k: v for k, v in os.environ.items() if k != "FLIGHTLOG_DIR"}


def _git(clone: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(cmd, cwd=clone, check=True, capture_output=True, text=True).stdout


def _cli(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed `flightlog` command (its own directory first on sys.path, as a user's
    shell runs it: the clone's ./flightlog is not imported)."""
    exe = Path(sys.executable).with_name("flightlog")
    return subprocess.run(
        [str(exe), *args], cwd=clone, env=_env(), capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def clone(tmp_path: Path) -> tuple[Path, Path]:
    """(a git clone holding the package's artifacts sources, the run dir of a script that
    logged an artifact in its root)."""
    clone = tmp_path / "clone"
    (clone / "flightlog").mkdir(parents=True)
    shutil.copy(PACKAGE / "__init__.py", clone / "flightlog")
    shutil.copytree(
        PACKAGE / "artifacts",
        clone / "flightlog" / "artifacts",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(REPO / ".gitignore", clone)
    assert compileall.compile_dir(clone / "flightlog", quiet=1)  # what an import leaves
    _git(clone, "init", "-q")
    _git(clone, "add", "-A")
    _git(clone, "commit", "-qm", "the package")
    script = tmp_path / "train.py"  # outside the clone: the installed package is imported
    script.write_text(TRAIN)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "weights.bin")],
        cwd=clone,
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    run_dir = clone / done.stdout.split()[-1]
    assert run_dir.is_relative_to(clone / "flightlog" / "runs")
    assert (clone / "flightlog" / "artifacts" / "demo" / "model" / "versions").is_dir()
    assert (clone / "flightlog" / "artifacts" / "__pycache__").is_dir()
    return clone, run_dir


def test_git_status_stays_clean_after_logging_an_artifact(clone: tuple[Path, Path]) -> None:
    root, _ = clone
    assert _git(root, "status", "--porcelain", "--untracked-files=all") == ""
    # the package's sources are still tracked: a change to one shows
    (root / "flightlog" / "artifacts" / "registry.py").write_text("# edited\n")
    assert _git(root, "status", "--porcelain") == " M flightlog/artifacts/registry.py\n"


def test_cli_and_doctor_see_only_the_stores_artifacts(clone: tuple[Path, Path]) -> None:
    root, _ = clone
    listing = _cli(root, "artifact", "ls", "--json")
    assert listing.returncode == 0, listing.stderr
    assert [(r["project"], r["name"]) for r in json.loads(listing.stdout)] == [("demo", "model")]
    for entry in NOT_PROJECTS:
        listing = _cli(root, "artifact", "ls", "--project", entry, "--json")
        assert (listing.returncode, listing.stdout.strip()) == (0, "[]"), listing.stderr
    for entry in NOT_PROJECTS:
        shown = _cli(root, "artifact", "show", f"{entry}/registry")
        assert shown.returncode == 1
        assert f"no artifact {entry}/registry in flightlog" in shown.stderr
    assert _cli(root, "artifact", "show", "demo/model").returncode == 0
    assert _cli(root, "doctor", "--repair").returncode == 0  # builds the index
    doctor = _cli(root, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "artifacts" not in doctor.stdout
    assert _git(root, "status", "--porcelain", "--untracked-files=all") == ""


async def test_tui_artifacts_view_lists_only_the_stores_versions(
    clone: tuple[Path, Path],
) -> None:
    app = ArtifactsApp(clone[0] / "flightlog")
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, ArtifactsScreen) and app.screen.loaded)
        assert [r[:2] for r in listed(app)] == [["demo/model", "v0"]]
        status = str(app.screen.query_one("#artifacts-status").render())
        assert status == "1 versions of 1 artifacts"


@pytest.mark.slow
def test_sync_sends_only_the_stores_artifact(clone: tuple[Path, Path], tmp_path: Path) -> None:
    _, run_dir = clone
    server = LiveServer(tmp_path / "server").start()
    try:
        key = server.user("alice")
        with LiveServer.client(server, key) as c:
            assert sync_run(c, load_local(RunPaths(run_dir)), "alice").complete
        stored = server.root / "artifacts"
        assert sorted(str(p.relative_to(stored)) for p in stored.glob("*/*/*")) == [
            "@alice/demo/model"
        ]
        blobs = [p for p in (server.root / "blobs").rglob("*") if p.is_file()]
        assert not [p for p in blobs if p.read_bytes().startswith(b'"""')]  # no source file
    finally:
        server.stop()
