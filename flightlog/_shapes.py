"""Row shapes seen before, so that rows with nested dicts and numpy scalars skip `normalize`.

`normalize` (flightlog/_values.py) validates a row and flattens it; a row whose keys and value
types were seen before as they are (flat, plain scalars) is recognised by its signature alone.
Rows that nest a dict or hold numpy scalars never look like that, so each paid for a full
walk. A *shape* is the row's signature as given (nested dicts as the type `dict`); the first
row of a shape is normalised and, if one level of nesting and scalar conversions explain the
result exactly, its *plan* is kept: later rows of that shape are flattened by the plan,
checking each nested dict's own signature on the way (a different one falls back).
"""

from __future__ import annotations

from typing import Any

from flightlog.store.rows import Signature, signature

from ._histogram import Histogram

_PLAIN = (float, int, bool, str, type(None), Histogram)
#: a value's conversion: None keeps it, a type converts it (numpy scalar -> Python scalar)
Step = type | None
#: per top-level value: a Step, or (prefix, the nested dict's signature, its Steps)
Plan = tuple[Step | tuple[str, Signature, tuple[Step, ...]], ...]


def _step(v: Any, out: Any) -> Step | bool:
    """How `v` became `out` (False: not a way a plan reproduces)."""
    t = type(v)
    if t in _PLAIN and out is v:
        return None
    if type(out) in (float, int, bool) and t.__module__ == "numpy":
        again = type(out)(v)
        if again == out or (again != again and out != out):  # NaN is NaN
            return type(out)
    return False


class Shapes:
    """Plans by shape, for one run (the run's lock is not needed: a plan is one store)."""

    def __init__(self) -> None:
        self._plans: dict[Signature, Plan | None] = {}

    def flatten(self, shape: Signature, data: dict[str, Any]) -> dict[str, Any] | None:
        """`data` flattened by the plan of its shape, or None (no plan, or it does not fit)."""
        plan = self._plans.get(shape)
        if plan is None:
            return None
        out: dict[str, Any] = {}
        for (k, v), step in zip(data.items(), plan, strict=True):
            if step is None:
                out[k] = v
            elif type(step) is tuple:
                prefix, inner, steps = step
                if signature(v) != inner:
                    return None
                for (ik, iv), istep in zip(v.items(), steps, strict=True):
                    out[prefix + ik] = iv if istep is None else istep(iv)
            else:
                out[k] = step(v)
        return out

    def learn(self, shape: Signature, data: dict[str, Any], row: dict[str, Any]) -> None:
        """Keep a plan for `shape` if one reproduces `row` (what normalize made of `data`)."""
        if shape in self._plans or len(self._plans) > 1000:
            return
        plan: list[Any] = []
        for k, v in data.items():
            if type(v) is dict:
                steps = []
                for ik, iv in v.items():
                    s = _step(iv, row.get(f"{k}.{ik}")) if type(ik) is str else False
                    if s is False:
                        return
                    steps.append(s)
                plan.append((f"{k}.", signature(v), tuple(steps)))
            else:
                s = _step(v, row.get(k))
                if s is False:
                    return
                plan.append(s)
        kept = tuple(plan)
        self._plans[shape] = kept
        if self.flatten(shape, data) != row or list(self.flatten(shape, data) or ()) != list(row):
            self._plans[shape] = None
