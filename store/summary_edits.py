"""Summary values set or removed after the fact, through the public API (wandb's
`api.run(...).summary["test_acc"] = 0.93; run.summary.update()`), kept in run.json.

A run's summary is its writers' record (each writer's state file; store/reader.py). An edit
made later has no writer to record it, so run.json holds it, as `summary_edits`:
`{"at": time of the latest edit, "set": {key: value}, "removed": [key]}`. Readers merge it at
its time: over every writer's summary recorded before it, under any recorded after it (a
resumed run that logs the key again wins, as the run's own latest value does in wandb).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: run.json's field
FIELD = "summary_edits"


@dataclass(frozen=True)
class SummaryEdits:
    at: float = 0.0
    set: dict[str, Any] = field(default_factory=dict)
    removed: frozenset[str] = frozenset()

    @classmethod
    def of(cls, meta: Mapping[str, Any]) -> SummaryEdits | None:
        """The edits run.json `meta` holds, or None (none, or not in this shape)."""
        doc = meta.get(FIELD)
        if not isinstance(doc, dict) or not isinstance(at := doc.get("at"), int | float):
            return None
        values = doc.get("set")
        removed = doc.get("removed")
        return cls(
            float(at),
            dict(values) if isinstance(values, dict) else {},
            frozenset(k for k in removed if isinstance(k, str))
            if isinstance(removed, list)
            else frozenset(),
        )

    def apply(self, summary: dict[str, Any]) -> None:
        for k in self.removed:
            summary.pop(k, None)
        summary.update(self.set)

    def then(self, at: float, values: Mapping[str, Any], removed: set[str]) -> dict[str, Any]:
        """run.json's `summary_edits` once these edits are followed by another, at `at`."""
        kept = {k: v for k, v in self.set.items() if k not in removed}
        return {
            "at": at,
            "set": {**kept, **values},
            "removed": sorted((self.removed - values.keys()) | removed),
        }
