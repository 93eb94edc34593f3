"""The history segment schema: one "tidy" row per logged scalar.

A long table (step, time, key, value, kind, text) keeps the schema fixed however many keys a
user logs, so segments from different writers and runs concatenate and DuckDB can query them
all at once. `kind` records the Python type that was logged so a reader gives back exactly
what was logged (an int stays an int, a bool a bool), not just a float.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from .media_ref import MediaRef, MediaRoot, MediaValue

SCHEMA_VERSION = 1

#: value kinds stored in the `kind` column
FLOAT, INT, BOOL, STR, NONE, LIST, HIST, MEDIA = 0, 1, 2, 3, 4, 5, 6, 7

#: ints whose magnitude exceeds this are stored exactly as decimal text
_EXACT_INT = 2**53

HISTORY_SCHEMA = pa.schema(
    [
        pa.field("step", pa.int64(), nullable=False),
        pa.field("time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("key", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("kind", pa.int8(), nullable=False),
        pa.field("text", pa.string()),
    ]
)

#: schema-level metadata key naming the writer (process) label of a segment
WRITER_LABEL_KEY = b"flightlog.writer_label"
WRITER_ID_KEY = b"flightlog.writer_id"


def segment_schema(writer_id: str, label: str) -> pa.Schema:
    """The history schema tagged with the writer that produced the segment."""
    return HISTORY_SCHEMA.with_metadata(
        {WRITER_ID_KEY: writer_id.encode(), WRITER_LABEL_KEY: label.encode()}
    )


def encode_value(v: Any) -> tuple[float | None, int, str | None]:
    """Map a normalised Python value to its (value, kind, text) columns."""
    t = type(v)
    if t is float:
        return v, FLOAT, None
    if t is bool:
        return (1.0 if v else 0.0), BOOL, None
    if t is int:
        if -_EXACT_INT <= v <= _EXACT_INT:
            return float(v), INT, None
        return None, INT, str(v)
    if t is str:
        return None, STR, v
    if v is None:
        return None, NONE, None
    if t is list:
        return None, LIST, json.dumps(v)
    if isinstance(v, MediaValue):  # stored by the writer thread already: its reference
        return None, MEDIA, json.dumps(v.reference())
    to_json = getattr(v, "to_json", None)  # flightlog.Histogram
    if callable(to_json):
        return None, HIST, json.dumps(to_json())
    raise TypeError(f"cannot encode {t.__name__}")  # normalisation guarantees this never happens


def decode_value(
    value: float | None, kind: int, text: str | None, run_dir: MediaRoot | None = None
) -> Any:
    """Inverse of `encode_value`; a media reference is bound to `run_dir` (to load it)."""
    if kind == FLOAT:
        return value
    if kind == INT:
        return int(text) if text is not None else int(value)  # type: ignore[arg-type]
    if kind == BOOL:
        return bool(value)
    if kind == STR:
        return text
    if kind == LIST:
        return json.loads(text)  # type: ignore[arg-type]
    if kind == HIST:
        from flightlog._histogram import Histogram

        d = json.loads(text)  # type: ignore[arg-type]
        return Histogram(np_histogram=(d["counts"], d["bins"]))
    if kind == MEDIA:
        return MediaRef(json.loads(text), run_dir)  # type: ignore[arg-type]
    return None


def validate_history_table(table: pa.Table) -> None:
    """Raise ValueError unless `table` has exactly the history columns and types."""
    got = [(f.name, f.type) for f in table.schema]
    if got != [(f.name, f.type) for f in HISTORY_SCHEMA]:
        want = ", ".join(f"{f.name}: {f.type}" for f in HISTORY_SCHEMA)
        raise ValueError(f"not a flightlog history segment: expected columns ({want})")


def validate_history_values(batch: pa.RecordBatch | pa.Table) -> None:
    """Raise ValueError unless every row decodes: the checks `decode_value` relies on.

    Works on plain or dictionary-encoded `key`/`text` columns (a receiving server reads them
    as dictionaries, so a repeated long string is checked once, never expanded)."""
    import pyarrow.compute as pc

    for name in ("step", "time", "key", "kind"):
        if batch.column(name).null_count:
            raise ValueError(f"column {name!r} holds nulls: every row needs a {name}")
    kind = batch.column("kind")
    unknown = pc.invert(pc.is_in(kind, pa.array(range(MEDIA + 1), pa.int8())))
    if pc.any(unknown).as_py():
        bad = pc.filter(kind, unknown)[0].as_py()
        raise ValueError(f"unknown value kind {bad} (known: 0-{MEDIA})")
    value, text = batch.column("value"), batch.column("text")

    def rows(*kinds: int) -> pa.Array:
        return pc.is_in(kind, pa.array(kinds, pa.int8()))

    for what, mask in (
        ("a bool", rows(BOOL)),
        ("an int without text", pc.and_(rows(INT), pc.is_null(text))),
    ):
        if pc.any(pc.and_(mask, pc.is_null(value))).as_py():
            raise ValueError(f"{what} row has a null value")
    if pc.any(pc.and_(rows(STR, LIST, HIST, MEDIA), pc.is_null(text))).as_py():
        raise ValueError("a string, list, histogram or media row has a null text")
    for k, parse in ((INT, int), (LIST, json.loads), (HIST, json.loads), (MEDIA, json.loads)):
        for s in pc.unique(pc.filter(text, pc.and_(rows(k), pc.is_valid(text)))).to_pylist():
            try:
                v = parse(s)
            except ValueError:
                raise ValueError(f"kind {k} text does not parse: {s[:80]!r}") from None
            if (
                (k == LIST and not isinstance(v, list))
                or (k == HIST and not (isinstance(v, dict) and {"counts", "bins"} <= v.keys()))
                or (k == MEDIA and not (isinstance(v, dict) and isinstance(v.get("_type"), str)))
            ):
                what = {LIST: "list", HIST: "histogram", MEDIA: "media reference"}[k]
                raise ValueError(f"kind {k} text is not a {what}")
