"""What `runs`, `show`, `compare` and `export` read, from a local store or a team server.

Both give the same rows (the index's run columns), values and tables, so each command is
written once: `reads(args)` picks the store (`--root`) or the server (`--host URL`, read
with the key `flightlog login` stored for it). On a server, filtering, sorting and chart
statistics are computed by the server (sync/runs_api.py, sync/run_views.py).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ._common import open_index

if TYPE_CHECKING:
    import pyarrow as pa

#: buckets of the metric statistics `show` prints (min, max and a sparkline)
STAT_BUCKETS = 24


def add_host(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host",
        metavar="URL",
        help="read a team server instead of a store (the key of `flightlog login`)",
    )


class LocalReads:
    """A store's index."""

    def __init__(self, idx: Any) -> None:
        self.idx = idx
        self.where = str(idx.root)

    def runs(self, sort: str | None = None, limit: int | None = None, **query: Any) -> list[dict]:
        from flightlog.store.catalog import select_runs

        return select_runs(self.idx, sort=sort, limit=limit, **query)

    def values(self, table: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        from flightlog.store.catalog import values_of

        return values_of(self.idx, table, keys)

    def common_keys(self, keys: Sequence[str]) -> list[str]:
        from flightlog.store.catalog import common_summary_keys

        return common_summary_keys(self.idx, keys)

    def resolve(self, ref: str) -> dict[str, Any]:
        from flightlog.store.catalog import resolve_run

        return resolve_run(self.idx, ref)

    def meta(self, key: str) -> dict[str, Any]:
        row = self.idx.con.execute("SELECT meta FROM runs WHERE run_key = ?", [key]).fetchone()
        return json.loads(row[0])

    def stats(self, key: str) -> list[dict[str, Any]]:
        from flightlog.store.query import downsample, metric_summaries

        return metric_summaries(downsample(self.idx, [key], None, buckets=STAT_BUCKETS))

    def history(self, row: dict[str, Any], keys: list[str] | None) -> pa.Table:
        from flightlog.store import RunPaths, StoredRun

        # whatever its run.json holds (torn by a copy cut short): the history is its own
        run = StoredRun.load_any(RunPaths.of_key(self.idx.root, row["run_key"]))
        return run.history(keys=keys)


class RemoteReads:
    """A team server: the same answers, from its read API."""

    def __init__(self, url: str) -> None:
        from flightlog.sync.remote import RemoteReader

        self.reader = RemoteReader(url, retries=2)
        self.where = self.reader.url
        self._runs: dict[str, dict[str, Any]] = {}  # run_key -> the server's RUN object
        self._views: dict[str, dict[str, Any]] = {}  # run_key -> its view (meta and stats)

    def close(self) -> None:
        self.reader.close()

    def _rows(self, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from flightlog.sync.remote import index_row

        self._runs.update((r["run_key"], r) for r in runs)
        return [index_row(r) for r in runs]

    def runs(self, sort: str | None = None, limit: int | None = None, **query: Any) -> list[dict]:
        return self._rows(self.reader.select(sort=sort, limit=limit, **query))

    def values(self, table: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {k: dict(self._runs[k][table]) for k in keys}

    def common_keys(self, keys: Sequence[str]) -> list[str]:
        from flightlog.sync.remote import common_keys

        return common_keys(self._runs[k]["summary"] for k in keys)

    def resolve(self, ref: str) -> dict[str, Any]:
        return self._rows([self.reader.find(ref)])[0]

    def _view(self, key: str) -> dict[str, Any]:
        """The run's view: one request (one scan of its history on the server) serves both
        its meta and its stats, as one index open does locally."""
        if key not in self._views:
            self._views[key] = self.reader.view(key, buckets=STAT_BUCKETS)
        return self._views[key]

    def meta(self, key: str) -> dict[str, Any]:
        """From the run's view when `stats` read it (show), else the run alone (compare: no
        scan of its history on the server for stats it does not print)."""
        if key in self._views:
            return self._views[key]["meta"]
        return self.reader.run(key)["meta"]

    def stats(self, key: str) -> list[dict[str, Any]]:
        from flightlog.store.query import metric_summaries
        from flightlog.sync.remote import buckets_table

        return metric_summaries(buckets_table(self._view(key)["buckets"], key))

    def history(self, row: dict[str, Any], keys: list[str] | None) -> pa.Table:
        from flightlog.store.reader import pivot

        tidy = self.reader.tidy(row["run_key"], keys)
        return pivot(tidy, float(row["created_at"] or 0.0))


@contextmanager
def reads(args: argparse.Namespace, listing: bool = False) -> Iterator[LocalReads | RemoteReads]:
    """The store or server a command reads (`--host` wins over `--root`). `listing`: a
    command that only lists runs (`runs`), whose first build of a store's index describes
    the segments of the runs it prints only (store/catch_up.py)."""
    if getattr(args, "host", None):
        remote = RemoteReads(args.host)
        try:
            yield remote
        finally:
            remote.close()
        return
    with open_index(args, lazy=listing) as idx:
        yield LocalReads(idx)
