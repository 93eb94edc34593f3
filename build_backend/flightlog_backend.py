"""The build backend: setuptools, with an editable install that a `./flightlog` store cannot hide.

Why this exists. `pip install -e .` makes setuptools write an import hook (a meta-path finder)
because the package-dir mapping store/ -> flightlog.store, tui/ -> flightlog.tui and
sync/ -> flightlog.sync cannot be expressed as a plain sys.path entry. setuptools *appends*
that finder to sys.meta_path, after the standard PathFinder (pypa/setuptools#3557, open).
A script run from a directory holding its default store `./flightlog` (a directory with no
`__init__.py`, and the script's directory is sys.path[0]) then gets that store as an empty
namespace package: `module 'flightlog' has no attribute 'init'` - for scripts, `python -c`,
the REPL, Jupyter and the detached sync agent alike. A regular install is immune: a regular
package anywhere on sys.path beats a namespace portion.

The fix, for editable wheels only: one more tiny finder, inserted *first* on sys.meta_path,
that answers for the top-level name `flightlog` alone with the source tree's
`flightlog/__init__.py`. Submodules can never be shadowed by the working directory (they are
looked up in the parent package's `__path__`), so setuptools' own finder keeps mapping
flightlog.store/.tui/.sync, new source files are picked up without reinstalling, and nothing
but `flightlog` becomes importable. Considered and rejected: `editable_mode=strict` (a link
tree that misses every new module until the next install, and a flag on the README's
command); `compat` (cannot express the mapping); putting the project root on sys.path (makes
`store`, `sync`, `tui` and `tests` importable top-level names).

Every other hook is setuptools' own, so `pip install .`, `python -m build` and sdists behave
exactly as with `build-backend = "setuptools.build_meta"`.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from setuptools import build_meta as _setuptools
from setuptools.build_meta import (  # noqa: F401 - the PEP 517/660 hooks, re-exported
    build_sdist,
    build_wheel,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

#: the module and .pth file the editable wheel installs next to setuptools' own finder
FINDER_MODULE = "_flightlog_editable_first"

_FINDER_SOURCE = '''\
"""Installed by flightlog's editable wheel (see build_backend/flightlog_backend.py there).

Finds the top-level `flightlog` package in the source tree before the standard path finder
can take a `./flightlog` store directory for an empty namespace package. setuptools' finder,
later on sys.meta_path, still maps the subpackages (flightlog.store, .tui, .sync)."""

import os
import sys
from importlib.util import spec_from_file_location

INIT = {init!r}


class FlightlogFirst:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "flightlog" and path is None and os.path.exists(INIT):
            return spec_from_file_location(name, INIT)
        return None


if FlightlogFirst not in sys.meta_path:
    sys.meta_path.insert(0, FlightlogFirst)
'''


def build_editable(
    wheel_directory: str,
    config_settings: dict | None = None,
    metadata_directory: str | None = None,
) -> str:
    """setuptools' editable wheel, plus the finder that keeps `flightlog` first."""
    name = _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)
    init = Path.cwd().resolve() / "flightlog" / "__init__.py"  # hooks run in the project root
    if not init.is_file():
        raise RuntimeError(f"flightlog build backend: {init} not found (run from the project)")
    _add_files(
        Path(wheel_directory) / name,
        {
            f"{FINDER_MODULE}.py": _FINDER_SOURCE.format(init=str(init)).encode(),
            f"{FINDER_MODULE}.pth": f"import {FINDER_MODULE}\n".encode(),
        },
    )
    return name


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _add_files(wheel: Path, files: dict[str, bytes]) -> None:
    """Rewrite `wheel` with `files` added at its root and listed in its RECORD (so that
    `pip uninstall` removes them too)."""
    tmp = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        record = next(n for n in src.namelist() if n.endswith(".dist-info/RECORD"))
        for item in src.infolist():
            if item.filename != record:
                dst.writestr(item, src.read(item))
        for path, data in files.items():
            dst.writestr(path, data)
        lines = src.read(record).decode().splitlines()
        lines[-1:-1] = [_record_line(p, d) for p, d in files.items()]  # RECORD's own line last
        dst.writestr(record, "\n".join(lines) + "\n")
    tmp.replace(wheel)
