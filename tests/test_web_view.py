"""The browser view at `http://server/`, in a real headless Chromium (Debian's `chromium` and
`chromium-driver`, driven by selenium): log in with a key, the runs table, the filter, a
run's charts and console, compare, a non-member's session on a private project, logout.
Screenshots land in the test's tmp dir."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import flightlog
from flightlog.store.layout import RunPaths, iter_run_dirs
from flightlog.sync.client import ServerClient
from flightlog.sync.credentials import Credentials
from flightlog.sync.uploader import load_local, sync_run

from .browser import (
    READY,
    browser_fixture,  # noqa: F401 (the `browser` fixture)
    login,
    needs_chromium,
    open_hash,
    text_of,
    wait_for,
)
from .servers import LiveServer

pytestmark = pytest.mark.slow

RUNS = {"bright-lr-1": 0.1, "calm-lr-2": 0.001, "<b>bold</b>-3": 0.01}


def make_runs(store: Path, server: LiveServer, key: str) -> dict[str, str]:
    """Three finished runs of alice/vision, trained here and uploaded by the real uploader;
    name -> run id. One name is markup, to show it is displayed as text; one has system
    metrics."""
    ids = {}
    for name, lr in RUNS.items():
        sampled = name == "calm-lr-2"
        run = flightlog.init(
            project="vision",
            entity="alice",
            name=name,
            dir=store,
            mode="offline",
            config={"lr": lr, "model": "cnn"},
            settings={"stats_interval": 0.1 if sampled else 0, "console": "off"},
        )
        for step in range(200):
            run.log({"loss": 1 / (1 + step * lr), "acc": step / 200})
        if name.startswith("<b>"):
            run.log({"loss": float("nan")})  # the server's JSON says NaN: the page copes
        while sampled and not list((Path(run.dir) / "system").glob("*")):
            time.sleep(0.1)  # a system sample or more
        time.sleep(0.3 if sampled else 0)
        run.finish()
        ids[name] = run.id
    with ServerClient(Credentials(server.url, key, "file"), retries=0) as c:
        for paths in iter_run_dirs(store, "vision"):  # not .numbers/ (run numbering)
            assert sync_run(c, load_local(paths), "alice").complete
    return ids


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[LiveServer, dict[str, str], dict[str, str]]]:
    srv = LiveServer(tmp_path / "server").start()
    keys = {"alice": srv.user("alice"), "bob": srv.user("bob")}
    try:
        yield srv, keys, make_runs(tmp_path / "store", srv, keys["alice"])
    finally:
        srv.stop()


def table_names(driver: Any) -> list[str]:
    return text_of(driver, "#runs td.name").splitlines()


@needs_chromium
def test_login_runs_table_filter_chart_compare_and_logout(site, browser, tmp_path: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    srv, keys, _ = site
    login(browser, srv.url, keys["alice"])
    assert text_of(browser, "#who") == "alice"
    cookie = browser.get_cookie("flightlog_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert keys["alice"] not in cookie["value"]
    assert browser.execute_script("return document.cookie") == ""  # HttpOnly: not for scripts

    # the home page lists the projects alice may read; the project opens from there
    wait_for("the project list", lambda: browser.find_elements(By.LINK_TEXT, "alice/vision"))
    browser.find_element(By.CSS_SELECTOR, "ul.projects a").click()
    wait_for("three runs", lambda: len(table_names(browser)) == 3)
    assert sorted(table_names(browser)) == sorted(RUNS)  # the markup name shown as text
    assert not browser.find_elements(By.CSS_SELECTOR, "#runs b")
    rows = {
        r.find_element(By.CSS_SELECTOR, "td.name").text: r.text
        for r in browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr")
    }
    assert rows["<b>bold</b>-3"].endswith("NaN")  # its last loss
    browser.save_screenshot(str(tmp_path / "runs-table.png"))

    # the filter runs on the server: Enter narrows the rows
    box = browser.find_element(By.ID, "filter")
    box.send_keys("config.lr > 0.05", Keys.ENTER)
    wait_for("one row", lambda: table_names(browser) == ["bright-lr-1"])
    # a filter that does not parse: the server's message, pointing at the place
    box = browser.find_element(By.ID, "filter")
    box.clear()
    box.send_keys("config.lr >", Keys.ENTER)
    problem = wait_for("the filter error", lambda: text_of(browser, "#filter-error"))
    assert "expected a value after '>'" in problem and "^" in problem

    # sorting by a column header (server-side)
    open_hash(browser, srv.url, "#/p/alice/vision?sort=name")
    assert table_names(browser) == sorted(RUNS)
    open_hash(browser, srv.url, "#/p/alice/vision?sort=-name")
    assert table_names(browser) == sorted(RUNS, reverse=True)

    # a run: its charts have drawn points; no console uploaded says so
    browser.find_element(By.LINK_TEXT, "calm-lr-2").click()
    charts = wait_for(
        "drawn charts",
        lambda: browser.find_elements(By.CSS_SELECTOR, "#charts svg.plot[data-points]"),
    )
    assert {e.text for e in browser.find_elements(By.CSS_SELECTOR, "#charts figcaption")} == {
        "acc",
        "loss",
    }
    assert all(int(c.get_attribute("data-points")) > 100 for c in charts)
    assert browser.find_elements(By.CSS_SELECTOR, "#charts polyline.line")
    assert wait_for("the console", lambda: text_of(browser, "#console")) == "no console uploaded"
    system = browser.find_elements(By.CSS_SELECTOR, "#system figure")  # drawn before the console
    assert "system/cpu_percent" in {f.find_element(By.TAG_NAME, "figcaption").text for f in system}
    assert all(
        int(f.find_element(By.CSS_SELECTOR, "svg").get_attribute("data-points")) >= 1
        for f in system
    )
    browser.save_screenshot(str(tmp_path / "run.png"))
    browser.find_element(By.ID, "charts").screenshot(str(tmp_path / "chart.png"))
    assert (tmp_path / "chart.png").stat().st_size > 1000

    # compare two runs: overlaid charts and the config that differs
    open_hash(browser, srv.url, "#/p/alice/vision?sort=name")
    for box in browser.find_elements(By.CSS_SELECTOR, "input.pick")[:2]:
        box.click()
    browser.find_element(By.ID, "compare").click()
    wait_for("overlaid charts", lambda: browser.find_elements(By.CSS_SELECTOR, "#charts svg"))
    wait_for(
        "two lines per chart",
        lambda: (
            len(browser.find_elements(By.CSS_SELECTOR, "#charts figure"))
            and all(
                len(f.find_elements(By.CSS_SELECTOR, "polyline.line")) == 2
                for f in browser.find_elements(By.CSS_SELECTOR, "#charts figure")
            )
        ),
    )
    diff = text_of(browser, "#config-diff")
    assert "lr" in diff and "model" not in diff  # only what differs
    browser.save_screenshot(str(tmp_path / "compare.png"))

    # logout: the session is gone on the server too
    browser.find_element(By.ID, "logout").click()
    wait_for("the login form again", lambda: browser.find_elements(By.ID, "key"))
    r = httpx.get(
        f"{srv.url}/api/v1/whoami", cookies={"flightlog_session": cookie["value"]}, timeout=30
    )
    assert r.status_code == 401


@needs_chromium
def test_a_non_members_session_cannot_read_a_private_project(site, browser):
    from selenium.webdriver.common.by import By

    srv, keys, ids = site
    login(browser, srv.url, keys["bob"])
    open_hash(browser, srv.url, "#/p/alice/vision")
    # a private project does not exist for a non-member: the same answer as a missing one
    problem = wait_for("the refusal", lambda: text_of(browser, "#problem"))
    assert problem == "no project alice/vision"
    assert not browser.find_elements(By.CSS_SELECTOR, "#runs")
    open_hash(browser, srv.url, f"#/r/alice/vision/{ids['calm-lr-2']}")
    assert text_of(browser, "#problem") == "no project alice/vision"
    assert "calm-lr-2" not in browser.page_source
    open_hash(browser, srv.url, "#/")
    assert "alice/vision" not in text_of(browser, "#main")  # not among bob's projects
    # the API with bob's session cookie, in the same browser
    for path in ("", f"/{ids['calm-lr-2']}", f"/{ids['calm-lr-2']}/chart?keys=loss"):
        browser.get(f"{srv.url}/api/v1/runs/alice/vision{path}")
        assert "project_not_found" in browser.page_source, path
        assert "calm-lr-2" not in browser.page_source and "buckets" not in browser.page_source


@needs_chromium
def test_a_stopped_server_is_a_status_and_the_page_recovers_when_it_returns(site, browser):
    from selenium.webdriver.common.by import By

    srv, keys, _ = site
    login(browser, srv.url, keys["alice"])
    open_hash(browser, srv.url, "#/p/alice/vision")
    srv.stop()
    browser.execute_script("location.hash = '#/p/alice/vision?sort=name'")
    status = wait_for("the status line", lambda: text_of(browser, "#status"))
    assert "does not answer" in status
    assert browser.find_elements(By.ID, "runs")  # what was shown stays
    srv.start()  # same port, same store: the session survives the restart
    wait_for("the status cleared", lambda: text_of(browser, "#status") == "")
    wait_for("the page drawn again", lambda: browser.execute_script(READY))
    wait_for("the table again", lambda: sorted(table_names(browser)) == sorted(RUNS))
    assert "sort=name" in browser.current_url


@needs_chromium
def test_the_console_pane_shows_the_logs_tail_as_plain_text(tmp_path: Path, browser):
    """Against the run-files endpoint (GET .../files/output.log, sync/blob_routes.py)."""
    pytest.importorskip("flightlog.sync.blob_routes", reason="no run-files endpoint here yet")
    srv = LiveServer(tmp_path / "server").start()
    try:
        key = srv.user("alice")
        store = tmp_path / "store"
        run = flightlog.init(
            project="vision",
            entity="alice",
            dir=store,
            mode="offline",
            settings={"stats_interval": 0, "console": "wrap"},
        )
        for i in range(20000):  # ~700 KB: more than the pane's 256 KiB
            print(f"epoch {i} <b>loss</b> \x1b[31mred\x1b[0m")
        run.log({"loss": 1.0})
        run.finish()
        with ServerClient(Credentials(srv.url, key, "file"), retries=0) as c:
            assert sync_run(c, load_local(RunPaths(Path(run.dir))), "alice").complete
        login(browser, srv.url, key)
        open_hash(browser, srv.url, f"#/r/alice/vision/{run.id}")
        text = wait_for("the console", lambda: text_of(browser, "#console"))
        assert text.startswith("… (its last 256 KiB)\nepoch ")  # cut at a line start
        assert text.endswith("epoch 19999 <b>loss</b> red")  # markup as text, no colour codes
        assert browser.execute_script(
            "const c = document.getElementById('console');"
            "return c.scrollTop > 0 && c.scrollTop + c.clientHeight >= c.scrollHeight - 2"
        ), "the pane opens at the end of the log"
    finally:
        srv.stop()
