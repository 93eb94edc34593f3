"""wandb's public-API run filters (MongoDB-style dicts) and sort orders, translated to
flightlog's filter language (store/filters.py) so `Api().runs(path, filters={...})` written
for wandb selects the same runs here.

    {"config.lr": {"$gte": 1e-3}, "state": "finished"}
        ->  (config.lr >= 0.001 and state = 'finished')
    {"$or": [{"tags": "a"}, {"display_name": {"$regex": "^b"}}]}  ->  ((tag = 'a') or (name ~ '^b'))

A filter flightlog cannot express raises UnsupportedError naming the operator or field.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ._errors import UnsupportedError

#: wandb's run field -> flightlog's (wandb's `name` is the run id; display_name the name)
FIELDS = {
    "display_name": "name",
    "name": "id",
    "id": "id",
    "state": "state",
    "group": "group",
    "jobType": "job_type",
    "job_type": "job_type",
    "tags": "tag",
    "username": "user",
    "host": "host",
    "notes": "notes",
    "entity": "entity",
    "createdAt": "created_at",
    "created_at": "created_at",
}
COMPARE = {
    "$eq": "=",
    "$ne": "!=",
    "$gt": ">",
    "$gte": ">=",
    "$lt": "<",
    "$lte": "<=",
    "$regex": "~",
}


def translate(filters: dict[str, Any]) -> str:
    """The filter-language expression for a wandb filter dict (an empty dict: "true")."""
    if not isinstance(filters, dict):
        raise UnsupportedError(f"filters must be a dict (wandb) or a string, got {filters!r}")
    parts = [_clause(k, v) for k, v in filters.items()]
    return _join(parts, "and") if parts else ""


def _join(parts: list[str], word: str) -> str:
    return "(" + f" {word} ".join(parts) + ")"


def _clause(key: str, value: Any) -> str:
    if key in ("$and", "$or", "$nor"):
        if not isinstance(value, list) or not value:
            raise UnsupportedError(f"{key} takes a non-empty list of filters, got {value!r}")
        joined = _join([translate(v) for v in value], "and" if key == "$and" else "or")
        return f"(not {joined})" if key == "$nor" else joined
    if key.startswith("$"):
        raise UnsupportedError(f"wandb filter operator {key!r} is not supported here")
    field = _field(key)
    if not isinstance(value, dict):
        return f"{field} = {_literal(field, value)}"
    parts = []
    for op, operand in value.items():
        if op in COMPARE:
            parts.append(f"{field} {COMPARE[op]} {_literal(field, operand)}")
        elif op in ("$in", "$nin"):
            if not isinstance(operand, list | tuple) or not operand:
                raise UnsupportedError(f"{op} takes a non-empty list, got {operand!r}")
            eq = "=" if op == "$in" else "!="
            items = [f"{field} {eq} {_literal(field, x)}" for x in operand]
            parts.append(_join(items, "or" if op == "$in" else "and"))
        elif op == "$exists":
            parts.append(f"{field} {'!=' if operand else '='} null")
        elif op == "$not" and isinstance(operand, dict):
            parts.append(f"(not {_clause(key, operand)})")
        else:
            raise UnsupportedError(
                f"wandb filter operator {op!r} (on {key!r}) is not supported here: use "
                f"{', '.join([*COMPARE, '$in', '$nin', '$exists', '$not'])}"
            )
    return _join(parts, "and")


def _field(key: str) -> str:
    for prefix, ours in (
        ("config.", "config."),
        ("summary_metrics.", "summary."),
        ("summary.", "summary."),
    ):
        if key.startswith(prefix):
            rest = key[len(prefix) :]
            if ours == "config." and rest.endswith(".value"):  # wandb's stored config shape
                rest = rest[: -len(".value")]
            return ours + rest
    if key in FIELDS:
        return FIELDS[key]
    raise UnsupportedError(
        f"cannot filter on wandb field {key!r}: use config.KEY, summary_metrics.KEY or one of "
        f"{', '.join(FIELDS)}"
    )


def _literal(field: str, v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if field == "created_at" and isinstance(v, str):
        return repr(datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp())
    escaped = re.sub(r"(['\\])", r"\\\1", str(v))
    return f"'{escaped}'"


#: sort keys only wandb spells this way (flightlog's own `name`, `summary.x` stay as they are)
WANDB_ONLY = ("summary_metrics.", "createdAt", "display_name", "jobType", "username")


def wandb_order(order: str | None) -> str | None:
    """wandb's "-createdAt" / "+summary_metrics.acc" as a sort key here; others unchanged."""
    if not order or not order.lstrip("+-").startswith(WANDB_ONLY):
        return order
    sign = "-" if order.startswith("-") else ""
    return sign + _field(order.lstrip("+-"))
