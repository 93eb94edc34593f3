"""A wide-history column of values as they were logged, when a key mixed kinds.

A key that logged numbers and then a string ("acc": 0.5, ..., "diverged") has no single
Arrow type; the wide table most readers use shows such a column as text. The Api's
`history()` (flightlog/_api_run.py) gives it as a dense union instead, one child per Python
type, so `to_pylist()` and pandas get 0.5 back as a number, as `scan_history()` and wandb's
DataFrame do.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from .media_ref import MediaRef

#: the union's children: (name, Arrow type), by the Python type of the value they hold
_CHILDREN = {bool: ("bool", pa.bool_()), int: ("int", pa.int64()), float: ("float", pa.float64())}
_TEXT = ("string", pa.string())
#: a media reference's JSON: a child of its own, which `history(pandas=True)` loads back
MEDIA_CHILD = ("media", pa.string())
_INT64 = range(-(2**63), 2**63)


def logged_union(cells: list[Any]) -> pa.Array:
    """`cells` (Python values as logged, None for none) as a dense union array: bools,
    ints (within int64), floats and strings as themselves, media references as their JSON
    (child "media"), anything else (lists, histograms, ints past int64) as its text."""
    children: dict[tuple[str, pa.DataType], list[Any]] = {}  # in the order first met
    types: list[int] = []
    offsets: list[int] = []
    for v in cells:
        child = _CHILDREN.get(type(v), _TEXT)
        if child[0] == "int" and v not in _INT64:
            child = _TEXT
        elif isinstance(v, MediaRef):
            child = MEDIA_CHILD
        if child[1] == pa.string() and v is not None and not isinstance(v, str):
            v = str(v)
        values = children.setdefault(child, [])
        types.append(list(children).index(child))
        offsets.append(len(values))
        values.append(v)
    return pa.UnionArray.from_dense(
        pa.array(types, pa.int8()),
        pa.array(offsets, pa.int32()),
        [pa.array(values, child[1]) for child, values in children.items()],
        [child[0] for child in children],
    )
