"""A run's summary worked out from its history: each key's first and last value, and min,
max, sum and count, over stored rows. Where a resumed run's summary starts, and what a
killed writer's summary is caught up with (store/summary_tail.py).

`define_metric(summary="min")` keeps its aggregate incrementally as rows are committed
(flightlog/_summary.py), which covers this process's rows only. A job killed and requeued
resumes its run, and its best val_loss is in the earlier rows: the aggregates start from
these figures, read from the history once at resume. The summary a killed writer recorded
may be a heartbeat old, or missing (killed within a second of its start): a key it lacks
takes its last stored value from here.

The history is folded one segment at a time (store/segments.py `iter_segments`): a resume
holds one segment's rows and a few figures per key, whatever the run's length (reading
every segment at once, a 100M-row run needed several GB). Each segment is two group-bys
(first and last step by key; min, max, sum and count by key and int or float) and two
masks, all vectorised; loaded only by a resume and by readers of a killed writer's run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .layout import SegmentName
from .metric_rules import MISSING, Past
from .schema import FLOAT, HIST, INT, MEDIA, decode_value
from .two_threads import both

_NUMBER_KINDS = pa.array([FLOAT, INT], pa.int8())


@dataclass
class _Key:
    """One key's figures so far; `first` and `last` are (step, value) or None; `low` and
    `high` an int or a float, as the value logged was."""

    first: tuple[int, Any] | None = None
    last: tuple[int, Any] | None = None
    low: Any = MISSING
    high: Any = MISSING
    total: float = 0.0
    count: int = 0

    def past(self) -> Past:
        first = MISSING if self.first is None else self.first[1]
        return Past(first, self.low, self.high, self.total, self.count)


class HistoryFold:
    """The figures of every key over history segments added one at a time (`add`), and the
    highest step. `stored`: first and last values as a stored summary holds them (a killed
    writer's, store/summary_tail.py): histograms and media references as their JSON, not
    as the objects a live run's summary holds (a resume's)."""

    def __init__(self, stored: bool = False) -> None:
        self.keys: dict[str, _Key] = {}
        self.last_step = -1
        self._stored = stored

    def add_all(self, segments: Iterable[tuple[SegmentName, pa.Table]]) -> HistoryFold:
        """Fold every segment of `segments`; the next one is read on the read helper thread
        while this one is folded (store/two_threads.py: both release the GIL), so two
        segments' rows are in memory at most."""
        parts = iter(segments)
        ahead = [next(parts, None)]

        def read_next() -> None:
            ahead.append(next(parts, None))

        while (part := ahead.pop()) is not None:
            both(read_next, partial(self.add, part[1]), len(part[1]))
            del part  # not held while the next one is read
        return self

    def add(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        key, step = table.column("key"), table.column("step")
        self.last_step = max(self.last_step, pc.max(step).as_py())
        # one thread: Acero's thread pool costs ~2 ms of a loaded machine's time per
        # group-by whatever its size, most of a killed run's catch-up (a listing's 1,000: s)
        ends = pa.table({"key": key, "step": step}).group_by("key", use_threads=False)
        ends = ends.aggregate([("step", "min"), ("step", "max")])
        code = pc.index_in(key, value_set=ends.column("key")).to_numpy(zero_copy_only=False)
        steps = step.to_numpy()
        firsts, lasts = (
            _values(
                table.filter(pa.array(steps == ends.column(c).to_numpy()[code])), c, self._stored
            )
            for c in ("step_min", "step_max")
        )
        for e in ends.to_pylist():
            self._ends(e["key"], e, firsts.get(e["key"], MISSING), lasts.get(e["key"], MISSING))
        value, kind = table.column("value"), table.column("kind")
        numeric = pc.fill_null(  # what `summarizable` takes: floats but NaN, ints (not bools)
            pc.and_(
                pc.is_in(kind, _NUMBER_KINDS),
                pc.and_(pc.is_valid(value), pc.invert(pc.is_nan(value))),
            ),
            False,
        )
        numbers = pa.table({"key": key, "kind": kind, "number": value}).filter(numeric)
        stats = numbers.group_by(["key", "kind"], use_threads=False).aggregate(
            [("number", f) for f in ("min", "max", "sum", "count")]
        )
        for s in stats.to_pylist():
            self._numbers(self.keys[s["key"]], s)

    def _ends(self, name: str, e: dict[str, Any], first: Any, last: Any) -> None:
        k = self.keys.get(name)
        if k is None:
            k = self.keys[name] = _Key()
        if first is not MISSING and (k.first is None or e["step_min"] < k.first[0]):
            k.first = (e["step_min"], first)
        if last is not MISSING and (k.last is None or e["step_max"] >= k.last[0]):
            k.last = (e["step_max"], last)

    @staticmethod
    def _numbers(k: _Key, s: dict[str, Any]) -> None:
        """Fold one segment's figures of a key's ints or of its floats (`s`) into `k`."""
        typed = int if s["kind"] == INT else float
        low, high = typed(s["number_min"]), typed(s["number_max"])
        k.low = low if k.low is MISSING or low < k.low else k.low
        k.high = high if k.high is MISSING or high > k.high else k.high
        k.total += s["number_sum"]
        k.count += s["number_count"]

    def resumed(self, summary: Mapping[str, Any]) -> tuple[dict[str, Past], dict[str, Any]]:
        """The earlier generations' figures of every key, and the summary the resumed run
        starts from: the writers' recorded `summary` (it holds run.summary[...] = ...
        overrides), plus the last stored value of each key it lacks."""
        base = {k: v for k, v in summary.items() if not k.startswith("_")}
        lasts = {name: k.last[1] for name, k in self.keys.items() if k.last is not None}
        return {name: k.past() for name, k in self.keys.items()}, {**lasts, **base}


def _values(rows: pa.Table, end: str, stored: bool) -> dict[str, Any]:
    """Each key's value in `rows` (the rows at its first or last step of a segment; a key
    several writers of a shared run logged at that step: the first row of `step_min`, the
    last of `step_max`). Unless `stored`, a media value is left out (as an object, its
    reference needs the run's directory, and no resumed summary starts from it); if
    `stored`, a histogram or media value is its JSON, as a state file's summary holds it."""
    picked = rows.select(["key", "value", "kind", "text"]).to_pylist()
    out: dict[str, Any] = {}
    for r in picked if end == "step_max" else reversed(picked):
        if stored and r["kind"] in (HIST, MEDIA) and r["text"] is not None:
            out[r["key"]] = json.loads(r["text"])
        elif r["kind"] != MEDIA:
            out[r["key"]] = decode_value(r["value"], r["kind"], r["text"])
    return out
