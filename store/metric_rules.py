"""Which aggregate a key's summary holds, and a key's figures over stored rows: shared by the
writer (flightlog/_summary.py keeps the aggregates as rows are committed) and the readers
that work a summary out from the history (a resume, store/history_fold.py; a killed writer's
summary caught up with its last rows, store/summary_tail.py). No pyarrow: `import
flightlog` loads it."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Any, NamedTuple

#: "no value": a key with no first value, or no numbers for a min, max or mean
MISSING: Any = object()


class Past(NamedTuple):
    """A key's figures over stored rows: its first value, and min, max, sum and count of its
    numbers (ints and floats but NaN; min and max an int or a float, as logged)."""

    first: Any = MISSING
    low: Any = MISSING
    high: Any = MISSING
    total: float = 0.0
    count: int = 0


def rule_of(key: str, defs: Iterable[tuple[str, str]]) -> str:
    """The aggregate of `key` by the metric definitions `defs` ((name or glob, aggregate),
    in the order they were made): exact names beat globs, later beat earlier; "last"
    when none covers it."""
    defs = list(defs)
    for name, summary in reversed(defs):
        if name == key:
            return summary
    for name, summary in reversed(defs):
        if fnmatch.fnmatchcase(key, name):
            return summary
    return "last"
