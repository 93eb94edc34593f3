"""Artifacts: named, versioned sets of files (checkpoints, datasets) kept once per content.

artifact.py   `Artifact`, what a user builds and gets back, and its entries
names.py      allowed names and aliases, and `entity/project/name:alias` references
registry.py   versions, aliases, dedup and lineage in a store (the on-disk layout)
remote.py     a flightlog server's versions: push, fetch (only the blobs the store lacks),
              find the one holding a run's logged content
server_artifact.py  the versions a run on a server logged or used (`Api(host=)`)
sources.py    the files add_dir walks and the file:// references download() copies
"""

from __future__ import annotations

from .artifact import Artifact, ArtifactEntry

__all__ = ["Artifact", "ArtifactEntry"]
