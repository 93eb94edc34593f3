"""The runs list is newest first, on a store as over a server (wandb's runs table is newest
first, and a store's first page of 500 runs must hold the run just started): before, a
store's list was oldest first and a server's newest first. `<` `>` still sort by the
columns around, and coming back to `started` sorts newest first again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from flightlog.sync.remote import RemoteReader
from flightlog.tui import FlightlogApp
from flightlog.tui.remote_source import RemoteSource

from .remote_world import World, make_world
from .tui_helpers import SIZE, column, rows, settle


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = make_world(tmp_path_factory.mktemp("runs-order"))
    yield w
    w.server.stop()


async def _listed(app: FlightlogApp) -> tuple[list[str], str]:
    """The runs the runs screen lists, in order (id and steps), and its status line."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 3)
        shown = [f"{i} {n}" for i, n in zip(column(app, "id"), column(app, "steps"), strict=True)]
        return shown, str(app.screen.query_one("#status").render())


async def test_a_store_and_a_server_list_runs_newest_first(world: World) -> None:
    local, local_status = await _listed(FlightlogApp(world.store))
    environ = {
        "FLIGHTLOG_API_KEY": world.keys["alice"],
        "FLIGHTLOG_CONFIG_DIR": os.environ.get("FLIGHTLOG_CONFIG_DIR", str(world.config)),
    }
    remote, remote_status = await _listed(
        FlightlogApp(RemoteSource(RemoteReader(world.server.url, environ=environ)))
    )
    assert local == remote, (local, remote)
    assert "sorted by started ↓" in local_status and "sorted by started ↓" in remote_status
    assert local[0].endswith(" 150"), local  # the run made last (remote_world.PLAN)


async def test_the_sort_keys_come_back_to_newest_first(samples: Path) -> None:
    app = FlightlogApp(samples)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 12)
        status = app.screen.query_one("#status")
        assert column(app, "name")[0] == "graceful-ocean-12"  # the newest sample run
        await pilot.press("greater_than_sign")
        await settle(pilot, lambda: "sorted by tags" in str(status.render()))
        await pilot.press("less_than_sign")
        await settle(pilot, lambda: "sorted by started ↓" in str(status.render()))
        assert column(app, "name")[0] == "graceful-ocean-12"
        await pilot.press("s")
        await settle(pilot, lambda: "sorted by started ↑" in str(status.render()))
        assert column(app, "name")[0] == "icy-dune-1"
