"""The UI's data from a team server: what tui/data.py's functions return for a local store,
built from the server's read API (sync/remote.py), so every screen works unchanged.

The server filters, sorts and downsamples; this module only reshapes its answers. A listing
is the server's answer to the screen's filter and sort, fetched a page (`page` runs) at a
time up to the rows the screen asks for (`RunList.total` says how many match): a server of
100,000 runs paints its first page as fast as one of 100, and sorting by a metric shows the
best runs of the whole server, not of the runs loaded. When the server cannot be reached,
a refresh of something already shown returns the last answer (the status line says the
server is down and since when), so the screen stays as it was and catches up when the
server is back; anything never loaded raises ServerUnavailableError, which the screen shows
as a toast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flightlog._errors import ServerUnavailableError
from flightlog.store.reader import pivot
from flightlog.sync.remote import RemoteReader, buckets_table, common_keys, index_row

from .data import (
    Curves,
    RunDetail,
    RunList,
    Source,
    XRange,
    curves_of,
    system_curves,
)
from .runs_data import PAGE  # a server is paged as a store is

T = TypeVar("T")
#: the listing's order when the screen names none: newest first
NEWEST = "-created_at"


class RemoteSource(Source):
    """A server, read for the UI."""

    def __init__(self, reader: RemoteReader, page: int = PAGE) -> None:
        self.reader = reader
        self.page = page
        self._last: dict[Any, Any] = {}

    def __str__(self) -> str:
        return self.reader.url

    def status(self) -> str:
        """The connection as the UI's title shows it."""
        return self.reader.status.text()

    def _fresh_or_last(self, key: Any, load: Callable[[], T]) -> T:
        """`load()`, remembered; while the server is unreachable, the last answer."""
        try:
            out = load()
        except ServerUnavailableError:
            if key in self._last:
                return self._last[key]
            raise
        self._last[key] = out
        return out

    def load_runs(
        self, where: str | None, sort: str | None, metrics: list[str] | None, limit: int | None
    ) -> RunList:
        """The first `limit` runs (at least one page) in the server's `sort` order."""
        order = sort or NEWEST
        wanted = max(1, -(-(limit or 0) // self.page)) * self.page  # whole pages

        def load() -> tuple[list[dict[str, Any]], int]:
            found: list[dict[str, Any]] = []
            while True:
                doc = self.reader.runs_page(
                    where=where, sort=order, offset=len(found), limit=self.page
                )
                found += doc["runs"]
                if not doc["runs"] or len(found) >= min(wanted, doc["total"]):
                    return found[:wanted], doc["total"]

        runs, total = self._fresh_or_last(("runs", where, order, wanted), load)
        summaries = {r["run_key"]: r["summary"] for r in runs}
        chosen = metrics or common_keys(summaries.values())
        rows = [index_row(r) for r in runs]
        return RunList(rows, chosen, summaries, total=total, sorted_by=order)

    def load_run(self, run_key: str, x: str, buckets: int, x_range: XRange | None) -> RunDetail:
        doc = self._fresh_or_last(
            ("run", run_key, x, buckets, x_range),
            lambda: self.reader.view(run_key, x, buckets, x_range),
        )
        whole = buckets_table(doc["buckets"], run_key)
        zoomed = buckets_table(doc["zoomed"], run_key) if doc["zoomed"] is not None else whole
        run = doc["run"]
        return RunDetail.of(
            index_row(run), doc["meta"], run["config"], run["summary"], whole, zoomed
        )

    def load_curves(
        self,
        run_keys: list[str],
        keys: list[str] | None,
        x: str,
        buckets: int,
        x_range: XRange | None,
    ) -> dict[str, Curves]:
        out: dict[str, Curves] = {}
        for k in run_keys:
            found = self.reader.chart(k, keys, buckets, x, x_range)
            out.update(curves_of(buckets_table(found, k)))
        return out

    def read_cursor(
        self, run_keys: list[str], keys: list[str], at: float, x: str, window: float | None
    ) -> list[dict[str, Any]]:
        return [
            {**v, "run_key": k}
            for k in run_keys
            for v in self.reader.cursor(k, keys, at, x, window)
        ]

    def load_system(self, run_key: str, limit: int) -> Curves:
        def load() -> Curves:
            tidy = self.reader.tidy(run_key, stream="system")
            created = self._created_at(run_key)
            return system_curves(pivot(tidy, created), limit)

        return self._fresh_or_last(("system", run_key), load)

    def _created_at(self, run_key: str) -> float:
        for (kind, key, *_), detail in self._last.items():
            if kind == "run" and key == run_key:
                return float(detail["run"]["created_at"] or 0.0)
        return 0.0

    def read_console(self, run_key: str, offset: int, limit: int) -> tuple[str, int]:
        """The log's new bytes since `offset` (its last `limit` at first), by Range."""
        found = self.reader.file_tail(run_key, "output.log", offset, limit)
        if found is None:
            return "", offset
        data, end = found
        return data.decode("utf-8", errors="replace"), end
