"""The files of a run read through `flightlog.Api`, as wandb's public-API `File`s: `name`,
`size`, `download(root=".", replace=False, exist_ok=False)`; a local run's copied from its
directory (RunFile), a server's fetched from its files route (RemoteFile).

`select` is `Run.files(names=, pattern=)`'s choice, as wandb's: exact names, or a pattern
in SQL's LIKE syntax (`%` any text, `_` one character: "%.json"); `upload` is
`Run.upload_file()`'s copy into a local run's files/.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from flightlog.store.atomic import atomic_copy

from ._errors import ArgumentError


@dataclass
class ApiFile:
    """A run's file; `download()` writes it to `root/name`."""

    name: str
    size: int

    def download(self, root: str = ".", replace: bool = False, exist_ok: bool = False) -> Path:
        dest = Path(root) / self.name
        if dest.exists() and not replace:
            if exist_ok:
                return dest
            raise FileExistsError(f"{dest} exists: pass replace=True to overwrite it")
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._write(dest)
        return dest

    def _write(self, dest: Path) -> None:
        raise NotImplementedError


@dataclass
class RunFile(ApiFile):
    """A file in a local run's directory."""

    path: Path

    def _write(self, dest: Path) -> None:
        shutil.copyfile(self.path, dest)


@dataclass
class RemoteFile(ApiFile):
    """A file of a run on a server: its bytes asked for when downloaded."""

    fetch: Callable[[], bytes] = field(repr=False)

    def _write(self, dest: Path) -> None:
        dest.write_bytes(self.fetch())


F = TypeVar("F", bound=ApiFile)


def select(files: list[F], names: Sequence[str] | None, pattern: str | None) -> list[F]:
    """The files named in `names` (in the run's order), or matching `pattern` (SQL LIKE), or
    all of them."""
    if names and pattern:
        raise ArgumentError("give files() names or a pattern, not both")
    if names:
        if isinstance(names, str):
            raise ArgumentError(f"names must be a list of file names, not the string {names!r}")
        wanted = set(names)
        return [f for f in files if f.name in wanted]
    if pattern:
        parts = (".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
        like = re.compile("".join(parts), re.DOTALL)
        return [f for f in files if like.fullmatch(f.name)]
    return files


def upload(files: Path, path: str | os.PathLike[str], root: str | os.PathLike[str]) -> RunFile:
    """Copy `path` into `files` (a run's files/), named by its path from `root`, as
    wandb's `Run.upload_file(path, root=".")`. A name the run keeps already is refused: a
    run's files are added, never rewritten (the copy is renamed in, whole)."""
    source = Path(path).resolve()
    name = os.path.relpath(source, Path(root).resolve())
    if name.startswith(".."):
        raise ArgumentError(f"{path} is not below root {root}: pass root= a directory above it")
    if not source.is_file():
        raise ArgumentError(f"{path} is not a file: upload_file() copies one file")
    dest = files / name
    if dest.exists():
        raise FileExistsError(
            f"the run keeps a file {name!r} already: upload it under another name (a run's "
            "files are never rewritten)"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    # whole and durable before its name is taken for good; a temp name of its own (threads'
    # copies under one name a process were renamed in under each other), which a sync
    # walking files/ and files() leave out
    atomic_copy(source, dest)
    return RunFile(name, dest.stat().st_size, dest)
