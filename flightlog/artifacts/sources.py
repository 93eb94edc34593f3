"""Where an artifact's files come from: the directories add_dir walks (through symlinks, not
into a flightlog store) and the file:// references download() copies.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from flightlog._errors import ArtifactError, ArtifactNotFoundError


def fetch_file_ref(uri: str, dest: Path) -> Path | None:
    """Copy what a file:// reference names (a file, or a directory's tree) to `dest`; None
    for a reference of another scheme. ArtifactNotFoundError when the path is gone."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    from urllib.request import url2pathname  # (http.client, email: not at import flightlog)

    source = Path(url2pathname(parsed.path))
    if source.is_dir():
        shutil.copytree(source, dest, dirs_exist_ok=True)
    elif source.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
    else:
        raise ArtifactNotFoundError(f"the reference {uri} names {source}, which is gone")
    return dest


def store_roots() -> set[str]:
    """Where the stores an add_dir may hold are: the current run's, and the one init()
    would open here (FLIGHTLOG_DIR, WANDB_DIR/flightlog or ./flightlog)."""
    from flightlog import _state
    from flightlog._settings import env_root

    roots = {os.path.realpath(env_root())}
    run = _state.current()
    registry = run._artifacts() if run is not None else None
    if registry is not None:
        roots.add(os.path.realpath(registry.root))
    return roots


def files_under(top: Path, skip: set[str], skipped: list[str]) -> Iterator[Path]:
    """Every file under `top`, through symlinked directories as wandb's add_dir walks
    (`os.walk(followlinks=True)`: a checkpoint whose shards are linked in from a cache or a
    scratch volume keeps them), except a link back to a directory it is inside (a loop) and
    the directories in `skip` (flightlog stores), which are added to `skipped`.
    A broken link is an ArtifactError naming it: its file cannot be kept."""
    chains = {str(top): frozenset({os.path.realpath(top)})}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
        chain = chains.pop(dirpath)
        keep = []
        for d in dirnames:
            real = os.path.realpath(os.path.join(dirpath, d))
            if real in skip:
                skipped.append(os.path.join(dirpath, d))
            elif real not in chain:
                keep.append(d)
                chains[os.path.join(dirpath, d)] = chain | {real}
        dirnames[:] = keep
        for f in filenames:
            p = Path(dirpath, f)
            if p.is_file():
                yield p
            elif p.is_symlink() and not p.exists():
                raise ArtifactError(
                    f"add_dir({str(top)!r}): {p} is a broken symlink (to "
                    f"{os.readlink(p)!r}); remove it or add the other files one by one"
                )
