"""The terminal UI on a team server (`flightlog tui URL`) while the user's key is revoked,
then replaced with `flightlog login`. The runs screen reloads every 2 s and each failed
reload showed a new error toast (20 s each): ten copies of the same message stacked over
the table. And after the user logs in again, as the toast says, the UI keeps the key it
started with: it never reads the server again until restarted."""

from __future__ import annotations

from pathlib import Path

import pytest

from flightlog.sync.remote import RemoteReader
from flightlog.tui import FlightlogApp
from flightlog.tui.remote_source import RemoteSource
from flightlog.tui.runs_table import RunsTable
from flightlog.tui.workers import REFRESH_SECONDS

from .conftest import cli
from .servers import LiveServer
from .sync_runs import login, small_runs
from .tui_helpers import settle


def toasts(app: FlightlogApp) -> list[str]:
    """The notifications on screen (not expired). Private on purpose: a headless app mounts
    no Toast widgets to query, and Textual has no public list of what it shows."""
    return [n.message for n in app._notifications]


async def revoked_under_the_ui(server: LiveServer, store: Path, pilot, app) -> RunsTable:
    """Two runs synced and shown; then alice's key is revoked and the refresh fails."""
    table = app.screen.query_one(RunsTable)
    await settle(pilot, lambda: table.row_count == 2)
    assert cli("server", "key", "revoke", "alice", "--root", str(server.root)).returncode == 0
    await settle(pilot, lambda: any("does not accept" in t for t in toasts(app)))
    return table


@pytest.fixture
def synced(server: LiveServer, store: Path) -> None:
    login(server, server.user("alice"))
    small_runs(2)
    r = cli("sync", "--all")
    assert r.returncode == 0, r.stdout + r.stderr


async def test_a_failing_refresh_shows_its_error_once(
    server: LiveServer, store: Path, synced: None
) -> None:
    app = FlightlogApp(RemoteSource(RemoteReader(server.url)))
    async with app.run_test(size=(120, 30)) as pilot:
        await revoked_under_the_ui(server, store, pilot, app)
        await pilot.pause(4 * REFRESH_SECONDS)  # (four more reloads fail meanwhile)
        shown = [t for t in toasts(app) if "does not accept" in t]
        assert len(shown) == 1, shown


async def test_the_ui_reads_again_after_a_new_login(
    server: LiveServer, store: Path, synced: None
) -> None:
    app = FlightlogApp(RemoteSource(RemoteReader(server.url)))
    async with app.run_test(size=(120, 30)) as pilot:
        table = await revoked_under_the_ui(server, store, pilot, app)
        login(server, server.accounts.create_key("alice"))  # as the toast says
        small_runs(1)
        assert cli("sync", "--all").returncode == 0
        await settle(pilot, lambda: table.row_count == 3, timeout=30)
