"""The HTTP client of a flightlog server (httpx), with the errors a user can act on.

Each failure becomes one exception of `flightlog._errors` whose message names the fix: no key
(`flightlog login`), unknown entity, no permission on the project (client_errors.py says
which). A network error, a 5xx or a 408 (a body that stalled) is retried with backoff and then
raised as ServerUnavailableError - never as a permission problem, since the server did not say
no. A full disk on the server (507) is not retried at once: it is ServerStorageFullError, a
ServerUnavailableError, so `sync` stops and the agent backs off and tries again later.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from flightlog import __version__
from flightlog._errors import NotLoggedInError, ServerStorageFullError, ServerUnavailableError
from flightlog.store.atomic import dumps

from .client_errors import error_code, refusal, storage_full
from .credentials import Credentials
from .credentials import load as load_credentials
from .frames import BATCH_TYPE, file_chunks, runs_body

API = "/api/v1"


#: a request body the server gave up on (it stalled past its idle timeout): the link's
#: problem, not a refusal - retried like a 5xx
STALLED = 408


def backoff_delay(attempt: int, base: float = 0.5, cap: float = 8.0) -> float:
    """Exponential backoff with full jitter (AWS style), never above `cap` seconds: a server
    that comes back is noticed within `cap` plus one request."""
    return random.uniform(base / 2, min(cap, base * 2**attempt))


def _run_frame(name: str, doc: dict[str, Any]) -> bytes:
    """A run frame of a batch body: its header line, then the run's PUT body."""
    body = dumps(doc, indent=None)
    return dumps({"stream": "run", "name": name, "size": len(body)}, indent=None) + b"\n" + body


def join_page(rows: list[dict[str, Any]], page: list[dict[str, Any]]) -> None:
    """Append a history page to `rows`, joining the row a page boundary cut in two (the
    same step and writer on both sides)."""
    for row in page:
        prev = rows[-1] if rows else None
        if prev and (prev["_step"], prev["_writer"]) == (row["_step"], row["_writer"]):
            prev.update(row)
        else:
            rows.append(row)


