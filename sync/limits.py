"""Every bound the server holds a request to, in one place (`flightlog server --help`).

The server is shared by every account of a cluster: no single request may take unbounded
memory, disk, time or CPU, whatever it sends or asks for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .segment_check import MB, SegmentLimits


@dataclass(frozen=True)
class ServerLimits:
    max_upload: int = 256 * MB  # one segment's body
    max_meta: int = 4 * MB  # a run's metadata body (run.json and writer states)
    max_writers: int = 1024  # writer states in one metadata body
    body_timeout: float = 300.0  # seconds for a whole request body to arrive
    idle_timeout: float = 30.0  # seconds without a byte, mid-body or between requests
    header_timeout: float = 30.0  # seconds for a request's headers to arrive
    segment: SegmentLimits = field(default_factory=SegmentLimits)
    page_rows: int = 10_000  # history rows per page, at most (the default is 1,000)
    list_runs: int = 1_000  # runs per page of a listing, at most (the default is 100)
    chart_buckets: int = 2_000  # buckets per chart, at most
    query_keys: int = 256  # metric names in one query
    query_chars: int = 8_192  # length of any one query parameter
    read_memory: int = 256 * MB  # DuckDB's memory for one read (it spills beyond)
    concurrent_reads: int = 4  # history, chart and listing reads at once
    concurrent_checks: int = 2  # segment checks at once
