"""The server's run listings: the local UI's filters, sorts and paging, computed in DuckDB
next to the server's store (`server_index.py`), with the server's permissions.

    GET /api/v1/projects
        {"projects": [{"entity", "project", "visibility", "member", "runs"}, ...]}
        the projects the caller may read: every project of their own entity and teams, and
        every open project; a private project of another entity is not listed (nor counted).

    GET /api/v1/runs/{entity}/{project}?filter=&sort=&offset=&limit=&after=&fields=
    GET /api/v1/runs?filter=&sort=&offset=&limit=&fields=  (every project the caller reads)
        {"entity", "project",                              (the first form only)
         "total": runs matching the filter, "offset", "limit",
         "runs": [RUN, ...], "next": the `after` of the next page, or null}

    RUN = {"entity", "project", "id", "name", "group", "job_type", "tags", "notes", "state",
           "created_at", "ended_at", "last_time", "duration", "steps", "values", "host",
           "user", "error", "warnings", "config": {key: value}, "summary": {key: value},
           "git": {...}, "command": "..."}       git and command: for members only

`fields=id` lists each run as `{"id"}` only: what `flightlog sync` asks to see which runs the
server still has, without their config and summary (a server before it ignores `fields`
and answers whole runs, which carry the id as well).

`filter` is the filter language of `flightlog runs --where` and the UI's filter bar
(store/filters.py), `sort` a field, `summary.KEY` or `config.KEY`, `-` first for descending.
Paging is `offset`/`limit` (limit 1..`limits.list_runs`, default 100). Without `sort` and
`offset`, runs come by id and `next` is set: `after=ID` gives the page after that id
(keyset paging, as the sync client pages). Every answer has an ETag: a request with
`If-None-Match` gets a 304 when nothing it lists changed. A private project is a 404 for a
non-member, as if it did not exist.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
from fastapi import APIRouter, Depends, Header
from fastapi.responses import Response

from flightlog.store.atomic import dumps
from flightlog.store.catalog import count_runs, select_runs
from flightlog.store.filters import FilterError
from flightlog.store.index import Index

from .accounts import Access, Accounts
from .limits import ServerLimits
from .receive import ReceivingStore, Refused, check_names
from .run_objects import run_items, with_etag
from .run_views import views_router
from .server_index import ServerIndex

API = "/api/v1"
MAX_OFFSET = 10_000_000

Checker = Callable[..., Access]


def runs_router(
    store: ReceivingStore,
    accounts: Accounts,
    user: Callable[..., str],
    access: Checker,
    limits: ServerLimits,
) -> APIRouter:
    """The listing routes; `user` is the bearer-key dependency, `access(who, entity, project,
    write=False)` the permission check (both from `server.create_app`)."""
    index = ServerIndex(store.root, store.changed_runs)
    store.on_change = index.touch
    router = APIRouter(prefix=API)
    reads = anyio.CapacityLimiter(limits.concurrent_reads)

    def readable(who: str) -> list[dict[str, Any]]:
        out = []
        for entity, _kind in accounts.entities():
            member = accounts.is_member(who, entity)
            for project, visibility in accounts.projects(entity):
                if member or visibility == "open":
                    out.append(
                        {"entity": entity, "project": project, "visibility": visibility,
                         "member": member}
                    )  # fmt: skip
        return out

    @router.get("/projects")
    async def projects(who: str = Depends(user)) -> Response:
        """The projects the caller may read, with their run counts."""

        def work() -> bytes:
            found = readable(who)
            idx = index.current()
            with idx.con.cursor() as cur:
                counts = {
                    (e, p): n
                    for e, p, n in cur.execute(
                        "SELECT entity, project, count(*) FROM runs GROUP BY ALL"
                    ).fetchall()
                }
            for p in found:
                p["runs"] = counts.get((p["entity"], p["project"]), 0)
            return dumps({"projects": found}, indent=None)

        return with_etag(await anyio.to_thread.run_sync(work, limiter=reads), None)

    def listing(
        scopes: list[tuple[str, str]],
        members: set[str],
        head: dict[str, Any],
        filter: str | None,
        sort: str | None,
        offset: int,
        limit: int,
        after: str | None,
        fields: str | None = None,
    ) -> bytes:
        if fields not in (None, "", "id"):
            raise Refused(f"fields may be id (ids only) or left out, not {fields!r}")
        ids = fields == "id"
        for name, value in (("filter", filter), ("sort", sort), ("after", after)):
            if value is not None and len(value) > limits.query_chars:
                raise Refused(f"{name} is {len(value)} characters; at most {limits.query_chars}")
        if not 1 <= limit <= limits.list_runs:
            raise Refused(f"limit must be between 1 and {limits.list_runs}, not {limit}")
        if not 0 <= offset <= MAX_OFFSET:
            raise Refused(f"offset must be between 0 and {MAX_OFFSET}, not {offset}")
        where = filter or None
        if after is None and not sort and not offset:
            after = ""  # by id, with `next` for keyset paging
        if after is not None:
            if sort:
                raise Refused("after= pages by run id: leave sort unset, or page with offset=")
            sort = "id"
            if after:
                past = f"id > {json.dumps(after)}"
                where = f"({where}) and {past}" if where else past

        def make(idx: Index) -> bytes:
            try:
                total = count_runs(idx, scopes=scopes, where=where)
                rows = select_runs(
                    idx,
                    scopes=scopes,
                    where=where,
                    sort=sort,
                    offset=offset,
                    limit=limit + 1,
                    describe=not ids,  # an ids-only page needs no run described
                )
            except FilterError as e:
                raise Refused(f"invalid filter: {e}", "invalid_filter") from None
            more = len(rows) > limit
            rows = rows[:limit]
            doc = {
                **head,
                "total": total,
                "offset": offset,
                "limit": limit,
                "runs": [{"id": r["id"]} for r in rows] if ids else run_items(idx, rows, members),
                "next": rows[-1]["id"] if more and after is not None else None,
            }
            return dumps(doc, indent=None)

        key = (tuple(scopes), tuple(sorted(members)), where, sort, offset, limit, after, ids)
        return index.cached(key, make)

    @router.get("/runs")
    async def all_runs(
        who: str = Depends(user),
        filter: str | None = None,
        sort: str | None = None,
        offset: int = 0,
        limit: int = 100,
        fields: str | None = None,
        if_none_match: str | None = Header(None),
        accept_encoding: str | None = Header(None),
    ) -> Response:
        """Runs of every project the caller reads (see the module's docstring)."""

        def work() -> bytes:
            found = readable(who)
            scopes = [(p["entity"], p["project"]) for p in found]
            members = {p["entity"] for p in found if p["member"]}
            return listing(scopes, members, {}, filter, sort, offset, limit, None, fields)

        body = await anyio.to_thread.run_sync(work, limiter=reads)
        return with_etag(body, if_none_match, accept_encoding)

    @router.get("/runs/{entity}/{project}")
    async def project_runs(
        entity: str,
        project: str,
        who: str = Depends(user),
        filter: str | None = None,
        sort: str | None = None,
        offset: int = 0,
        limit: int = 100,
        after: str | None = None,
        fields: str | None = None,
        if_none_match: str | None = Header(None),
        accept_encoding: str | None = Header(None),
    ) -> Response:
        """A page of one project's runs (see the module's docstring)."""
        check_names(entity, project)
        a = access(who, entity, project, write=False)
        head = {"entity": entity, "project": project}
        members = {entity} if a.member else set()

        def work() -> bytes:
            scope = [(entity, project)]
            return listing(scope, members, head, filter, sort, offset, limit, after, fields)

        body = await anyio.to_thread.run_sync(work, limiter=reads)
        return with_etag(body, if_none_match, accept_encoding)

    router.include_router(views_router(store, index, user, access, limits))
    return router