class ServerClient:
    """One server, one key. `retries` bounds the attempts on network errors and 5xx."""

    def __init__(
        self,
        creds: Credentials,
        *,
        retries: int = 4,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.creds = creds
        self.retries = retries
        headers = {"User-Agent": f"flightlog/{__version__}"}
        if creds.api_key:
            headers["Authorization"] = f"Bearer {creds.api_key}"
        #: (url, params) -> (ETag, answer) of the reads that carry an ETag (get_cached)
        self._cache: dict[tuple[str, str], tuple[str, Any]] = {}
        self._http = httpx.Client(
            base_url=creds.base_url + API,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=5.0),
            transport=transport,
        )

    def relogin(self, environ: Mapping[str, str] | None = None) -> bool:
        """Take the key stored for this server now, if a `flightlog login` since changed it
        (the agent and the remote UI, after a refused key); False when it did not."""
        fresh = load_credentials(environ, base_url=self.creds.base_url)
        if not fresh.api_key or fresh.api_key == self.creds.api_key:
            return False
        self.creds = fresh
        self._cache.clear()
        self._http.headers["Authorization"] = f"Bearer {fresh.api_key}"
        return True

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the API ---------------------------------------------------------------------------
    def whoami(self) -> dict[str, Any]:
        return self._call("GET", "/whoami").json()

    def put_run(
        self, entity: str, project: str, run_id: str, meta: dict[str, Any], writers: list[Any]
    ) -> bool:
        """Create or update a run's metadata; True when the server did not have the run."""
        return bool(self._put_run(entity, project, run_id, meta, writers).get("created"))

    def start_run(
        self,
        entity: str,
        project: str,
        run_id: str,
        meta: dict[str, Any],
        writers: list[Any],
        extras: dict[str, Any] | None = None,
    ) -> tuple[dict[str, set[str]], dict[str, Any]]:
        """Create or update a run's metadata; return the sealed segments the server has for
        it, per stream (one request where an older server needs two), and the whole answer:
        with `extras` (the run's blobs and files, sync/blob_upload.py), what the server says
        of them."""
        doc = self._put_run(entity, project, run_id, meta, writers, extras)
        if "segments" not in doc:
            return self.segments(entity, project, run_id), doc
        return {s: set(names) for s, names in (doc["segments"] or {}).items()}, doc

    def _put_run(
        self,
        entity: str,
        project: str,
        run_id: str,
        meta: dict[str, Any],
        writers: list[Any],
        extras: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        r = self._call(
            "PUT",
            f"/runs/{entity}/{project}/{run_id}",
            content=dumps({"meta": meta, "writers": writers, **(extras or {})}, indent=None),
            headers={"Content-Type": "application/json"},
        )
        return dict(r.json())

    def segments(self, entity: str, project: str, run_id: str) -> dict[str, set[str]]:
        """The sealed segments the server has for a run, per stream."""
        r = self._call("GET", f"/runs/{entity}/{project}/{run_id}/segments")
        return {s: set(names) for s, names in r.json()["segments"].items()}

    def put_segment(self, entity: str, project: str, run_id: str, stream: str, path: Path) -> bool:
        """Upload one sealed segment, streamed from its file; False when the server already
        had it."""
        size = path.stat().st_size
        r = self._call(
            "PUT",
            f"/runs/{entity}/{project}/{run_id}/segments/{stream}/{path.name}",
            body=lambda: file_chunks(path),
            headers={"Content-Type": "application/vnd.apache.parquet", "Content-Length": str(size)},
        )
        return bool(r.json().get("stored"))

    def put_segments(
        self,
        entity: str,
        project: str,
        run_id: str,
        items: list[tuple[str, Path]],
        retries: int | None = None,
    ) -> list[dict[str, Any]] | None:
        """Upload many sealed segments of a run in one request (sync/batch_routes.py): one
        result per segment, in order (`stored`, or `error` and `message` for a refused one).
        None when the server has no batch route (an older server): send them one by one.
        `retries` replaces the client's own for this request."""
        url = f"/runs/{entity}/{project}/{run_id}/segments"
        r = self._batch(url, [(b"", items)], retries)
        if r.status_code in (404, 405):
            return None
        return list(r.json()["results"])

    def sync_run(
        self,
        entity: str,
        project: str,
        run_id: str,
        doc: dict[str, Any],
        items: list[tuple[str, Path]],
        retries: int | None = None,
    ) -> dict[str, Any] | None:
        """A run's PUT body `doc` and sealed segments in one request (sync/run_sync_routes.py):
        the run PUT's answer (`segments` as the server has them after this request) with
        `results`, one per segment as put_segments. None when the server has no such route
        (an older server): PUT the run, then send the segments."""
        url = f"/runs/{entity}/{project}/{run_id}/sync"
        r = self._batch(url, [(_run_frame("run.json", doc), items)], retries)
        if r.status_code in (404, 405):
            return None
        return dict(r.json())

    def sync_runs(
        self,
        entity: str,
        project: str,
        runs: list[tuple[str, dict[str, Any], list[tuple[str, Path]]]],
        retries: int | None = None,
    ) -> list[dict[str, Any]] | None:
        """Several runs of a project - each (run id, PUT body, segments) - in one request
        (sync/project_sync_routes.py): one answer per run, in order, as sync_run's, or with
        `error` and `message` for a run the server refused. None when the server has no
        such route (an older server)."""
        body = [(_run_frame(f"{run_id}/run.json", doc), items) for run_id, doc, items in runs]
        r = self._batch(f"/sync/{entity}/{project}", body, retries)
        if r.status_code in (404, 405):
            return None
        return list(r.json()["runs"])

    def _batch(
        self,
        url: str,
        runs: list[tuple[bytes, list[tuple[str, Path]]]],
        retries: int | None = None,
    ) -> httpx.Response:
        """POST each run's first bytes then a frame per segment, streamed from the files. A
        405, or a 404 for want of the route (not of an entity or run), is returned: an
        older server."""
        total, body = runs_body(runs)
        r = self._call(
            "POST",
            url,
            body=body,
            headers={"Content-Type": BATCH_TYPE, "Content-Length": str(total)},
            allow=(404, 405),
            retries=retries,
        )
        if r.status_code == 404 and error_code(r) != "not_found":
            raise self._error(r, url)
        return r

    def runs(self, entity: str, project: str, page: int = 100) -> list[dict[str, Any]]:
        """Every run of a project, fetched `page` runs at a time."""
        out: list[dict[str, Any]] = []
        after = ""
        while True:
            params = {"limit": page, "after": after}
            doc = self._call("GET", f"/runs/{entity}/{project}", params=params).json()
            out.extend(doc["runs"])
            if not doc.get("next"):
                return out
            after = doc["next"]

    def run(self, entity: str, project: str, run_id: str) -> dict[str, Any]:
        return self._call("GET", f"/runs/{entity}/{project}/{run_id}").json()

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
        joined up again)."""
        params: dict[str, Any] = {"stream": stream, "limit": page}
        if keys:
            params["keys"] = ",".join(keys)
        rows: list[dict[str, Any]] = []
        while True:
            url = f"/runs/{entity}/{project}/{run_id}/history"
            doc = self._call("GET", url, params=params).json()
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
            params["keys"] = ",".join(keys)
        if x_range is not None:
            params.update(lo=x_range[0], hi=x_range[1])
        r = self._call("GET", f"/runs/{entity}/{project}/{run_id}/chart", params=params)
        return r.json()["buckets"]

    def get_cached(self, url: str, params: dict[str, Any] | None = None) -> Any:
        """GET a JSON answer, sending the ETag of the last answer to the same request: an
        unchanged listing or run costs a 304 and no body. Keeps the latest 256 answers."""
        key = (url, repr(sorted((params or {}).items())))
        held = self._cache.get(key)
        headers = {"If-None-Match": held[0]} if held else {}
        r = self._call("GET", url, params=params, headers=headers)
        if r.status_code == 304 and held:
            return held[1]
        doc = r.json()
        if etag := r.headers.get("ETag"):
            if len(self._cache) >= 256:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = (etag, doc)
        return doc

    def get(self, url: str, params: dict[str, Any] | None = None) -> httpx.Response:
        """A GET of the API (errors mapped as for every call)."""
        return self._call("GET", url, params=params)

    # -- plumbing --------------------------------------------------------------------------
    def request(
        self, method: str, url: str, *, allow: tuple[int, ...] = (), **kw: Any
    ) -> httpx.Response:
        """Any route under /api/v1 (the blob routes: sync/blob_client.py), with this client's
        retries and errors; statuses in `allow` are answers, not errors (a Range's 416)."""
        return self._call(method, url, allow=allow, **kw)

    @contextmanager
    def stream(self, url: str) -> Iterator[httpx.Response]:
        """GET `url` as a stream (a blob: never whole in memory), not retried: a caller
        starts the download again."""
        try:
            with self._http.stream("GET", url) as r:
                if 400 <= r.status_code < 500:
                    r.read()
                    raise self._error(r, url)
                if r.status_code >= 500:
                    raise httpx.HTTPError(f"HTTP {r.status_code}")
                yield r
        except httpx.HTTPError as e:
            failure = f"download from {self.creds.base_url} failed: {type(e).__name__} {e}"
            raise ServerUnavailableError(
                f"{failure}; nothing was stored, run it again when the server is back",
                reason=failure,
            ) from None

    def _call(
        self, method: str, url: str, *, allow: tuple[int, ...] = (), **kw: Any
    ) -> httpx.Response:
        if not self.creds.api_key:
            raise NotLoggedInError(
                f"not signed in to {self.creds.base_url} on this machine: run "
                f"`flightlog login --host {self.creds.base_url}` (or set FLIGHTLOG_API_KEY)"
            )
        body = kw.pop("body", None)  # the content, made afresh for each attempt
        retries = kw.pop("retries", None)
        retries = self.retries if retries is None else retries
        attempt = 0
        while True:
            try:
                if body is not None:
                    kw["content"] = body()
                r = self._http.request(method, url, **kw)
            except httpx.TransportError as e:
                failure = f"cannot reach {self.creds.base_url}: {type(e).__name__} {e}".strip()
            else:
                if r.status_code < 500 and r.status_code != STALLED:
                    if r.status_code >= 400 and r.status_code not in allow:
                        raise self._error(r, url)
                    return r
                if r.status_code == 507:
                    raise self.storage_full()
                failure = f"{self.creds.base_url} failed: HTTP {r.status_code}"
            if attempt >= retries:
                raise ServerUnavailableError(
                    f"{failure} (after {attempt + 1} attempts); nothing was lost: the data stays "
                    "in the local store, run `flightlog sync` again when the server is back",
                    reason=failure,
                )
            time.sleep(backoff_delay(attempt))
            attempt += 1

    def storage_full(self) -> ServerStorageFullError:
        """A 507, of a request or of one segment of a batch."""
        return storage_full(self.creds.base_url)

    def _error(self, r: httpx.Response, url: str) -> Exception:
        return refusal(r, url, self.creds)
