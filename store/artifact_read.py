"""The store's artifacts, read only: what the TUI lists and what the registry reads back.

The on-disk layout is described (and written) by flightlog/artifacts/registry.py, whose
Registry extends this reader; the TUI reads through this module so that it needs nothing
outside the store package.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .atomic import read_json

#: the alias that always names the newest version
LATEST = "latest"


@dataclass
class VersionRow:
    """One artifact version as the TUI shows it (raw stored strings: escape to show)."""

    project: str
    name: str
    version: int
    type: str
    aliases: list[str]
    size: int
    digest: str
    logged_by: str  # "project/id" of the run that logged it, "" when unknown
    used_by: list[str] = field(default_factory=list)  # "project/id" of runs that used it


class ArtifactReader:
    """Reads `<root>/artifacts/<project>/<name>/…` (see flightlog/artifacts/registry.py)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def dir(self, project: str, name: str) -> Path:
        return self.root / "artifacts" / project / name

    def names(self, project: str | None = None) -> list[tuple[str, str]]:
        """(project, name) of every artifact in the store, or in one project: the directories
        that hold versions. A store made in a repository's root shares `artifacts/` with the
        package's source (`__init__.py`, `__pycache__/`), which is no artifact."""
        base = self.root / "artifacts"
        projects = [base / project] if project else _subdirs(base)
        return [
            (p.name, d.name) for p in projects for d in _subdirs(p) if (d / "versions").is_dir()
        ]

    def numbers(self, project: str, name: str) -> list[int]:
        """The version numbers of an artifact, ascending."""
        out = []
        for p in (self.dir(project, name) / "versions").glob("v*.json"):
            digits = p.name[1:-5]
            if digits.isdigit() and str(int(digits)) == digits:
                out.append(int(digits))
        return sorted(out)

    def aliases(self, project: str, name: str) -> dict[int, list[str]]:
        """Version number -> its aliases (`latest` first)."""
        docs = (
            (read_json(p), p.name[:-5])
            for p in (self.dir(project, name) / "aliases").glob("*.json")
        )
        return by_version(
            (d["version"], a) for d, a in docs if d and isinstance(d.get("version"), int)
        )

    def uses(self, project: str, name: str, version: int) -> list[dict[str, Any]]:
        """The runs that used a version ({"project", "id", "time"}), oldest first."""
        d = self.dir(project, name) / "used_by" / f"v{version}"
        uses = [read_json(p) for p in sorted(d.glob("*.json"))]
        return sorted((u for u in uses if u), key=lambda u: u.get("time") or 0)

    def rows(self) -> list[VersionRow]:
        """Every version of every artifact, by project, name and version."""
        out = []
        for project, name in self.names():
            aliases = self.aliases(project, name)
            for n in self.numbers(project, name):
                m = read_json(self.dir(project, name) / "versions" / f"v{n}.json") or {}
                out.append(
                    VersionRow(
                        project,
                        name,
                        n,
                        str(m.get("type") or ""),
                        aliases.get(n, []),
                        int(m.get("size") or 0),
                        str(m.get("digest") or ""),
                        run_of(m.get("logged_by")),
                        [run_of(u) for u in self.uses(project, name, n)],
                    )
                )
        return out


def by_version(pairs: Iterable[tuple[int, str]]) -> dict[int, list[str]]:
    """(version, alias) pairs -> version number -> its aliases, `latest` first: the order
    every reader of aliases shows (this store's files, a server's database)."""
    out: dict[int, list[str]] = {}
    for version, alias in pairs:
        out.setdefault(version, []).append(alias)
    for names in out.values():
        names.sort(key=lambda a: (a != LATEST, a))
    return out


def run_of(doc: Any) -> str:
    """ "project/id" of a lineage record ("" when it names no run)."""
    if not isinstance(doc, dict) or not doc.get("id"):
        return ""
    return f"{doc.get('project') or ''}/{doc['id']}"


def size_text(n: int) -> str:
    """Bytes in the largest unit that keeps a number >= 1 (1.5 MB), as the CLI and TUI show
    a version's size."""
    size = float(n)
    for unit in ("B", "kB", "MB"):
        if size < 1000:
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def _subdirs(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return []
