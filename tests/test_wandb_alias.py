"""`flightlog wandb enable|disable|status`: `import wandb` gives flightlog on request, with
what the frameworks check (submodules, installed metadata), and never hides a real wandb
by surprise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flightlog._wandb_install import BACKUP
from flightlog.cli import main

from .conftest import python_script


def _with(target: Path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}


def test_enable_makes_import_wandb_give_flightlog_with_what_integrations_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "site"
    assert main(["wandb", "enable", "--target", str(target)]) == 0
    assert "now gives flightlog" in capsys.readouterr().out
    r = python_script(
        """
        import importlib.metadata, importlib.util
        import flightlog, wandb
        from packaging.version import Version
        from wandb.sdk.lib.config_util import ConfigError
        from wandb.sdk.lib import RunDisabled
        from wandb.wandb_run import Run
        from wandb.errors import CommError, UsageError
        assert wandb.init is not None and wandb.log is flightlog.log
        assert ConfigError is flightlog.ConfigError and Run is flightlog.Run
        assert wandb.run is None and hasattr(wandb, "run")
        assert Version(importlib.metadata.version("wandb")) >= Version("0.12.10")
        run = wandb.init(project="p", config={"lr": 0.1})
        wandb.log({"loss": 1.0})
        assert isinstance(run, (Run, RunDisabled)) and wandb.run is run
        run._label(code="transformers_trainer")
        wandb.finish()
        print("ok", run.dir)
        """,
        env=_with(target),
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok")


def test_alias_init_dir_means_what_wandb_means(tmp_path: Path) -> None:
    """Lightning passes dir=save_dir ("." by default): as WANDB_DIR=D, D holds the tracker's
    folder, so runs land in D/flightlog, or in FLIGHTLOG_DIR when it is set."""
    target = tmp_path / "site"
    main(["wandb", "enable", "--target", str(target)])
    code = "import wandb; r = wandb.init(project='p', dir='out'); r.finish(); print(r.dir)"
    env = {k: v for k, v in os.environ.items() if k != "FLIGHTLOG_DIR"}
    r = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, **_with(target)},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / r.stdout.strip()).parents[2] == tmp_path / "out" / "flightlog"
    r = python_script(code, env=_with(target), cwd=tmp_path)  # FLIGHTLOG_DIR set: it wins
    assert (tmp_path / r.stdout.strip()).is_relative_to(tmp_path / "store")


def test_status_says_which_wandb_is_imported(tmp_path: Path) -> None:
    target = tmp_path / "site"
    r = python_script("from flightlog.cli import main; main(['wandb', 'status'])")
    assert "fails here" in r.stdout or "real wandb" in r.stdout
    main(["wandb", "enable", "--target", str(target)])
    r = python_script(
        "from flightlog.cli import main; main(['wandb', 'status'])", env=_with(target)
    )
    assert "gives flightlog (alias 0.22.0+flightlog)" in r.stdout
    assert str(target.resolve()) in r.stdout


def _fake_real_wandb(target: Path) -> None:
    (target / "wandb").mkdir(parents=True)
    (target / "wandb" / "__init__.py").write_text("REAL = True\n__version__ = '0.31.0'\n")
    info = target / "wandb-0.31.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wandb\nVersion: 0.31.0\n")
    (info / "INSTALLER").write_text("pip\n")


def test_enable_refuses_over_a_real_wandb_and_force_moves_it_aside_until_disable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "site"
    _fake_real_wandb(target)
    assert main(["wandb", "enable", "--target", str(target)]) == 1
    err = capsys.readouterr().err
    assert "a real wandb (0.31.0) is installed" in err and "--force" in err
    assert (target / "wandb" / "__init__.py").read_text().startswith("REAL")  # untouched

    assert main(["wandb", "enable", "--target", str(target), "--force"]) == 0
    assert (target / BACKUP / "wandb-0.31.0.dist-info").is_dir()
    r = python_script("import wandb; print(wandb.__version__)", env=_with(target))
    assert r.stdout.strip() == "0.22.0+flightlog"

    assert main(["wandb", "disable", "--target", str(target)]) == 0
    assert "real wandb is back" in capsys.readouterr().out
    r = python_script("import wandb; print(wandb.REAL, wandb.__version__)", env=_with(target))
    assert r.stdout.strip() == "True 0.31.0"
    assert not (target / BACKUP).exists()


def test_disable_removes_the_alias_and_pip_sees_it_as_a_normal_distribution(
    tmp_path: Path,
) -> None:
    target = tmp_path / "site"
    main(["wandb", "enable", "--target", str(target)])
    main(["wandb", "enable", "--target", str(target)])  # again: replaced, not doubled
    infos = list(target.glob("wandb-*.dist-info"))
    assert len(infos) == 1
    record = (infos[0] / "RECORD").read_text()
    assert "wandb/__init__.py" in record  # `pip uninstall wandb` removes the alias too
    main(["wandb", "disable", "--target", str(target)])
    assert list(target.iterdir()) == []
    r = python_script("import wandb; print(wandb.__version__)", env=_with(target))
    assert "flightlog" not in r.stdout  # no module, or a real wandb installed elsewhere
    assert r.returncode == 0 or "No module named 'wandb'" in r.stderr
