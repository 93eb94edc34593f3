"""Stand-in for wandb's `Artifact`, until flightlog stores artifacts (a separate issue).
(wandb's media types live in flightlog/media/.)
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any


class Artifact:
    """wandb's `Artifact`: collects the files and directories it is given; `log_artifact()`
    copies them into the run (see `copy_to`) and records it in run.json."""

    def __init__(
        self,
        name: str,
        type: str,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        **_kwargs: Any,
    ) -> None:
        self.name = name
        self.type = type
        self.description = description
        self.metadata = dict(metadata or {})
        self.entries: dict[str, str] = {}

    def add_file(self, local_path: str, name: str | None = None, **_kwargs: Any) -> None:
        self.entries[name or Path(local_path).name] = str(Path(local_path).resolve())

    def add_dir(self, local_path: str, name: str | None = None, **_kwargs: Any) -> None:
        self.entries[name or Path(local_path).name + "/"] = str(Path(local_path).resolve())

    def add_reference(self, uri: str, name: str | None = None, **_kwargs: Any) -> None:
        self.entries[name or uri] = uri

    def copy_to(self, dest: Path, rel: Path) -> dict[str, str]:
        """Copy every file and directory entry under `dest` (URIs stay references); return
        entry name -> its path in the run's files/ (`rel`/name)."""
        stored = {}
        for name, src in self.entries.items():
            source = Path(src)
            if not source.exists():
                continue  # a URI reference, or a file gone already
            target = dest / name.rstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                shutil.copy2(source, target)
            stored[name] = str(rel / name.rstrip("/"))
        return stored

    def as_json(self, aliases: list[str]) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "metadata": self.metadata,
            "aliases": list(aliases),
            "entries": dict(self.entries),
        }

    def __repr__(self) -> str:
        return f"<flightlog Artifact {self.name} ({self.type}, {len(self.entries)} entries)>"
