"""The HTTP client of a flightlog server (httpx), with the errors a user can act on.

Each failure becomes one exception of `flightlog._errors` whose message names the fix: no key
(`flightlog login`), unknown entity, no permission on the project (client_errors.py says
which). A network error, a 5xx, a 408 (a body that stalled) or a 429 (a rate limit) is
retried with backoff - no sooner than the answer's Retry-After, up to RETRY_AFTER_CAP - and
then raised as ServerUnavailableError - never as a permission problem, since the server did
not say no. A full disk on the server (507) is not retried at once: it is
ServerStorageFullError, a ServerUnavailableError, so `sync` stops and the agent backs off and
tries again later. An answer no flightlog server gives (a redirect, HTML, a 501, a proxy's
401 or 407), or a certificate this machine does not trust, is WrongServerError at once.

`reconnects` adds attempts, taken at once, for a request whose connection failed fast
(refused, reset, closed before an answer - a link that drops idle connections does that to
a kept-alive one): the agent takes one while the server was last seen up, so such a blip
costs no backoff. Every request on its way is listed by `waiting()`, with its attempt and
how long the server has been silent: `flightlog sync` says so while it waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from flightlog import __version__
from flightlog._errors import NotLoggedInError, ServerStorageFullError, ServerUnavailableError
from flightlog.store.atomic import dumps

from .client_errors import (
    check_url,
    error_code,
    link_fault,
    refusal,
    storage_full,
    wrong_server,
)
from .client_reads import ReadCalls
from .client_reads import join_page as join_page  # where tests and readers import it
from .credentials import Credentials
from .credentials import load as load_credentials
from .frames import BATCH_TYPE, file_chunks, runs_body
from .retry_policy import RATE_LIMITED, STALLED, retry_after
from .retry_policy import backoff_delay as backoff_delay  # where the agent and tests import it

API = "/api/v1"


#: 501 Not Implemented: a plain web server's answer to PUT or POST, never a flightlog
#: server's (a proxy's 502-504 are retried: the server behind it may come back)
NOT_IMPLEMENTED = 501


@dataclass(eq=False)  # one object per try: kept in sets by identity
class Attempt:
    """A request on its way (`ServerClient.waiting`): what a caller waiting on a silent
    server can tell the user."""

    method: str
    url: str  # the API path
    number: int  # 1 for the first try
    tries: int  # at most, before the request fails
    since: float  # time.monotonic() of its last sign of life: sent, or a body chunk taken


def _run_frame(name: str, doc: dict[str, Any]) -> bytes:
    """A run frame of a batch body: its header line, then the run's PUT body."""
    body = dumps(doc, indent=None)
    return dumps({"stream": "run", "name": name, "size": len(body)}, indent=None) + b"\n" + body


