"""Nothing the server serves needs the internet: its machines are air-gapped."""

from __future__ import annotations

import re

import httpx

from flightlog.sync.web_routes import STATIC

from .servers import LiveServer

#: an address a browser would fetch from; the SVG namespace is a name, never fetched
EXTERNAL = re.compile(r"(?:https?:)?//(?!www\.w3\.org/2000/svg)[a-z0-9.-]+\.[a-z]{2,}", re.I)


def test_no_page_the_server_serves_references_an_external_host(server: LiveServer) -> None:
    """FastAPI's /docs (Swagger UI) and /redoc load their scripts from a CDN: a blank page
    on an air-gapped cluster, and a call to a third party where there is a network."""
    pages = ["/", "/docs", "/redoc", "/openapi.json"] + [f"/web/{name}" for name in STATIC]
    served = {}
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for path in pages:
            r = http.get(path)
            if r.status_code == 200:
                served[path] = r.text
            else:
                assert r.status_code == 404, (path, r.status_code)
    assert {"/", "/docs", "/openapi.json"} <= served.keys(), served.keys()
    external = {p: EXTERNAL.findall(text) for p, text in served.items() if EXTERNAL.search(text)}
    assert external == {}
    docs = served["/docs"]  # still a description of the API, drawn by the server
    assert "/api/v1/runs/{entity}/{project}/{run_id}" in docs and "openapi.json" in docs, docs
