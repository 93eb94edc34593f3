"""The browser view against hostile content, in a real headless Chromium: a run's files are
served from the page's own origin, where a logged-in browser sends its session cookie with
every read."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from flightlog.sync.client import ServerClient
from flightlog.sync.credentials import Credentials

from .browser import browser_fixture, login, needs_chromium  # noqa: F401 (the `browser` fixture)
from .servers import LiveServer

pytestmark = pytest.mark.slow

#: a run file that, were its script run in the server's origin, would act with the session
#: of whoever opens it: read their private projects, and send them anywhere
PAGE = b"""<!doctype html><html><head><title>report</title></head><body><p>the report</p>
<script>document.title = "pwned";
fetch("/api/v1/whoami").then((r) => r.text()).then((t) => { document.title = "pwned " + t; });
</script></body></html>"""
DRAWING = b"""<svg xmlns="http://www.w3.org/2000/svg" width="100" height="40">
<script>document.title = "pwned";</script><text x="2" y="20">the drawing</text></svg>"""


def upload_files(url: str, key: str, run: tuple[str, str, str], files: dict[str, bytes]) -> None:
    """A run's files, as `flightlog sync` uploads them: blobs, then the run's file list."""
    entity, project, run_id = run
    auth = {"Authorization": f"Bearer {key}"}
    listed = {}
    for name, body in files.items():
        sha = hashlib.sha256(body).hexdigest()
        r = httpx.put(
            f"{url}/api/v1/blobs/{entity}/{project}/{sha}",
            params={"size": len(body), "offset": 0},
            content=body,
            headers=auth,
            timeout=60,
        )
        assert r.status_code == 201, r.text
        listed[name] = {"sha256": sha}
    r = httpx.put(
        f"{url}/api/v1/runs/{entity}/{project}/{run_id}/files",
        json={"files": listed},
        headers=auth,
        timeout=60,
    )
    assert r.status_code == 200, r.text


@needs_chromium
def test_a_run_file_of_markup_runs_no_script_in_the_servers_origin(tmp_path: Path, browser) -> None:
    """Mallory, who may write an open project, saves a page and a drawing in her run; Bob,
    logged in to the browser view, follows her link to them. They are shown (or offered),
    but no script of theirs runs with Bob's session."""
    srv = LiveServer(tmp_path / "server").start()
    try:
        mallory, bob = srv.user("mallory"), srv.user("bob")
        srv.accounts.set_visibility("mallory", "open", "open")
        with ServerClient(Credentials(srv.url, mallory, "file"), retries=0) as c:
            c.put_run("mallory", "open", "r1", {"id": "r1", "name": "r1"}, [])
        upload_files(
            srv.url,
            mallory,
            ("mallory", "open", "r1"),
            {"report.html": PAGE, "chart.svg": DRAWING, "x.js": b"alert(1)"},
        )
        login(browser, srv.url, bob)
        files = f"{srv.url}/api/v1/runs/mallory/open/r1/files"
        browser.get(f"{files}/report.html")  # returns once the page has loaded
        assert "the report" in browser.page_source
        assert "pwned" not in browser.title, browser.title
        browser.get(f"{files}/chart.svg")
        assert "the drawing" in browser.page_source
        assert "pwned" not in browser.title, browser.title
        # what a script would have read: the file answers say what they may not do
        r = httpx.get(f"{files}/report.html", headers={"Authorization": f"Bearer {bob}"})
        assert r.status_code == 200 and r.content == PAGE
        assert "sandbox" in r.headers["content-security-policy"], r.headers
        assert r.headers["x-content-type-options"] == "nosniff"
        # a script or a style the page's own policy would let in from this origin is text
        r = httpx.get(f"{files}/x.js", headers={"Authorization": f"Bearer {bob}"})
        assert r.headers["content-type"].startswith("text/plain"), r.headers
    finally:
        srv.stop()


@needs_chromium
def test_a_run_whose_start_time_is_out_of_range_leaves_the_page_working(
    tmp_path: Path, browser
) -> None:
    """A run.json's `created_at` is whatever its writer put there (a script or an importer
    that wrote milliseconds or microseconds since the epoch): the runs table and the run's
    page show the others and that one, rather than "Invalid time value" for good."""
    from .browser import open_hash, text_of, wait_for

    srv = LiveServer(tmp_path / "server").start()
    try:
        alice = srv.user("alice")
        with ServerClient(Credentials(srv.url, alice, "file"), retries=0) as c:
            for run_id, created in (("good", 1795657303.5), ("micros", 1795657303.5e6)):
                meta = {"id": run_id, "name": f"{run_id}-run", "created_at": created}
                c.put_run("alice", "p", run_id, meta, [])
        login(browser, srv.url, alice)
        open_hash(browser, srv.url, "#/p/alice/p")
        names = wait_for("the runs table", lambda: text_of(browser, "#runs td.name"))
        assert sorted(names.splitlines()) == ["good-run", "micros-run"]
        assert "2026-11-26" in text_of(browser, "#runs")  # the good run's start, as before
        open_hash(browser, srv.url, "#/r/alice/p/micros")
        assert "micros-run" in text_of(browser, "#main h2")
    finally:
        srv.stop()


@needs_chromium
def test_a_metric_whose_name_holds_a_comma_is_charted_and_read(tmp_path: Path, browser) -> None:
    """Metric names are any text (`run.log({"f1,macro": ...})`); the read routes took the
    names asked for comma-separated only, so such a metric was never found: its chart was
    missing from the run's page, and its history read empty, with no error."""
    from selenium.webdriver.common.by import By

    from .browser import open_hash, wait_for
    from .servers import segment_file, tidy_table

    srv = LiveServer(tmp_path / "server").start()
    try:
        alice = srv.user("alice")
        names = ("loss", "f1,macro")
        with ServerClient(Credentials(srv.url, alice, "file"), retries=0) as c:
            writer = {"writer": "w1", "state": "finished", "rows": 200, "heartbeat_at": 1.0}
            writer["summary"] = {"loss": 99.0, "f1,macro": 99.0}
            c.put_run("alice", "p", "r1", {"id": "r1", "name": "r1"}, [writer])
            seg = segment_file(tmp_path, tidy_table(100, keys=names), seq=1)
            assert c.put_segment("alice", "p", "r1", "history", seg)
        r = httpx.get(
            f"{srv.url}/api/v1/runs/alice/p/r1/history",
            params={"key": "f1,macro"},
            headers={"Authorization": f"Bearer {alice}"},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        rows = r.json()["rows"]
        assert [row["f1,macro"] for row in rows] == [float(s) for s in range(100)], rows[:2]
        assert all("loss" not in row for row in rows), rows[:2]
        login(browser, srv.url, alice)
        open_hash(browser, srv.url, "#/r/alice/p/r1")
        figures = wait_for(
            "the charts", lambda: browser.find_elements(By.CSS_SELECTOR, "#charts figcaption")
        )
        assert sorted(f.text for f in figures) == ["f1,macro", "loss"]
    finally:
        srv.stop()
