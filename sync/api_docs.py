"""`/docs`: the API's routes as one self-contained page, drawn by the server.

Why not FastAPI's Swagger UI or ReDoc: both pages load their scripts and styles from a CDN,
and the machines this server runs on are air-gapped - the page came up blank, and on a
machine that does reach the internet it told a third party who reads the team's API docs.
This page is plain HTML made from the app's own OpenAPI description (method, path, summary
and parameters of each route), with no script, no external style and the browser view's
Content-Security-Policy. The full description stays at `/openapi.json`, for any OpenAPI
viewer a reader has offline.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from .web_routes import PAGE_HEADERS

_METHODS = ("get", "put", "post", "delete", "patch")


def _rows(spec: dict[str, Any]) -> list[str]:
    rows = []
    for path, ops in spec.get("paths", {}).items():
        for method in _METHODS:
            op = ops.get(method)
            if op is None:
                continue
            params = ", ".join(
                escape(p.get("name", "")) + ("" if p.get("required") else "?")
                for p in op.get("parameters", [])
                if p.get("in") == "query"
            )
            what = (op.get("description") or "").strip().split("\n")[0] or op.get("summary", "")
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{escape(path)}</code>"
                f"</td><td>{escape(what)}</td><td><code>{params}</code></td></tr>"
            )
    return rows


def page(spec: dict[str, Any]) -> str:
    """The HTML of the docs page for an OpenAPI description."""
    info = spec.get("info", {})
    title = escape(f"{info.get('title', '')} {info.get('version', '')}")
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body><h1>{title}</h1>"
        f"<p>{escape(info.get('description', ''))} Every request carries "
        "<code>Authorization: Bearer KEY</code>. The full description (bodies, answers): "
        '<a href="openapi.json">openapi.json</a>.</p><table>'
        "<tr><th>method</th><th>path</th><th>what</th><th>query</th></tr>"
        + "".join(_rows(spec))
        + "</table></body></html>"
    )


def install_api_docs(app: FastAPI) -> None:
    """Serve `page` at /docs (the app is made with docs_url=None and redoc_url=None)."""

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page(app.openapi()), headers=PAGE_HEADERS)
