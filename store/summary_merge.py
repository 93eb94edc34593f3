"""A run's summary made of its writers' (store/reader.py `StoredRun.summary`).

Each writer records its summary in its state file; the run's is theirs merged, the most
recently logged to winning, with edits made through the public API at their time
(store/summary_edits.py). A writer that resumed the run started its summary from the
earlier job's, every rank's keys (store/history_fold.py `resumed`), and records the keys it
only carried from there and has neither logged nor set since (`summary_carried`). In a
requeued shared job the other ranks log their own keys: merged whole, the resuming rank's
summary, when it logged last, gave their keys the earlier job's values. So the merge is per
key: a carried value stands over what writers of earlier generations recorded (it was worked
out from their rows, theirs may be a killed writer's beat behind), never over a value a writer
of its generation or a later one logged or set, nor over a later edit. A state file without
the field (an older writer's, or one that carried nothing) is merged whole, as before.
"""

from __future__ import annotations

import math
from typing import Any

from .summary_edits import SummaryEdits

#: the generation of a value a public-API edit set or removed: no carried value covers it
_EDITED = math.inf


def merged_summary(writers: list[dict[str, Any]], edits: SummaryEdits | None) -> dict[str, Any]:
    """The run's summary from its writers' states (a killed writer's caught up with its last
    rows, store/summary_tail.py) and its public-API `edits`."""
    ordered = [(w, carried_keys(w)) for w in sorted(writers, key=logged_at)]
    carrying = any(carried for _, carried in ordered)
    out: dict[str, Any] = {}
    #: the generation of the writer that logged each key's value in `out` itself (kept
    #: only when a writer carried values: the common merge is dict.update alone)
    logged_in: dict[str, float] = {}
    for w, carried in ordered:
        if edits and logged_at(w) > edits.at:
            edits.apply(out)
            logged_in.update(dict.fromkeys([*edits.set, *edits.removed], _EDITED))
            edits = None
        summary = w.get("summary")
        if not isinstance(summary, dict):
            continue
        made_in = generation(w)
        if not carried:  # all its own (most writers): merged in C
            out.update(summary)
            if carrying:
                logged_in.update(dict.fromkeys(summary, made_in))
            continue
        for k, v in summary.items():
            if k not in carried:
                out[k] = v
                logged_in[k] = made_in
            elif logged_in.get(k, -1) < made_in:
                out[k] = v
    if edits:
        edits.apply(out)
    return out


def carried_keys(w: dict[str, Any]) -> frozenset[str]:
    """The keys of writer `w`'s summary it carried from an earlier job's and has not logged
    or set since (none in a state file without the field, or with something else in it)."""
    keys = w.get("summary_carried")
    if not isinstance(keys, list) or not keys:
        return frozenset()
    return frozenset(k for k in keys if isinstance(k, str))


def logged_at(writer: dict[str, Any]) -> float:
    """When a writer's summary was last logged to: its last row's time (`_timestamp`), or
    its heartbeat if it logged none. Not the heartbeat alone: ranks of a shared run beat
    apart from when they log, and a killed rank's summary is caught up past its last beat,
    so the rank that logged a key last gives its value."""
    summary = writer.get("summary")
    at = summary.get("_timestamp") if isinstance(summary, dict) else None
    return float(at) if isinstance(at, int | float) else beat(writer)


def beat(writer: dict[str, Any]) -> float:
    """A writer's last heartbeat's time (0 when its state file has none)."""
    at = writer.get("heartbeat_at")
    return float(at) if isinstance(at, int | float) else 0.0


def generation(writer: dict[str, Any]) -> int:
    """A writer's generation (0 when its state file has none, or not a number)."""
    g = writer.get("generation", 0)
    return g if type(g) is int else 0
