"""The reading calls of a flightlog server's API - listings, a run, its history and
charts - and the ETag cache that makes a poll of an unchanged listing or run cost a 304:
the half of ServerClient (sync/client.py) that sync/remote.py, the TUI and `Api(host=)`
read through, and with which `flightlog sync` asks which runs the server still has."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx

#: run ids per page of `run_ids` (a server's largest page, sync/limits.py list_runs)
ID_PAGE = 1000


def join_page(rows: list[dict[str, Any]], page: list[dict[str, Any]]) -> None:
    """Append a history page to `rows`, joining the row a page boundary cut in two (the
    same step and writer on both sides)."""
    for row in page:
        prev = rows[-1] if rows else None
        if prev and (prev["_step"], prev["_writer"]) == (row["_step"], row["_writer"]):
            prev.update(row)
        else:
            rows.append(row)


def key_params(keys: list[str]) -> dict[str, Any]:
    """The query parameters asking for the metrics `keys`: each name as it is, in a `key` of
    its own ("f1,macro" is one name), and an empty `keys` so that no name asked for reads
    none (the server's ServerLimits.metric_names, sync/limits.py)."""
    return {"keys": "", "key": list(keys)}


class ReadCalls:
    """ServerClient's reading half: it supplies `_call` (a request with its retries and
    errors), `answer` (the answer's JSON, or WrongServerError) and `_cache`."""

    _cache: dict[tuple[str, str], tuple[str, Any]]

    if TYPE_CHECKING:

        def _call(self, method: str, url: str, **kw: Any) -> httpx.Response: ...

        def answer(self, r: httpx.Response, field: str | None = None) -> Any: ...

        def document(self, r: httpx.Response, *fields: str) -> Any: ...

    def runs(self, entity: str, project: str, page: int = 100) -> list[dict[str, Any]]:
        """Every run of a project, fetched `page` runs at a time."""
        return list(self._listing(entity, project, {"limit": page}))

    def run_ids(self, entity: str, project: str) -> set[str]:
        """The ids of a project's runs, ID_PAGE at a time and nothing else of them
        (`fields=id`); an older server, which ignores `fields`, answers whole runs."""
        runs = self._listing(entity, project, {"limit": ID_PAGE, "fields": "id"})
        return {str(r.get("id")) for r in runs}

    def _listing(
        self, entity: str, project: str, params: dict[str, Any]
    ) -> Iterator[dict[str, Any]]:
        """A project's runs, page after page (`after` the last page's `next`)."""
        after = ""
        while True:
            url = f"/runs/{entity}/{project}"
            doc = self.document(self._call("GET", url, params={**params, "after": after}), "runs")
            yield from doc["runs"]
            if not doc.get("next"):
                return
            after = doc["next"]

    def run(self, entity: str, project: str, run_id: str) -> dict[str, Any]:
        return self.answer(self._call("GET", f"/runs/{entity}/{project}/{run_id}"))

    def history(
        self,
        entity: str,
        project: str,
        run_id: str,
        keys: list[str] | None = None,
        stream: str = "history",
        page: int = 5000,
    ) -> list[dict[str, Any]]:
        """Every logged row, fetched `page` values at a time (a row cut by a page's end is
        joined up again); with `keys`, the rows holding any of them - none for an empty
        list, as the chart and the local `Api` read it (None reads every key)."""
        params: dict[str, Any] = {"stream": stream, "limit": page}
        if keys is not None:
            params.update(key_params(keys))
        rows: list[dict[str, Any]] = []
        while True:
            url = f"/runs/{entity}/{project}/{run_id}/history"
            doc = self.document(self._call("GET", url, params=params), "rows")
            join_page(rows, doc["rows"])
            if not doc.get("next"):
                return rows
            params["cursor"] = doc["next"]

    def chart(
        self,
        entity: str,
        project: str,
        run_id: str,
        keys: list[str] | None,
        buckets: int = 500,
        x: str = "step",
        x_range: tuple[float, float] | None = None,
    ) -> list[dict[str, Any]]:
        """Per key (every key: None), `buckets` buckets along x with min, max, last and count
        (downsampled on the server, as the local UI draws a chart), over the whole run or
        `x_range` (a zoomed chart)."""
        params: dict[str, Any] = {"buckets": buckets, "x": x}
        if keys is not None:
            params.update(key_params(keys))
        if x_range is not None:
            params.update(lo=x_range[0], hi=x_range[1])
        r = self._call("GET", f"/runs/{entity}/{project}/{run_id}/chart", params=params)
        return self.answer(r, "buckets")

    def get_cached(
        self, url: str, params: dict[str, Any] | None = None, fields: tuple[str, ...] = ()
    ) -> Any:
        """GET a JSON answer holding `fields` (document), sending the ETag of the last answer
        to the same request: an unchanged listing or run costs a 304 and no body. Keeps the
        latest 256 answers."""
        key = (url, repr(sorted((params or {}).items())))
        held = self._cache.get(key)
        headers = {"If-None-Match": held[0]} if held else {}
        r = self._call("GET", url, params=params, headers=headers)
        if r.status_code == 304 and held:
            return held[1]
        doc = self.document(r, *fields)
        if etag := r.headers.get("ETag"):
            if len(self._cache) >= 256:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = (etag, doc)
        return doc

    def get(self, url: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """A GET of the API (errors mapped as for every call)."""
        return self._call("GET", url, params=params)
