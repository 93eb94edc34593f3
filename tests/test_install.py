"""The README's install, the way a new user meets it: a fresh venv, `pip install -e .`, then a
script run twice from the directory that holds its default `./flightlog` store.

The venv borrows the test environment's dependencies through a path entry (a `.pth`), so pip
finds them installed and the test takes seconds instead of downloading pyarrow and duckdb;
flightlog itself is installed for real from a clean copy of the source tree, through the
project's build backend.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from .servers import free_port, stop_store_agent

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ["pyproject.toml", "README.md", "MANIFEST.in", "build_backend", "flightlog", "store"]
SOURCE += ["tui", "sync"]

SCRIPT = """\
import flightlog
run = flightlog.init(project="demo")
run.log({"loss": 0.5})
run.finish()
"""


def _venv(where: Path) -> Path:
    """A fresh venv that sees this environment's dependencies but no flightlog."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=300)
    py = where / "bin" / "python"
    purelib = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return py


def _clean_copy(dst: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist")
    dst.mkdir()
    for name in SOURCE:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=ignore)
        else:
            shutil.copy2(src, dst / name)
    return dst


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLIGHTLOG_", "PYTHON"))}
    env.pop("VIRTUAL_ENV", None)
    return {**env, "FLIGHTLOG_SILENT": "1", **extra}


def _run(args: list, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _installed(tmp_path: Path, editable: bool) -> tuple[Path, Path]:
    """(the venv's python, the project copy it was installed from), with the README's command
    (`pip install -e .` in the project) or a plain `pip install .`."""
    py = _venv(tmp_path / "venv")
    project = _clean_copy(tmp_path / "project")
    cmd = [py, "-m", "pip", "install", "-q", "-e" if editable else "", "."]
    done = _run([c for c in cmd if c], project, _env(PIP_DISABLE_PIP_VERSION_CHECK="1"))
    assert done.returncode == 0, done.stderr
    return py, project


def _script_twice_next_to_its_store(py: Path, work: Path, env: dict[str, str]) -> None:
    work.mkdir()
    (work / "train.py").write_text(SCRIPT)
    for attempt in (1, 2):  # the first run creates ./flightlog, the second one starts next to it
        done = _run([py, "train.py"], work, env)
        assert done.returncode == 0, f"run {attempt}: {done.stderr}"
        assert (work / "flightlog" / "runs" / "demo").is_dir()
    for code in ("import flightlog; flightlog.init", "import flightlog.store, flightlog.tui"):
        done = _run([py, "-c", code], work, env)
        assert done.returncode == 0, done.stderr
    runs = _run([py.parent / "flightlog", "runs"], work, env)
    assert runs.returncode == 0 and runs.stdout.count("demo") == 2, runs.stdout + runs.stderr


def test_the_readme_install_then_a_script_twice_python_c_and_the_agent(tmp_path: Path) -> None:
    """`pip install -e .`, then everything a user starts next to `./flightlog`: a script twice,
    `python -c`, the CLI, a module added to the source since the install, and the online-mode
    agent (it used to die at import, leaving every run pending)."""
    py, project = _installed(tmp_path, editable=True)
    work, env = tmp_path / "work", _env(FLIGHTLOG_CONFIG_DIR=str(tmp_path / "config"))
    _script_twice_next_to_its_store(py, work, env)

    (project / "store" / "added_later.py").write_text("VALUE = 42\n")
    new_module = "from flightlog.store.added_later import VALUE; print(VALUE)"
    done = _run([py, "-c", new_module], work, env)
    assert done.stdout.strip() == "42", done.stderr

    online = env | {
        "FLIGHTLOG_API_KEY": "fl_test_key",
        # nothing listens: a healthy agent waits out the outage, holding the store's lock
        "FLIGHTLOG_BASE_URL": f"http://127.0.0.1:{free_port()}",
    }
    code = SCRIPT.replace('project="demo"', 'project="demo", mode="online"')
    done = _run([py, "-c", code], work, online)
    assert done.returncode == 0 and "died as it started" not in done.stderr, done.stderr
    probe = textwrap.dedent(
        """
        import sys, time
        from flightlog.sync.lock import AgentLock
        end = time.monotonic() + 60
        while time.monotonic() < end and not AgentLock(sys.argv[1]).held_elsewhere():
            time.sleep(0.1)
        print(AgentLock(sys.argv[1]).held_elsewhere())
        """
    )
    try:
        held = _run([py, "-c", probe, str(work / "flightlog")], tmp_path, env)
        log = (work / "flightlog" / "sync-agent.log").read_text()
        assert held.stdout.strip() == "True", f"the agent never came up:\n{log}"
    finally:
        stop_store_agent(work / "flightlog")


def test_a_plain_install_too(tmp_path: Path) -> None:
    py, _ = _installed(tmp_path, editable=False)
    env = _env(FLIGHTLOG_CONFIG_DIR=str(tmp_path / "config"))
    _script_twice_next_to_its_store(py, tmp_path / "work", env)
