"""Reading a team server: the read API (runs_api.py, run_views.py, server.py) as calls that
return what the local readers return, for `Api(host=)`, the CLI's `--host` and the TUI.

The key is the one `flightlog login` stored for the host (or FLIGHTLOG_API_KEY). Listings and
run views go through the client's ETag cache, so polling an unchanged run costs a 304. Every
call records the connection's health in `status` (up, or down since when and why), which the
UI shows instead of a traceback; a failed call raises ServerUnavailableError.

Run keys are the store's (`@entity/project/id`, store/layout.py): a run has the same key on
the server's disk and in a remote UI.
"""

from __future__ import annotations

import io
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pyarrow as pa

from flightlog._errors import NotFoundError, NotLoggedInError, ServerUnavailableError
from flightlog.store.blobs import Blob, BlobStore
from flightlog.store.catalog import quote, run_ref_filters
from flightlog.store.layout import run_key, split_run_key
from flightlog.store.summary_columns import columns_of, numeric_keys

from . import credentials
from .blob_client import download
from .client import ServerClient
from .client_errors import error_code, refusal, wrong_server
from .client_reads import key_params

T = TypeVar("T")
#: runs per request when every run is wanted (the server's largest page)
FULL_PAGE = 1000


@dataclass
class Connection:
    """The health of the link to the server, as the UI shows it."""

    url: str
    down_since: float | None = None
    reason: str = ""
    last_ok: float | None = None

    def text(self) -> str:
        if self.down_since is None:
            return self.url
        since = time.strftime("%H:%M:%S", time.localtime(self.down_since))
        shown = time.time() - (self.last_ok or self.down_since)
        return (
            f"⚠ {self.url} unreachable since {since}, retrying; data shown is {shown:.0f} s "
            f"old ({self.reason[:80]})"
        )