class ServerClient(ReadCalls):
    """One server, one key. `retries` bounds the attempts on network errors and 5xx;
    `reconnects` adds quick ones after a connection that failed fast (module docstring)."""

    def __init__(
        self,
        creds: Credentials,
        *,
        retries: int = 4,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        reconnects: int = 0,
    ) -> None:
        check_url(creds.base_url)  # else httpx says only "Invalid port"
        self.creds = creds
        self.retries = retries
        self.reconnects = reconnects
        #: no key for this server was stored at the last `relogin()` (see there)
        self.forgotten = False
        self.timeout = timeout
        self._waiting: set[Attempt] = set()
        self._waiting_lock = threading.Lock()
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

    @property
    def shown(self) -> str:
        """The server's URL as messages show it: without its password (credentials.shown_url)."""
        return self.creds.shown

    def relogin(self, environ: Mapping[str, str] | None = None) -> bool:
        """Take the key stored for this server now, if a `flightlog login` since changed it
        (the remote UI after a refused key, the agent before each run); False when it did
        not. `forgotten` then says whether no key is there any more: a `flightlog logout`
        since, if this client's key was the stored one."""
        fresh = load_credentials(environ, base_url=self.creds.base_url)
        self.forgotten = not fresh.api_key
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
        r = self._call("GET", "/whoami")
        doc = self.answer(r)
        if not isinstance(doc, dict) or "user" not in doc:  # another API's JSON
            raise wrong_server(r, self.creds.base_url)
        return doc

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
        return dict(self.answer(r))

    def segments(self, entity: str, project: str, run_id: str) -> dict[str, set[str]]:
        """The sealed segments the server has for a run, per stream."""
        r = self._call("GET", f"/runs/{entity}/{project}/{run_id}/segments")
        return {s: set(names) for s, names in self.answer(r, "segments").items()}

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
        return bool(self.answer(r).get("stored"))

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
        doc = self._batch(url, [(b"", items)], retries, "results")
        return None if doc is None else list(doc["results"])

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
        answer = self._batch(url, [(_run_frame("run.json", doc), items)], retries, "results")
        return None if answer is None else dict(answer)

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
        doc = self._batch(f"/sync/{entity}/{project}", body, retries, "runs")
        return None if doc is None else list(doc["runs"])

    def _batch(
        self,
        url: str,
        runs: list[tuple[bytes, list[tuple[str, Path]]]],
        retries: int | None,
        field: str,
    ) -> Any:
        """POST each run's first bytes then a frame per segment, streamed from the files; the
        answer's JSON, which holds `field`. None for a 405, or a 404 for want of the route
        (not of an entity or run): an older server."""
        total, body = runs_body(runs)
        r = self._call(
            "POST",
            url,
            body=body,
            headers={"Content-Type": BATCH_TYPE, "Content-Length": str(total)},
            allow=(404, 405),
            retries=retries,
        )
        if r.status_code in (404, 405):
            if error_code(r) not in ("not_found", "method_not_allowed"):
                raise self._error(r, url)  # no such entity or run, or not a flightlog server
            return None
        return self.document(r, field)

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
                if r.status_code >= 500 or r.status_code == RATE_LIMITED:
                    raise httpx.HTTPError(f"HTTP {r.status_code}")
                if r.status_code >= 400 or r.has_redirect_location:
                    r.read()
                    raise self._error(r, url)
                yield r
        except httpx.HTTPError as e:
            if wrong := link_fault(e, self.creds.base_url):
                raise wrong from None
            failure = f"download from {self.shown} failed: {type(e).__name__} {e}"
            raise ServerUnavailableError(
                f"{failure}; nothing was stored, run it again when the server is back",
                reason=failure,
            ) from None

    def _call(
        self, method: str, url: str, *, allow: tuple[int, ...] = (), **kw: Any
    ) -> httpx.Response:
        if not self.creds.api_key:
            raise NotLoggedInError(
                f"not signed in to {self.shown} on this machine: run "
                f"`flightlog login --host {self.shown}` (or set FLIGHTLOG_API_KEY)"
            )
        body = kw.pop("body", None)  # the content, made afresh for each attempt
        retries = kw.pop("retries", None)
        retries = self.retries if retries is None else retries
        attempt = quick = 0
        while True:
            wait = 0.0  # what the server asked for (Retry-After)
            try:
                tried = Attempt(method, url, attempt + 1, retries + 1, time.monotonic())
                r = self._attempt(body, tried, kw)
            except httpx.TransportError as e:
                if wrong := link_fault(e, self.creds.base_url):
                    raise wrong from None
                failure = f"cannot reach {self.shown}: {type(e).__name__} {e}".strip()
                if quick < self.reconnects and not isinstance(e, httpx.TimeoutException):
                    quick += 1  # failed fast: again at once, on a new connection - no
                    continue  # backoff step: a dropped idle connection is not a server down
            else:
                if r.status_code < 500 and r.status_code not in (STALLED, RATE_LIMITED):
                    if r.has_redirect_location:  # a proxy's login, or http:// for an https server
                        raise wrong_server(r, self.creds.base_url)
                    if r.status_code >= 400 and r.status_code not in allow:
                        raise self._error(r, url)
                    return r
                if r.status_code == 507:
                    raise self.storage_full()
                if r.status_code == NOT_IMPLEMENTED:
                    raise wrong_server(r, self.creds.base_url)
                failure = f"{self.shown} failed: HTTP {r.status_code}"
                if r.status_code == RATE_LIMITED:
                    failure = f"{self.shown} (or a proxy before it) is rate-limiting: HTTP 429"
                wait = retry_after(r)
            if attempt >= retries:
                raise ServerUnavailableError(
                    f"{failure} (after {attempt + 1} attempts); nothing was lost: the data stays "
                    "in the local store, run `flightlog sync` again when the server is back",
                    reason=failure,
                    wait=wait,
                )
            time.sleep(max(wait, backoff_delay(attempt)))
            attempt += 1

    def _attempt(self, body: Any, attempt: Attempt, kw: dict[str, Any]) -> httpx.Response:
        """One try of a request, listed in `waiting()` while it is on its way."""
        with self._waiting_lock:
            self._waiting.add(attempt)
        try:
            if body is not None:
                kw["content"] = _alive(body(), attempt)
            return self._http.request(attempt.method, attempt.url, **kw)
        finally:
            with self._waiting_lock:
                self._waiting.discard(attempt)

    def waiting(self) -> list[Attempt]:
        """The requests on their way now, the longest silent first."""
        with self._waiting_lock:
            out = list(self._waiting)
        return sorted(out, key=lambda a: a.since)

    def answer(self, r: httpx.Response, field: str | None = None) -> Any:
        """The answer's JSON, or its `field` (see document)."""
        doc = self.document(r, *(field,) if field else ())
        return doc if field is None else doc[field]

    def document(self, r: httpx.Response, *fields: str) -> Any:
        """The answer's JSON, holding every one of `fields`: an answer that is not JSON, or
        lacks one (a proxy's or a captive portal's page with a 2xx, another API's JSON), is
        not a flightlog server's - WrongServerError naming the URL and the fix, never a bare
        ValueError or KeyError."""
        try:
            doc = r.json()
        except ValueError:
            raise wrong_server(r, self.creds.base_url) from None
        if fields and (not isinstance(doc, dict) or any(f not in doc for f in fields)):
            raise wrong_server(r, self.creds.base_url)
        return doc

    def storage_full(self) -> ServerStorageFullError:
        """A 507, of a request or of one segment of a batch."""
        return storage_full(self.creds.base_url)

    def _error(self, r: httpx.Response, url: str) -> Exception:
        return refusal(r, url, self.creds)


def _alive(chunks: Iterable[bytes], attempt: Attempt) -> Iterator[bytes]:
    """A request body's chunks, each taken (the server reads on) marking `attempt` alive."""
    for chunk in chunks:
        attempt.since = time.monotonic()
        yield chunk
