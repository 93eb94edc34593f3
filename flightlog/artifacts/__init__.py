"""Artifacts: named, versioned sets of files (checkpoints, datasets) kept once per content.

artifact.py   `Artifact`, what a user builds and gets back, and its entries
names.py      allowed names and aliases, and `entity/project/name:alias` references
registry.py   versions, aliases, dedup and lineage in a store (the on-disk layout)
remote.py     fetching a version from a flightlog server (only the blobs it lacks)
sources.py    the files add_dir walks and the file:// references download() copies
"""

from __future__ import annotations

from .artifact import Artifact, ArtifactEntry

__all__ = ["Artifact", "ArtifactEntry"]
