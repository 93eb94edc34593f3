"""`flightlog wandb enable|disable|status`: make `import wandb` resolve to flightlog in one
environment, on request, and undo it.

Why files in site-packages and not an import hook: frameworks decide whether wandb is there
before importing it, by `importlib.util.find_spec("wandb")` (transformers) and by installed
distribution metadata (`importlib.metadata`, Lightning's `RequirementCache("wandb>=0.12.10")`,
Accelerate). Only a real package directory plus a `wandb-<version>.dist-info` satisfies all of
them in every process of the environment (DataLoader workers, torchrun ranks, spawn) without
a `.pth` running code at every interpreter start. The shim is two small files whose code lives
in flightlog (`flightlog._wandb_alias`), and the dist-info's RECORD lists them, so `pip
uninstall wandb` removes the alias too.

A real wandb is never shadowed by surprise: `enable` refuses while one is installed, and with
`--force` moves it aside into `.flightlog-wandb-backup/` next to it; `disable` puts it back.
`--target DIR` writes the alias into another directory instead (one put on PYTHONPATH for a
single job; tests use it).
"""

from __future__ import annotations

import importlib.util
import shutil
import sysconfig
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ._errors import UsageError
from ._wandb_alias import WANDB_VERSION

MARKER = "flightlog"  # the dist-info's INSTALLER: this wandb is the alias
BACKUP = ".flightlog-wandb-backup"

SHIM = '''"""`import wandb` is flightlog in this environment: written by `flightlog wandb enable`.

Undo with `flightlog wandb disable` (or `pip uninstall wandb`).
"""

from flightlog._wandb_alias import install as _install

__getattr__ = _install(globals())
'''


def site_packages() -> Path:
    """The running interpreter's site-packages (the active virtualenv's, if any)."""
    return Path(sysconfig.get_paths()["purelib"])


def _dist_infos(target: Path) -> list[Path]:
    return sorted(p for p in target.glob("wandb-*.dist-info") if p.is_dir())


def _is_alias(dist_info: Path) -> bool:
    installer = dist_info / "INSTALLER"
    return installer.is_file() and installer.read_text().strip() == MARKER


def enable(target: Path | None = None, force: bool = False) -> str:
    """Write the alias into `target` (default: site-packages); return what was done."""
    target = (target or site_packages()).resolve()
    target.mkdir(parents=True, exist_ok=True)
    infos = _dist_infos(target)
    real = [d for d in infos if not _is_alias(d)]
    moved = ""
    if real or ((target / "wandb").exists() and not infos):
        if not force:
            version = real[0].name[len("wandb-") : -len(".dist-info")] if real else "unknown"
            raise UsageError(
                f"a real wandb ({version}) is installed in {target}: `import wandb` would no "
                "longer reach it. Use `import flightlog as wandb` in your own code, or run "
                "`flightlog wandb enable --force` to move it aside (`flightlog wandb disable` "
                "puts it back)"
            )
        backup = target / BACKUP
        if backup.exists():
            raise UsageError(f"{backup} already holds a wandb moved aside: remove it first")
        backup.mkdir()
        for p in [target / "wandb", *real]:
            if p.exists():
                shutil.move(str(p), str(backup / p.name))
        moved = f"; the real wandb was moved to {backup}"
    for d in _dist_infos(target):  # a previous alias: replaced
        shutil.rmtree(d)
    pkg = target / "wandb"
    if pkg.exists():
        shutil.rmtree(pkg)
    pkg.mkdir()
    (pkg / "__init__.py").write_text(SHIM)
    info = target / f"wandb-{WANDB_VERSION}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: wandb\nVersion: {WANDB_VERSION}\n"
        "Summary: flightlog as `wandb` (flightlog wandb disable removes it)\n"
    )
    (info / "INSTALLER").write_text(MARKER + "\n")
    files = ["wandb/__init__.py", *(f"{info.name}/{n}" for n in ("METADATA", "INSTALLER"))]
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in [*files, f"{info.name}/RECORD"]))
    return f"`import wandb` now gives flightlog in {target}{moved}"


def disable(target: Path | None = None) -> str:
    """Remove the alias from `target`, and put back a wandb that `enable --force` moved."""
    target = (target or site_packages()).resolve()
    aliases = [d for d in _dist_infos(target) if _is_alias(d)]
    if not aliases:
        return f"the wandb alias is not enabled in {target}: nothing to do"
    for d in aliases:
        shutil.rmtree(d)
    shutil.rmtree(target / "wandb", ignore_errors=True)
    backup = target / BACKUP
    if backup.is_dir():
        for p in backup.iterdir():
            shutil.move(str(p), str(target / p.name))
        backup.rmdir()
        return f"the alias is removed from {target} and the real wandb is back"
    return f"the alias is removed from {target}; `import wandb` fails until wandb is installed"


@dataclass
class Status:
    active: str  # "alias", "wandb" or "none"
    where: str | None
    version: str | None

    def describe(self) -> str:
        if self.active == "alias":
            return (
                f"`import wandb` gives flightlog (alias {self.version}) from {self.where}; "
                "`flightlog wandb disable` undoes it"
            )
        if self.active == "wandb":
            return f"`import wandb` gives the real wandb {self.version} from {self.where}"
        return "`import wandb` fails here; `flightlog wandb enable` makes it give flightlog"


def status() -> Status:
    """Which `wandb` this interpreter would import (without importing it)."""
    spec = importlib.util.find_spec("wandb")
    if spec is None or not spec.origin:
        return Status("none", None, None)
    where = str(Path(spec.origin).parent.parent)
    try:
        dist = metadata.distribution("wandb")
        version = dist.version
        alias = (dist.read_text("INSTALLER") or "").strip() == MARKER
    except metadata.PackageNotFoundError:
        version, alias = None, False
    if not alias and spec.origin and "flightlog._wandb_alias" in Path(spec.origin).read_text():
        alias = True
    return Status("alias" if alias else "wandb", where, version)
