"""run.json updates that merge: several processes of one run (mode="shared") each change it.

Every process rewrites run.json when its own view changes (config, tags, notes, git...). A
whole-file rewrite would let the last process to write undo the others' changes, so a writer
sends only what it changed (`MetaPatch`) and it is applied to the file as it is now, under a
short lock on a sibling file: read, merge, atomic write. The lock is advisory and bounded
(a lock that cannot be had in file_lock.LOCK_WAIT seconds, or on an NFS mount without
lockd, is passed over: a lost update then beats a blocked writer).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .atomic import atomic_write_json, read_json
from .file_lock import flocked

LOCK_NAME = ".run.json.lock"


@dataclass
class MetaPatch:
    """What one process changed in run.json since it last wrote it."""

    fields: dict[str, Any] = field(default_factory=dict)  # top-level keys, not config
    config_set: dict[str, Any] = field(default_factory=dict)
    config_deleted: set[str] = field(default_factory=set)
    #: entries this process appended to run.json's lists: tags (init(tags=) of a process
    #: joining or resuming the run), artifacts logged and used, alerts. Merged into the
    #: file's lists, which the run's other processes append to as well
    appended: dict[str, list[Any]] = field(default_factory=dict)
    #: top-level keys worked out from the file's value as it is under the lock (another
    #: process's change meanwhile included): a merge of edits to one field
    updated: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    #: the process's whole view, used when run.json is missing or unreadable
    fallback: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(
            self.fields or self.config_set or self.config_deleted or self.appended or self.updated
        )


def apply_patch(meta_path: Path, patch: MetaPatch) -> dict[str, Any]:
    """Merge `patch` into the run.json at `meta_path`; returns what was written."""
    with flocked(meta_path.with_name(LOCK_NAME)):  # busy: written without it
        current = read_json(meta_path) or dict(patch.fallback)
        current.update(patch.fields)
        config = dict(current.get("config") or {})
        config.update(patch.config_set)
        for key in patch.config_deleted:
            config.pop(key, None)
        current["config"] = config
        for key, added in patch.appended.items():
            current[key] = merged_list(current.get(key), added)
        for key, update in patch.updated.items():
            current[key] = update(current.get(key))
        atomic_write_json(meta_path, current)
    return current


def merged_list(have: Any, added: list[Any]) -> list[Any]:
    """`have` (a run.json list; anything else counts as empty), then the entries of `added`
    it lacks, in order: a process's appends land once, whoever else appended meanwhile."""
    out = list(have) if isinstance(have, list) else []
    seen = {_identity(x) for x in out}
    for x in added:
        if (ident := _identity(x)) not in seen:
            seen.add(ident)
            out.append(x)
    return out


def _identity(entry: Any) -> str:
    return json.dumps(entry, sort_keys=True, default=str)
