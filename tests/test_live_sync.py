"""What a teammate sees on the server while a run still trains: its state (running, with a
recent heartbeat) and its system metrics, shipped by age like history, and the browser view
following it until it finishes - a real online training process, the detached agent it
starts, a real server and a headless Chromium."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import Popen
from typing import NamedTuple

import httpx
import pytest

import flightlog
from flightlog.store.layout import RunPaths
from flightlog.sync.lock import LOG_FILE

from .browser import (
    browser_fixture,  # noqa: F401 (the `browser` fixture)
    login,
    needs_chromium,
    open_hash,
    text_of,
)
from .conftest import settled, spawn
from .servers import LiveServer, stop_store_agent

pytestmark = pytest.mark.slow

TRAIN = """
import os, time, flightlog
run = flightlog.init(project="live", settings={{"stats_interval": 0.2, "segment_seconds": 1}})
assert run.settings.mode == "online", run.settings.mode
print(run.id, flush=True)
i = 0
while not os.path.exists({go!r}):
    run.log({{"loss": 1.0 / (i + 1)}})
    i += 1
    time.sleep(0.02)
run.finish()
"""


class Training(NamedTuple):
    server: LiveServer
    key: str
    run_id: str
    go: Path
    child: Popen[str]


def wait_until(
    what: str, cond: Callable[[], object], timeout: float = 90.0, why: Callable[[], str] = str
) -> object:
    """`cond()` once it is true; else fail saying `what`, and what `why()` tells of the cause."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what}\n{why()}")


@pytest.fixture
def training(server: LiveServer, key: str, tmp_path: Path) -> Iterator[Training]:
    """An online training script (with the agent it starts) logging to `server` until the
    test touches `go`."""
    go = tmp_path / "go"
    child = spawn(TRAIN.format(go=str(go)))
    try:
        run_id = child.stdout.readline().strip() if child.stdout else ""
        assert run_id, child.stderr.read() if child.stderr else ""
        yield Training(server, key, run_id, go, child)
    finally:
        go.touch()
        if child.poll() is None:
            child.kill()
        stop_store_agent(tmp_path / "store")  # the detached agent the online run started


def test_a_training_runs_state_and_system_metrics_reach_the_server_while_it_runs(
    training: Training,
):
    server, key, run_id, go, child = training
    api = f"{server.url}/api/v1/runs/alice/live/{run_id}"
    auth = {"Authorization": f"Bearer {key}"}
    on_server = RunPaths.of(server.root, "live", run_id, "alice")

    def get(path: str = "", **params: str) -> dict:
        r = httpx.get(api + path, params=params, headers=auth, timeout=30)
        return r.json() if r.status_code == 200 else {}

    # while the script trains: sealed system segments on the server, readable as a chart
    wait_until("a system segment on the server", lambda: list(on_server.system.glob("*.parquet")))
    assert get()["state"] == "running"
    chart = wait_until(
        "system metrics in a chart",
        lambda: get("/chart", keys="system/cpu_percent", stream="system").get("buckets"),
    )
    assert sum(b["n"] for b in chart) >= 1
    # the heartbeat keeps arriving: the writer state on the server is fresh, again and again
    first = max(json.loads(p.read_text())["heartbeat_at"] for p in on_server.writers.glob("*"))
    wait_until(
        "a newer heartbeat on the server",
        lambda: (
            max(json.loads(p.read_text())["heartbeat_at"] for p in on_server.writers.glob("*"))
            > first
        ),
    )
    assert child.poll() is None, "the script ended before the test looked"
    go.touch()
    assert child.wait(timeout=60) == 0, child.stderr.read() if child.stderr else ""
    wait_until("the finished state on the server", lambda: get().get("state") == "finished")


@needs_chromium
def test_the_browser_view_follows_a_running_run_until_it_finishes(training: Training, browser):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    server, key, run_id, go, child = training
    login(browser, server.url, key)
    auth = {"Authorization": f"Bearer {key}"}
    summary = f"{server.url}/api/v1/runs/alice/live/{run_id}"
    wait_until(
        "the run's first metrics on the server",
        lambda: (
            httpx.get(f"{summary}/chart?keys=loss", headers=auth, timeout=30).json().get("buckets")
        ),
    )
    open_hash(browser, server.url, f"#/r/alice/live/{run_id}")
    assert text_of(browser, "h2.state-running") and "refreshing" in text_of(browser, "#status")

    def x_max() -> float:
        """The chart's last step; 0 while a refresh has it replaced (no element for a moment)."""
        try:
            svg = browser.find_element(By.CSS_SELECTOR, "#charts svg.plot")
            return float(svg.get_attribute("data-x-max") or 0)
        except (NoSuchElementException, StaleElementReferenceException):
            return 0.0

    def seen() -> str:
        """What the page, the server and the agent said (it failed once in a full suite under
        load, not since, alone or with CPU burners)."""
        state = httpx.get(summary, headers=auth, timeout=30).json().get("state")
        log = go.parent / "store" / LOG_FILE
        agent = log.read_text()[-1500:] if log.exists() else "(no agent log)"
        return (
            f"page: {text_of(browser, 'main')[:600]!r}\nstatus: {text_of(browser, '#status')!r}"
            f"\nserver state: {state}\nagent log:\n{agent}"
        )

    first = wait_until("the chart drawn", x_max)
    wait_until("the chart redrawn with newer steps", lambda: x_max() > first)
    go.touch()
    assert child.wait(timeout=60) == 0
    wait_until(
        "the page showing it finished", lambda: text_of(browser, "h2.state-finished"), why=seen
    )
    wait_until(
        "no more refreshing", lambda: "refreshing" not in text_of(browser, "#status"), why=seen
    )


def test_a_finished_writers_state_reaches_the_server_at_once_not_with_the_next_summary(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
):
    """Summaries are sent at most every META_EVERY seconds; a final state is not held back
    with them: until it arrives the server shows the run running, or crashed (the page
    stops following it). META_EVERY is an hour here: only the final state's own event
    can bring it."""
    import threading

    from flightlog.sync import agent as agent_module

    key = server.user("alice")
    client = server.client(key, retries=2)
    run = flightlog.init(project="p", mode="offline")
    run.log({"loss": 1.0})
    run.finish(quiet=True)
    settled()  # the writer thread seals after finish()
    state_file = next(Path(run.dir, "writers").glob("*.json"))
    final = json.loads(state_file.read_text())

    def rewrite(**changes: object) -> None:  # as the writer does: a new file renamed in
        tmp = state_file.with_name(".state.tmp")
        tmp.write_text(json.dumps({**final, **changes}))
        tmp.replace(state_file)

    # still training, on another host: running while its heartbeat is fresh
    rewrite(state="running", host="elsewhere", heartbeat_at=time.time(), finished_at=None)
    monkeypatch.setattr(agent_module, "META_EVERY", 3600.0)
    agent = agent_module.Agent(Path(run.dir).parents[2], client, log=lambda _m: None)
    thread = threading.Thread(target=agent.run, daemon=True)
    url = f"{server.url}/api/v1/runs/alice/p/{run.id}"

    def state() -> str:
        r = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        return r.json().get("state", "") if r.status_code == 200 else ""

    try:
        thread.start()
        wait_until("the run running on the server", lambda: state() == "running")
        rewrite(host="elsewhere")  # finished, as finish() writes it last
        wait_until("the finished state on the server", lambda: state() == "finished")
    finally:
        agent.stop.set()
        thread.join(timeout=30)
        client.close()