class RemoteReader:
    """One server, read with the logged-in key. Thread-safe enough for UI workers: httpx's
    client is, and the ETag cache tolerates a lost update."""

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 0,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        creds = credentials.load(environ, base_url=url)
        self.client = ServerClient(creds, retries=retries, timeout=timeout)
        self.url = self.client.shown  # what the UI and messages show: no password
        self.status = Connection(self.url)
        self._environ = environ

    def close(self) -> None:
        self.client.close()

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            try:
                out = fn()
            except NotLoggedInError:  # a new `flightlog login` since? then read with its key
                if not self.client.relogin(self._environ):
                    raise
                out = fn()
        except ServerUnavailableError as e:
            if self.status.down_since is None:
                self.status.down_since = time.time()
            self.status.reason = e.reason
            # the client's advice is about syncing; a reader only waits for the server
            raise ServerUnavailableError(
                f"{e.reason}: the server is not answering; nothing changes on it or here, "
                "read again when it is back (the UI retries by itself)",
                reason=e.reason,
                wait=e.wait,
            ) from None
        self.status.down_since, self.status.last_ok = None, time.time()
        return out

    # -- listings --------------------------------------------------------------------------
    def projects(self) -> list[dict[str, Any]]:
        doc = self._call(lambda: self.client.get_cached("/projects", None, ("projects",)))
        return doc["projects"]

    def runs_page(
        self,
        *,
        where: str | None = None,
        sort: str | None = None,
        offset: int = 0,
        limit: int = 100,
        entity: str | None = None,
        project: str | None = None,
    ) -> dict[str, Any]:
        """One page of the listing (runs_api.py's document), each run with its `run_key`."""
        url = f"/runs/{entity}/{project}" if entity and project else "/runs"
        params: dict[str, Any] = {"offset": offset, "limit": limit, "sort": sort or "created_at"}
        if where:
            params["filter"] = where
        if project and not entity:  # a project name without its entity: any entity's
            params["filter"] = f"project = {quote(project)}" + (f" and ({where})" if where else "")
        doc = self._call(lambda: self.client.get_cached(url, params, ("runs", "total")))
        for r in doc["runs"]:
            r["run_key"] = run_key(r["project"], r["id"], r["entity"])
        return doc

    def select(
        self,
        *,
        project: str | None = None,
        entity: str | None = None,
        group: str | None = None,
        tags: Sequence[str] = (),
        state: str | None = None,
        where: str | None = None,
        sort: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Runs matching every given condition: `catalog.select_runs`'s arguments, answered
        by the server (every page, or the first `limit` runs)."""
        terms = [f"({where})"] if where else []
        terms += [f"group = {quote(group)}"] if group else []
        terms += [f"tag = {quote(t)}" for t in tags]
        terms += [f"state = {quote(state)}"] if state else []
        if entity and not project:
            terms.append(f"entity = {quote(entity)}")
        query: dict[str, Any] = {"where": " and ".join(terms) or None, "sort": sort}
        query.update(project=project, entity=entity if project else None)
        if limit is not None:
            return self.runs_page(limit=limit, **query)["runs"]
        return self.runs(**query)

    def runs(self, **query: Any) -> list[dict[str, Any]]:
        """Every run matching (runs_page's arguments), fetched a page at a time."""
        out: list[dict[str, Any]] = []
        while True:
            doc = self.runs_page(offset=len(out), limit=FULL_PAGE, **query)
            out.extend(doc["runs"])
            if not doc["runs"] or len(out) >= doc["total"]:
                return out

    def find(self, ref: str) -> dict[str, Any]:
        """A run by id, name, project/id or entity/project/id (as `flightlog show` takes)."""
        by_id, by_name = run_ref_filters(ref)
        rows = self.runs(where=by_id) or self.runs(where=by_name)
        if not rows:
            raise NotFoundError(f"no run {ref!r} on {self.url} that you may read")
        if len(rows) > 1:
            names = ", ".join(f"{r['entity']}/{r['project']}/{r['id']}" for r in rows)
            raise NotFoundError(f"{ref!r} matches {len(rows)} runs: {names}; use entity/project/id")
        return rows[0]

    # -- one run ---------------------------------------------------------------------------
    def run(self, key: str) -> dict[str, Any]:
        """The server's RUN object (meta, state, summary): no scan of its history, which a
        view makes for its charts."""
        entity, project, run_id = split_run_key(key)
        return self._call(lambda: self.client.run(str(entity), project, run_id))

    def view(
        self,
        key: str,
        x: str = "step",
        buckets: int = 240,
        x_range: tuple[float, float] | None = None,
    ) -> dict[str, Any]:
        """run_views.py's view: the run, its meta and its chart buckets (zoomed too)."""
        params: dict[str, Any] = {"x": x, "buckets": buckets}
        if x_range is not None:
            params.update(lo=x_range[0], hi=x_range[1])
        doc = self._call(lambda: self.client.get_cached(_run_url(key, "view"), params, ("run",)))
        doc["run"]["run_key"] = key
        return doc

    def chart(
        self,
        key: str,
        keys: list[str] | None,
        buckets: int = 240,
        x: str = "step",
        x_range: tuple[float, float] | None = None,
    ) -> list[dict[str, Any]]:
        entity, project, run_id = split_run_key(key)
        return self._call(
            lambda: self.client.chart(entity or "", project, run_id, keys, buckets, x, x_range)
        )

    def cursor(
        self, key: str, keys: list[str], at: float, x: str = "step", window: float | None = None
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {**key_params(keys), "at": at, "x": x}
        if window is not None:
            params["window"] = window
        r = self._call(lambda: self.client.get(_run_url(key, "cursor"), params))
        return self.client.answer(r, "values")

    def tidy(self, key: str, keys: list[str] | None = None, stream: str = "history") -> pa.Table:
        """The run's logged values in the long form (plus `writer`), as the local
        StoredRun.tidy gives them: the server's Arrow stream."""
        params: dict[str, Any] = {"format": "arrow", "stream": stream}
        if keys is not None:
            params.update(key_params(keys))
        r = self._call(lambda: self.client.get(_run_url(key, "history"), params))
        try:
            return pa.ipc.open_stream(io.BytesIO(r.content)).read_all()
        except pa.ArrowInvalid:  # a page where the Arrow stream should be
            raise wrong_server(r, self.url) from None

    def key_counts(self, key: str, stream: str = "history") -> dict[str, Any] | None:
        """The run's values per key and kind, rows and last step (run_keys_routes.py), or
        None from a server older than that route."""
        url = _run_url(key, "keys")
        params = {"stream": stream}
        r = self._call(lambda: self.client.request("GET", url, params=params, allow=(404,)))
        if r.status_code == 404:
            if error_code(r) != "not_found":  # a missing run, not a route it lacks
                raise refusal(r, url, self.client.creds)
            return None
        return dict(self.client.answer(r))

    def rows(self, key: str, stream: str = "history") -> Iterator[dict[str, Any]]:
        entity, project, run_id = split_run_key(key)
        yield from self._call(
            lambda: self.client.history(entity or "", project, run_id, stream=stream)
        )

    def files(self, key: str) -> list[dict[str, Any]]:
        """The files the server keeps of a run (`name`, `size`: the git diff for members
        only)."""
        r = self._call(lambda: self.client.request("GET", _run_url(key, "files")))
        return list(self.client.answer(r, "files"))

    def file(self, key: str, name: str) -> bytes:
        """One file of a run, whole."""
        url = _run_url(key, "files/" + urllib.parse.quote(name))
        return self._call(lambda: self.client.request("GET", url)).content

    def blob(self, key: str, sha256: str, store: BlobStore) -> Blob:
        """A blob of the project of run `key` fetched into `store` (a cache: not fsynced),
        streamed to disk and checked against its sha256 before it is placed."""
        entity, project, _ = split_run_key(key)
        return self._call(
            lambda: download(self.client, entity or "", project, sha256, store, durable=False)
        )

    def delete(self, key: str) -> None:
        """Delete a run from the server (run_delete_routes.py): sent once, never retried."""
        self._call(lambda: self.client.request("DELETE", _run_url(key), retries=0))

    def whoami(self) -> str:
        """The user the key belongs to."""
        return str(self._call(self.client.whoami)["user"])

    def file_tail(self, key: str, name: str, offset: int, limit: int) -> tuple[bytes, int] | None:
        """A file's bytes from `offset` on, but at most its last `limit` bytes, and the offset
        after them; None when the server has no such file. An HTTP Range request (the files
        route is a FileResponse): following a growing console log costs its new bytes, not
        the whole log each time."""
        first = f"bytes={offset}-" if offset else f"bytes=-{limit}"
        r = self._call(
            lambda: self.client.request(
                "GET", _run_url(key, f"files/{name}"), allow=(404, 416), headers={"Range": first}
            )
        )
        if r.status_code == 404:
            return None
        if r.status_code == 416:  # nothing past `offset` (or an empty file)
            return b"", offset
        if r.status_code == 200:  # the whole file: a server without Range support
            data = r.content
            start = max(offset, len(data) - limit)
            return data[start:], len(data)
        span = r.headers.get("content-range", "").removeprefix("bytes ").partition("/")[0]
        end = int(span.split("-")[1]) + 1 if "-" in span else offset + len(r.content)
        return r.content[-limit:], end


#: the run-row fields of `catalog.select_runs` that a server's RUN object names alike
ROW_FIELDS = (
    "entity", "project", "id", "name", "group", "job_type", "tags", "state", "steps", "values",
    "created_at", "ended_at", "last_time", "host", "user", "notes", "error", "warnings",
    "duration",
)  # fmt: skip


def index_row(run: dict[str, Any]) -> dict[str, Any]:
    """A server's RUN object as a local index row (`select_runs`): what screens and CLI
    commands read, whichever store the run is in."""
    row = {k: run.get(k) for k in ROW_FIELDS}
    row.update(run_key=run["run_key"], dir=None, sync="server")
    return row


def buckets_table(buckets: list[dict[str, Any]], run_key: str) -> pa.Table:
    """The server's chart buckets as the downsample() table the local UI draws from."""
    return pa.Table.from_pylist([{**b, "run_key": run_key} for b in buckets])


def common_keys(summaries: Any, limit: int = 3) -> list[str]:
    """The default metric columns of a server's runs: their numeric summary keys, ranked
    as a store's (store/summary_columns.py)."""
    return columns_of(map(numeric_keys, summaries), limit=limit)


def _run_url(key: str, what: str = "") -> str:
    entity, project, run_id = split_run_key(key)
    return f"/runs/{entity}/{project}/{run_id}" + (f"/{what}" if what else "")
