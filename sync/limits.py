"""Every bound the server holds a request to, in one place, and the `flightlog server` flags
that set them (the CLI imports this module alone: no pyarrow at startup).

The server is shared by every account of a cluster: no single request may take unbounded
memory, disk, time or CPU, whatever it sends or asks for.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .refused import Refused

MB = 1024 * 1024


@dataclass(frozen=True)
class SegmentLimits:
    """What one uploaded segment may hold. A writer seals at 500,000 rows by default, in row
    groups of 131,072 rows."""

    rows: int = 4_000_000
    row_groups: int = 256
    uncompressed: int = 512 * MB  # the whole segment, as its footer declares it
    text: int = 512 * MB  # strings (keys and text values) as decoded
    #: one row group, as declared: what checking it holds in memory at most (its pages and
    #: dictionaries), next to one batch of rows
    row_group: int = 128 * MB


@dataclass(frozen=True)
class ServerLimits:
    max_upload: int = 256 * MB  # one segment's body, or one batch body of segments
    batch_segments: int = 1000  # segments in one batch body
    max_meta: int = 4 * MB  # a run's metadata body (run.json and writer states)
    max_writers: int = 1024  # writer states in one metadata body
    body_timeout: float = 300.0  # seconds for a whole request body to arrive
    idle_timeout: float = 30.0  # seconds without a byte, mid-body
    header_timeout: float = 30.0  # seconds for a request's headers to arrive
    segment: SegmentLimits = field(default_factory=SegmentLimits)
    page_rows: int = 10_000  # history values per page, at most (the default is 1,000)
    list_runs: int = 1_000  # runs per page of a listing, at most (the default is 100)
    chart_buckets: int = 2_000  # buckets per chart, at most
    query_keys: int = 256  # metric names in one query
    counted_keys: int = 100_000  # keys (a key of several kinds: one a kind) a run's counts hold
    query_chars: int = 8_192  # length of any one query parameter
    read_memory: int = 256 * MB  # DuckDB's memory for one read (it spills beyond)
    concurrent_reads: int = 4  # history and chart reads at once
    concurrent_checks: int = 2  # segment checks at once
    max_connections: int = 512  # open connections (beyond: 503, which clients retry)

    def bounded(self, name: str, value: str) -> str:
        """A query parameter's value, refused past `query_chars`."""
        if len(value) > self.query_chars:
            raise Refused(
                f"query parameter {name!r} is {len(value)} characters; at most {self.query_chars}",
                "invalid",
            )
        return value

    def metric_names(self, keys: str | None, key: list[str] | None = None) -> list[str] | None:
        """The metric names a read asks for (None: every one): `keys` comma-separated, and
        each `key` (repeated) as it is - a name that holds a comma can be asked for only so.
        Every route that takes names reads them here."""
        if keys is None and not key:
            return None
        out = [k for k in self.bounded("keys", keys or "").split(",") if k]
        out += [self.bounded("key", k) for k in key or ()]
        if len(out) > self.query_keys:
            raise Refused(
                f"{len(out)} keys asked for; at most {self.query_keys} per request", "invalid"
            )
        return out


#: `flightlog server` flags: (flag, the fields it sets, unit, help). A flag's default is the
#: first field's default above, in its unit.
FLAGS: tuple[tuple[str, tuple[str, ...], int, str], ...] = (
    ("--max-upload-mb", ("max_upload",), MB, "refuse segment uploads larger than this"),
    (
        "--max-segment-rows",
        ("segment.rows",),
        1,
        "refuse segments declaring more rows (writers seal at 500,000)",
    ),
    (
        "--max-segment-mb",
        ("segment.uncompressed", "segment.text"),
        MB,
        "refuse segments that declare more MB, or whose text decodes to more",
    ),
    ("--max-row-groups", ("segment.row_groups",), 1, "refuse segments with more row groups"),
    (
        "--max-row-group-mb",
        ("segment.row_group",),
        MB,
        "refuse segments with a row group declaring more MB (what checking one holds)",
    ),
    ("--max-meta-mb", ("max_meta",), MB, "refuse run metadata bodies larger than this"),
    ("--body-timeout", ("body_timeout",), 1, "seconds a request body may take to arrive"),
    (
        "--idle-timeout",
        ("idle_timeout", "header_timeout"),
        1,
        "seconds a request may stall, in its headers or its body, before it is dropped",
    ),
    ("--read-memory-mb", ("read_memory",), MB, "memory for one history, chart or key-count read"),
    (
        "--max-connections",
        ("max_connections",),
        1,
        "open connections at once; more are answered 503 (clients retry)",
    ),
)


def _get(limits: ServerLimits, path: str) -> float:
    obj: object = limits
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj  # type: ignore[return-value]


def flag_default(fields: tuple[str, ...], unit: int) -> float:
    value = _get(ServerLimits(), fields[0])
    return value / unit if unit != 1 else value


def from_flags(values: dict[str, float]) -> ServerLimits:
    """ServerLimits from flag values ({"--max-upload-mb": 1.5, ...}); ValueError for a value
    that is not positive."""
    top: dict[str, float] = {}
    seg: dict[str, float] = {}
    for flag, fields, unit, _ in FLAGS:
        value = values.get(flag, flag_default(fields, unit))
        if value <= 0:
            raise ValueError(f"{flag} must be positive, not {value}")
        for path in fields:
            default = _get(ServerLimits(), path)
            scaled = type(default)(value * unit)
            if path.startswith("segment."):
                seg[path[len("segment.") :]] = scaled
            else:
                top[path] = scaled
    return dataclasses.replace(
        ServerLimits(),
        segment=SegmentLimits(**seg),
        **top,  # type: ignore[arg-type]
    )
