"""The terminal UI on a team server (`flightlog tui URL`), through Pilot: the same screens as
on a store, the server's permissions, live runs, and a server that goes away and comes back."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flightlog.sync.remote import RemoteReader
from flightlog.tui import FlightlogApp, remote_source
from flightlog.tui.compare_screen import CompareScreen
from flightlog.tui.context_screens import SystemScreen
from flightlog.tui.remote_source import RemoteSource
from flightlog.tui.run_screen import RunScreen
from flightlog.tui.runs_table import RunsTable, columns_of

from .remote_world import World, make_world
from .servers import segment_file, tidy_table
from .test_tui import SIZE, column, rows, settle, type_text

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = make_world(tmp_path_factory.mktemp("remote-tui"))
    yield w
    w.server.stop()


def remote_app(world: World, user: str, page: int = remote_source.PAGE) -> FlightlogApp:
    environ = {"FLIGHTLOG_API_KEY": world.keys[user], **world_config(world)}
    return FlightlogApp(RemoteSource(RemoteReader(world.server.url, environ=environ), page=page))


def world_config(world: World) -> dict[str, str]:
    return {"FLIGHTLOG_CONFIG_DIR": os.environ.get("FLIGHTLOG_CONFIG_DIR", str(world.config))}


async def test_runs_table_run_screen_charts_and_compare(world: World) -> None:
    app = remote_app(world, "alice")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) >= 3)
        assert {"alice/secret", "vision/shared"} <= set(column(app, "project"))
        await pilot.press("slash")
        await type_text(pilot, "entity:vision")
        await pilot.press("enter")
        await settle(pilot, lambda: column(app, "project") == ["vision/shared"])
        await pilot.press("enter")
        await settle(
            pilot,
            lambda: (
                isinstance(app.screen, RunScreen)
                and app.screen.detail is not None
                and {c.key for c in app.screen.query("MetricChart")} == {"acc", "loss"}
            ),
        )
        assert app.screen.query_one("#metrics").row_count == 2
        assert "150" in str(app.screen.query_one("#overview").render())  # steps
        await pilot.press("escape")
        await pilot.press("slash", *["backspace"] * len("entity:vision"), "enter")  # no filter
        await settle(pilot, lambda: len(rows(app)) >= 3)
        await pilot.press("up", "up", "up", "space", "space", "c")  # the first two runs
        await settle(
            pilot,
            lambda: (
                isinstance(app.screen, CompareScreen) and len(app.screen.query("MetricChart")) > 0
            ),
        )
        diff = app.screen.query_one("#config-diff")
        assert "lr" in {str(diff.get_row_at(i)[0]) for i in range(diff.row_count)}


async def test_a_large_listing_shows_its_first_page_and_says_so(world: World) -> None:
    app = remote_app(world, "alice", page=2)  # as 500 of a server's 100,000 runs
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 2)
        status = str(app.screen.query_one("#status").render())
        assert "first 2 of" in status and "filter to narrow" in status


async def test_a_non_member_sees_only_the_open_project(world: World) -> None:
    app = remote_app(world, "bob")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) >= 1)
        await pilot.pause(0.5)
        assert set(column(app, "project")) == {"vision/shared"}


async def test_live_refresh_while_a_run_syncs(world: World, tmp_path: Path) -> None:
    """A run uploaded segment by segment (as the sync agent does) appears as running, its
    steps grow on the table and on its screen, and it ends finished."""
    c = world.server.client(world.keys["alice"], retries=2)

    def put_state(state: str, step: int) -> None:
        now = time.time()
        writer = {"writer": "w1", "state": state, "heartbeat_at": now, "step": step}
        if state == "finished":
            writer["finished_at"] = now
        meta = {"id": "live0001", "name": "live-run", "created_at": now, "config": {"lr": 1}}
        c.put_run("alice", "secret", "live0001", meta, [writer])

    def put_segment(seq: int) -> None:
        path = segment_file(
            tmp_path / "up", tidy_table(100, ("loss",), start=(seq - 1) * 100), seq=seq
        )
        c.put_segment("alice", "secret", "live0001", "history", path)

    app = remote_app(world, "alice")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) >= 3)
        put_state("running", 0)
        put_segment(1)
        await settle(pilot, lambda: "live-run" in column(app, "name"))
        i = column(app, "name").index("live-run")
        await settle(pilot, lambda: rows(app)[i][1] == "●" and column(app, "steps")[i] == "100")
        app.screen.query_one(RunsTable).move_cursor(row=i)  # newest first: the cursor
        await pilot.press("enter")  # stayed on its run; the run's own screen, while it runs
        await settle(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.detail)
        for seq in (2, 3):
            put_state("running", seq * 100 - 1)
            put_segment(seq)
        await settle(pilot, lambda: app.screen.detail.row["steps"] == 300)
        samples = tidy_table(20, ("system/cpu_percent",), writer="w1")
        system = segment_file(tmp_path / "sys", samples, seq=1)
        c.put_segment("alice", "secret", "live0001", "system", system)
        await pilot.press("S")  # the system metrics pane, from the server
        await settle(
            pilot,
            lambda: (
                isinstance(app.screen, SystemScreen)
                and {ch.key for ch in app.screen.query("MetricChart")} == {"system/cpu_percent"}
            ),
        )
        await pilot.press("escape")
        put_state("finished", 299)
        await settle(pilot, lambda: app.screen.detail.row["state"] == "finished")
        await pilot.press("escape")
        await settle(pilot, lambda: rows(app)[column(app, "name").index("live-run")][1] == "✓")
    c.close()


async def test_the_server_stops_and_comes_back_under_an_open_ui(world: World) -> None:
    app = remote_app(world, "alice")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) >= 3)
        shown = rows(app)
        world.server.stop()
        try:
            await settle(pilot, lambda: "unreachable" in app.sub_title)
            assert rows(app) == shown  # the last answer stays on screen
            assert "retrying" in app.sub_title
        finally:
            world.server.start()
        await settle(pilot, lambda: app.sub_title == world.server.url)
        await pilot.press("enter")  # and the UI works again
        await settle(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.detail)


async def test_a_sort_shows_the_best_runs_of_the_whole_server_a_page_at_a_time(
    world: World,
) -> None:
    """More runs than a page: the first page is the newest; sorting by a summary metric asks
    the server, so the top row is the best run it holds (the oldest here, never in the first
    page), both ways; L and reaching the last row load the next pages."""
    c = world.server.client(world.keys["alice"], retries=2)
    base = time.time() - 1000
    for i in range(12):  # run 0 is the oldest and has the lowest loss, run 1 the highest
        loss = 1e-6 if i == 0 else (99.0 if i == 1 else 1.0 + i)
        meta = {"id": f"many{i:04d}", "name": f"many-{i}", "created_at": base + i}
        writer = {"writer": "w1", "state": "finished", "heartbeat_at": base + i, "step": 1,
                  "finished_at": base + i, "summary": {"loss": loss}}  # fmt: skip
        c.put_run("alice", "many", f"many{i:04d}", meta, [writer])
    c.close()
    app = remote_app(world, "alice", page=5)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash")
        await type_text(pilot, "project:many")
        await pilot.press("enter")
        await settle(pilot, lambda: column(app, "name")[:1] == ["many-11"])
        assert len(rows(app)) == 5 and "many-0" not in column(app, "name")
        assert "first 5 of 12 runs" in str(app.screen.query_one("#status").render())
        table = app.screen.query_one(RunsTable)
        table.move_cursor(column=columns_of(app.screen.runs.metrics).index("loss"))
        await pilot.press("s")  # loss, ascending: the best run on the server first
        await settle(pilot, lambda: column(app, "name")[:1] == ["many-0"])
        assert len(rows(app)) == 5
        await pilot.press("s")  # descending: the worst
        await settle(pilot, lambda: column(app, "name")[:1] == ["many-1"])
        await pilot.press("L")
        await settle(pilot, lambda: len(rows(app)) == 10)
        assert column(app, "name")[:1] == ["many-1"]
        await pilot.press("end")  # the last row asks for the rest
        await settle(pilot, lambda: len(rows(app)) == 12)
        assert column(app, "name")[-1] == "many-0"
        assert "12 runs" in str(app.screen.query_one("#status").render())
