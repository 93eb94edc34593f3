"""What a run's history holds per key, without its values: how many values of each kind each
key logged, how many rows the run has and its last step (the Api's `run.history_keys`,
wandb's historyKeys, flightlog/_api_run_facts.py).

Counting reads three columns of the long rows, `step`, `key` and `kind`: a sealed segment
decodes no other (`key` as its Parquet dictionary, never a string per row), so the values,
times and texts - most of a segment's bytes and of a read's time - are left alone. The
sha256 of each sealed file is still checked, and damaged files skipped with a warning, as a
full read does (store/segments.py `iter_segments`, a segment at a time): the counts are
those of the rows `history()` returns. Only a media value's type (`image-file`,
`table-file`...) is in its text: the keys that logged media are read again, those keys
alone (store/key_pruning.py), and their media rows counted up to the steps the first read
reached, so that the counts of a run being written describe one moment.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .schema import MEDIA
from .segments import iter_segments, writer_label

#: the columns counting reads
COUNTED = ("step", "key", "kind")
#: and those the media keys' second read decodes
MEDIA_COUNTED = (*COUNTED, "text")
#: kind codes a row's (key code, kind) pair is packed with: kind < _KINDS
_KINDS = 8


@dataclass
class KeyCounts:
    """Values logged per (key, kind) (media: per (key, media type)), rows (one a writer and
    step) and the last step (-1 for none)."""

    kinds: Counter[tuple[str, int]] = field(default_factory=Counter)
    media: Counter[tuple[str, str]] = field(default_factory=Counter)
    last_step: int = -1
    #: writer label -> the steps of its rows
    _steps: dict[str, Steps] = field(default_factory=dict)
    #: the rows a server counted (`of_answer`): it sends no steps
    _rows: int = 0

    @property
    def rows(self) -> int:
        return self._rows + sum(s.count() for s in self._steps.values())

    def answer(self) -> dict[str, Any]:
        """The counts as JSON (a server's answer, sync/run_keys_routes.py)."""
        return {
            "last_step": self.last_step,
            "rows": self.rows,
            "kinds": [[k, kind, n] for (k, kind), n in sorted(self.kinds.items())],
            "media": [[k, kind, n] for (k, kind), n in sorted(self.media.items())],
        }

    @classmethod
    def of_answer(cls, doc: dict[str, Any]) -> KeyCounts:
        """The counts a server answered (`answer`)."""
        kinds = Counter({(str(k), int(kind)): int(n) for k, kind, n in doc["kinds"]})
        media = Counter({(str(k), str(kind)): int(n) for k, kind, n in doc["media"]})
        return cls(kinds, media, int(doc["last_step"]), _rows=int(doc["rows"]))

    def media_keys(self) -> list[str]:
        return sorted({k for k, kind in self.kinds if kind == MEDIA})

    def reached(self, writer: str) -> int:
        """The last step of `writer`'s rows counted (-1 for none)."""
        steps = self._steps.get(writer)
        return -1 if steps is None else steps.hi

    def add(self, table: pa.Table, writer: str) -> None:
        """Count the rows of a long table (`step`, `key` plain or a dictionary, `kind`) that
        `writer` logged; with a `text` column, its media rows by their type too."""
        if not table.num_rows:
            return
        steps = self._steps.setdefault(writer, Steps())
        steps.add(table.column("step").to_numpy())
        self.last_step = max(self.last_step, steps.hi)
        keys = table.column("key")
        if not pa.types.is_dictionary(keys.type):
            keys = pc.dictionary_encode(keys)
        # one dictionary for the table's chunks (a sealed file's row groups each have theirs)
        pair = pa.table({"key": keys, "kind": table.column("kind")}).unify_dictionaries()
        pair = pair.combine_chunks()
        k = pair.column("key").chunk(0)
        codes = k.indices.to_numpy(zero_copy_only=False).astype(np.int64) * _KINDS
        codes += pair.column("kind").chunk(0).to_numpy(zero_copy_only=False)
        packed = np.bincount(codes, minlength=len(k.dictionary) * _KINDS)
        names = k.dictionary.to_pylist()
        for i in np.flatnonzero(packed):
            self.kinds[names[i // _KINDS], int(i % _KINDS)] += int(packed[i])
        if "text" in table.column_names:
            self.add_media(table)

    def add_media(self, table: pa.Table, upto: int | None = None) -> None:
        """Count the media rows of a long table with its `text`, by their type; `upto`:
        those up to that step."""
        mask = pc.equal(table.column("kind"), MEDIA)
        if upto is not None:
            mask = pc.and_(mask, pc.less_equal(table.column("step"), upto))
        media = table.filter(mask)
        for key, text in zip(media["key"].to_pylist(), media["text"].to_pylist(), strict=True):
            self.media[str(key), media_type(text)] += 1


def key_counts(history_dir: Path) -> KeyCounts:
    """The counts of a stream's segments and journals (store/segments.py: every readable
    row once, a damaged file skipped with a warning), folded a segment at a time: a
    server's keys route holds one segment's three columns, not the run's."""
    counts = KeyCounts()
    for name, table in iter_segments(history_dir, dictionary_keys=True, columns=COUNTED):
        counts.add(table, writer_label(name, table))
    wanted = counts.media_keys()
    if wanted:
        media = iter_segments(history_dir, wanted, dictionary_keys=True, columns=MEDIA_COUNTED)
        for name, table in media:
            counts.add_media(table, counts.reached(writer_label(name, table)))
    return counts


def tidy_counts(tidy: pa.Table) -> KeyCounts:
    """The counts of a long table with a `writer` column (a server's rows), its texts
    included."""
    counts = KeyCounts()
    writers = tidy.column("writer")
    for writer in pc.unique(writers).to_pylist():
        counts.add(tidy.filter(pc.equal(writers, writer)), str(writer))
    return counts


def media_type(text: Any) -> str:
    """A media value's `_type` (its stored reference's), "media" when unreadable."""
    try:
        kind = json.loads(text).get("_type")
    except (TypeError, ValueError, AttributeError):
        return "media"
    return str(kind) if kind else "media"


class Steps:
    """A set of steps, held as a bitmap over their range while that is dense (a writer's
    steps count up a row at a time: a byte a step, whatever the values a step), else as
    sorted arrays."""

    def __init__(self) -> None:
        self.lo, self.hi = 0, -1
        self._seen = np.zeros(0, np.bool_)
        self._values = 0
        self._sparse: list[np.ndarray] | None = None

    def add(self, steps: np.ndarray) -> None:
        if not len(steps):
            return
        lo, hi = int(steps.min()), int(steps.max())
        if not len(self._seen) and self._sparse is None:
            self.lo = lo
        self._values += len(steps)
        if self._sparse is None:
            new_lo, new_hi = min(lo, self.lo), max(hi, self.hi)
            if new_hi - new_lo < 4 * self._values + 1024:
                if new_lo < self.lo or new_hi > self.lo + len(self._seen) - 1:
                    grown = np.zeros(new_hi - new_lo + 1, np.bool_)
                    grown[self.lo - new_lo : self.lo - new_lo + len(self._seen)] = self._seen
                    self._seen, self.lo = grown, new_lo
                self._seen[steps - self.lo] = True
                self.hi = new_hi
                return
            self._sparse = [np.flatnonzero(self._seen) + self.lo]
        self._sparse.append(np.unique(steps))
        self.hi = max(self.hi, hi)

    def count(self) -> int:
        if self._sparse is None:
            return int(np.count_nonzero(self._seen))
        return len(np.unique(np.concatenate(self._sparse)))
