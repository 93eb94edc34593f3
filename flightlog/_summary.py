"""`run.summary` and `define_metric`: one value per key that describes the run.

By default a key's summary is its last logged value. `define_metric(name, summary=...)` picks
min / max / mean / first / last / none for a key or a glob of keys (`"val/*"`); the summary
then holds that aggregate. `run.summary[k] = v` overrides whatever the history says.
The aggregates are kept incrementally at commit time, so reading them is O(1).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flightlog.store.metric_rules import MISSING, Past, rule_of

from ._errors import UsageError
from ._values import summarizable

if TYPE_CHECKING:
    from ._run import Run

AGGREGATES = ("min", "max", "mean", "first", "last", "none")


@dataclass(frozen=True)
class MetricDef:
    name: str
    summary: str = "last"
    step_metric: str | None = None
    goal: str | None = None
    hidden: bool = False

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, False)}


def parse_metric(
    name: str, summary: str | None, step_metric: str | None, goal: str | None, hidden: bool
) -> MetricDef:
    if not isinstance(name, str) or not name:
        raise UsageError("define_metric() needs a metric name or glob, e.g. 'val/*'")
    agg = (summary or "last").lower()
    if agg == "best":
        agg = "max" if goal == "maximize" else "min"
    if agg not in AGGREGATES:
        raise UsageError(
            f"define_metric({name!r}, summary={summary!r}): use one of {', '.join(AGGREGATES)}"
        )
    if goal not in (None, "minimize", "maximize"):
        raise UsageError(f"define_metric goal={goal!r}: use 'minimize' or 'maximize'")
    return MetricDef(name, agg, step_metric, goal, bool(hidden))


class Aggregates:
    """Per-key min/max/mean/first state for keys whose metric definition asks for it; a
    resumed run's starts from `past`, the earlier generations' figures."""

    def __init__(self, past: dict[str, Past] | None = None) -> None:
        self.defs: list[MetricDef] = []
        self._rule_cache: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._sums: dict[str, tuple[float, int]] = {}
        self._past = past or {}

    def define(self, d: MetricDef, last: dict[str, Any]) -> None:
        """Add `d`. A key it covers that this process logged before (`last`: each key's
        latest value) starts its aggregate from that value, the one this process still
        holds, after the earlier generations' figures of a resumed run: defined after its
        first rows (once the first batch is seen), it fell out of the summary."""
        self.defs = [x for x in self.defs if x.name != d.name] + [d]
        self._rule_cache.clear()
        self.fold({k: v for k, v in last.items() if k not in self.values})

    def rule(self, key: str) -> str:
        r = self._rule_cache.get(key)
        if r is None:
            r = self._rule_cache[key] = rule_of(key, ((d.name, d.summary) for d in self.defs))
        return r

    def value(self, key: str, rule: str) -> Any:
        """`key`'s aggregate by `rule` (not "last" or "none"), MISSING while it has none."""
        if key not in self.values and key in self._past:
            self._resume(key, rule)
        return self.values.get(key, MISSING)

    def _resume(self, key: str, rule: str) -> None:
        """Start `key`'s aggregate from the earlier generations' figures."""
        past = self._past.pop(key)
        start = {"first": past.first, "min": past.low, "max": past.high}.get(rule, MISSING)
        if rule == "mean" and past.count:
            self._sums[key] = (past.total, past.count)
            start = past.total / past.count
        if start is not MISSING:
            self.values[key] = start

    def sums(self) -> dict[str, tuple[float, int]]:
        """Each mean's sum and count so far (recorded with the summary: a reader catching a
        killed writer's summary up with its last rows goes on from them)."""
        return dict(self._sums)

    def fold(self, row: dict[str, Any]) -> None:
        """Update the aggregates with one committed row (only called when defs exist)."""
        for k, v in row.items():
            r = self.rule(k)
            if r == "last" or r == "none":
                continue
            if k in self._past and k not in self.values:
                self._resume(k, r)
            if r == "first":
                self.values.setdefault(k, v)
            elif summarizable(v):
                if r == "mean":
                    s, n = self._sums.get(k, (0.0, 0))
                    self._sums[k] = (s + v, n + 1)
                    self.values[k] = (s + v) / (n + 1)
                else:
                    cur = self.values.get(k)
                    if cur is None or (v < cur if r == "min" else v > cur):
                        self.values[k] = v


class Summary(MutableMapping[str, Any]):
    """A live view of a run's summary; assignment overrides the computed value."""

    def __init__(self, run: Run) -> None:
        self._run = run

    def _snapshot(self) -> dict[str, Any]:
        return self._run._summary_dict()

    def __getitem__(self, key: str) -> Any:
        return self._snapshot()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._run._set_summary({key: value})

    def __delitem__(self, key: str) -> None:
        self._run._del_summary(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._snapshot())

    def __len__(self) -> int:
        return len(self._snapshot())

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._snapshot()[key]
        except KeyError:
            raise AttributeError(f"summary has no key {key!r}") from None

    def update(self, data: Any = (), /, **kwargs: Any) -> None:  # type: ignore[override]
        self._run._set_summary({**dict(data), **kwargs})

    def __repr__(self) -> str:
        return f"Summary({self._snapshot()!r})"
