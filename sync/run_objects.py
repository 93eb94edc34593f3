"""The API's RUN objects (see runs_api.py) and the ETag every read of the listing API
carries: what the listing and the run view share."""

from __future__ import annotations

import gzip
import hashlib
import json
from typing import Any

from fastapi.responses import Response

from flightlog.store.catalog import values_of
from flightlog.store.index import Index

from .receive import MEMBER_ONLY_FIELDS

#: answers smaller than this are sent as they are (gzip would not pay for its header)
GZIP_FROM = 1024

#: index columns a listing gives for each run (the local `flightlog runs --json`'s)
RUN_FIELDS = (
    "entity", "project", "id", "name", "group", "job_type", "tags", "notes", "state",
    "created_at", "ended_at", "last_time", "duration", "steps", "values", "host", "user",
    "error", "warnings",
)  # fmt: skip


def run_items(idx: Index, rows: list[dict[str, Any]], members: set[str]) -> list[dict[str, Any]]:
    """Index rows as the API's RUN objects; git and command only for runs of `members`."""
    keys = [r["run_key"] for r in rows]
    config, summary = values_of(idx, "config", keys), values_of(idx, "summary", keys)
    metas = _metas(idx, [r["run_key"] for r in rows if r["entity"] in members])
    out = []
    for r in rows:
        item = {k: r[k] for k in RUN_FIELDS}
        item["config"] = config[r["run_key"]]
        item["summary"] = summary[r["run_key"]]
        meta = metas.get(r["run_key"])
        if meta is not None:
            item.update({k: meta[k] for k in MEMBER_ONLY_FIELDS if k in meta})
        out.append(item)
    return out


def _metas(idx: Index, member_keys: list[str]) -> dict[str, dict[str, Any]]:
    """run.json of the runs whose member-only fields the caller may see."""
    if not member_keys:
        return {}
    with idx.con.cursor() as cur:
        rows = cur.execute(
            "SELECT run_key, meta FROM runs WHERE run_key IN (SELECT unnest(?::VARCHAR[]))",
            [member_keys],
        ).fetchall()
    out = {}
    for key, meta in rows:
        try:
            doc = json.loads(meta)
        except ValueError:
            continue
        if isinstance(doc, dict):
            out[key] = doc
    return out


def with_etag(
    body: bytes, if_none_match: str | None, accept_encoding: str | None = None
) -> Response:
    """The body with a strong ETag (its sha256), or 304 when the client has it already;
    gzipped for a client that takes it (JSON of numbers shrinks 3-5x: a chart's buckets)."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    if accept_encoding and "gzip" in accept_encoding and len(body) > GZIP_FROM:
        body = gzip.compress(body, compresslevel=5)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)
