"""Which artifact names, aliases and entry paths are allowed, and how a reference such as
`entity/project/name:alias` splits.

Every name becomes part of a path in the store (and on the server), so each is checked
before anything is written, with a message that names the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from flightlog._errors import ArtifactError
from flightlog.store.artifact_read import LATEST
from flightlog.store.layout import check_name

_VERSION_RE = re.compile(r"^v(\d{1,9})$")
_ALIAS_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")


def check_artifact_name(name: str) -> str:
    try:
        return check_name(name, "artifact")
    except ValueError as e:
        raise ArtifactError(str(e)) from None


def check_alias(alias: str) -> str:
    """An alias that can move between versions: not a version name (`v3` names one version)."""
    if not isinstance(alias, str) or not _ALIAS_RE.match(alias) or ".." in alias:
        raise ArtifactError(
            f"invalid artifact alias {alias!r}: use 1-128 letters, digits, '_', '-' or '.'"
        )
    if _VERSION_RE.match(alias):
        raise ArtifactError(
            f"alias {alias!r} looks like a version; versions are numbered by flightlog, "
            "pick another alias (e.g. 'best')"
        )
    return alias


def version_number(alias: str) -> int | None:
    """3 for "v3"; None for an alias."""
    m = _VERSION_RE.match(alias)
    return int(m.group(1)) if m else None


def check_entry_path(path: str) -> str:
    """An entry's path inside an artifact: relative, POSIX, no '..' (it becomes a path under
    the download directory)."""
    p = PurePosixPath(str(path).replace("\\", "/"))
    if not str(path) or p.is_absolute() or ".." in p.parts or str(p) in (".", ""):
        raise ArtifactError(
            f"invalid artifact entry name {path!r}: use a relative path without '..' "
            "(e.g. 'model.ckpt' or 'weights/layer1.bin')"
        )
    return str(p)


@dataclass(frozen=True)
class ArtifactRef:
    """A parsed `[[entity/]project/]name[:alias]`."""

    name: str
    alias: str = LATEST
    project: str | None = None
    entity: str | None = None

    def __str__(self) -> str:
        where = "/".join(p for p in (self.entity, self.project) if p)
        return f"{where + '/' if where else ''}{self.name}:{self.alias}"


def parse_ref(text: str) -> ArtifactRef:
    """Split "name:v3", "name:latest", "name", "project/name:best" or
    "entity/project/name:alias" (a missing alias means latest)."""
    if not isinstance(text, str) or not text:
        raise ArtifactError(f"artifact {text!r}: expected 'name:alias' or 'name:v3'")
    path, _, alias = text.partition(":")
    parts = path.split("/")
    if len(parts) > 3:
        raise ArtifactError(f"artifact {text!r}: expected [[entity/]project/]name[:alias or :vN]")
    name = check_artifact_name(parts[-1])
    project = check_name(parts[-2], "project") if len(parts) >= 2 else None
    entity = check_name(parts[-3], "entity") if len(parts) == 3 else None
    alias = alias or LATEST
    if version_number(alias) is None:
        check_alias(alias)
    return ArtifactRef(name, alias, project, entity)
