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

from collections.abc import Callable
from typing import Any

from flightlog.store.signatures import Signature, signature

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


Flatten = Callable[[dict[str, Any]], "dict[str, Any] | None"]


def _compile(keys: tuple[str, ...], plan: Plan) -> Flatten:
    """The plan as straight-line code: one unpacking of the values and one dict display, about
    three times faster than walking the plan (the keys are bound as globals, never spliced
    into the source)."""
    env: dict[str, Any] = {"signature": signature}
    lines, items = [], []
    for i, (key, step) in enumerate(zip(keys, plan, strict=True)):
        if type(step) is tuple:
            prefix, inner, steps = step
            env[f"s{i}"] = inner
            lines.append(f"if signature(v{i}) != s{i}: return None")
            if steps:
                lines.append(
                    ", ".join(f"w{i}_{j}" for j in range(len(steps))) + f", = v{i}.values()"
                )
            for j, (ik, istep) in enumerate(zip(inner[0], steps, strict=True)):
                env[f"k{i}_{j}"] = prefix + ik
                if istep is None:
                    items.append(f"k{i}_{j}: w{i}_{j}")
                else:
                    env[f"c{i}_{j}"] = istep
                    items.append(f"k{i}_{j}: c{i}_{j}(w{i}_{j})")
        else:
            env[f"k{i}"] = key
            if step is None:
                items.append(f"k{i}: v{i}")
            else:
                env[f"c{i}"] = step
                items.append(f"k{i}: c{i}(v{i})")
    unpack = ", ".join(f"v{i}" for i in range(len(plan))) + ", = data.values()" if plan else ""
    body = "\n    ".join([unpack, *lines, "return {" + ", ".join(items) + "}"])
    exec(f"def flat(data):\n    {body}\n", env)
    return env["flat"]  # type: ignore[no-any-return]


def _as_is(data: dict[str, Any]) -> dict[str, Any]:
    """The plan of a flat row of plain values (see `Shapes.learn`)."""
    return data


class Shapes:
    """Plans by shape, for one run (the run's lock is not needed: a plan is one store)."""

    def __init__(self) -> None:
        #: per shape: its compiled plan, the signature of every row it makes (the keys are
        #: the shape's, and each value's type follows from the plan) and that signature's
        #: id once the writer's table holds it, or None
        self._plans: dict[Signature, list[Any] | None] = {}

    def flatten(
        self, shape: Signature, data: dict[str, Any], known: dict[Signature, int]
    ) -> tuple[dict[str, Any], Signature, int | None] | None:
        """`data` flattened by the plan of its shape, its signature and that signature's id
        in `known` (the writer's table, append-only: an id found is kept, which spares
        hashing the signature again for every row); None if there is no plan or it does not
        fit."""
        plan = self._plans.get(shape)
        if plan is None:
            return None
        flat = plan[0](data)
        if flat is None:
            return None
        sid = plan[2]
        if sid is None:
            sid = plan[2] = known.get(plan[1])
        return flat, plan[1], sid

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
        if not any(plan) and signature(row) == shape:
            # a flat row of plain values: rows of its shape are their own rows (the fast
            # path's, once its signature is registered; this plan meanwhile, for rows held
            # pending with commit=False). Compiling its dict display cost the first row of
            # 10,000 keys ~250 ms
            self._plans[shape] = [_as_is, shape, None]
            return
        flat = _compile(shape[0], tuple(plan))
        out = flat(data)
        same = out == row and list(out or ()) == list(row)
        self._plans[shape] = [flat, signature(row), None] if same else None
