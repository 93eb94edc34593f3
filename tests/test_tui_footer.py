"""The key footer: rebuilt when the keys it shows change, left alone when they do not (Textual's
Footer mounted every key again on each focus change: seven times while a run screen opened)."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.dom import NoScreen
from textual.widgets import Button
from textual.widgets._footer import FooterKey

import flightlog
from flightlog.tui import FlightlogApp
from flightlog.tui.footer import KeyFooter
from flightlog.tui.run_screen import RunScreen

from .tui_helpers import SIZE, settle


class FooterApp(App[None]):
    """Two focusable widgets and a key whose state the app changes."""

    BINDINGS = [  # noqa: RUF012 (Textual's own declaration style)
        Binding("c", "compare", "Compare"),
        Binding("x", "hidden", "Hidden", show=False),
    ]
    can_compare = False

    def compose(self) -> ComposeResult:
        yield Button("one", id="one")
        yield Button("two", id="two")
        yield KeyFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "compare":
            return True if self.can_compare else None  # None: shown, disabled
        return True


def keys(app: App[None]) -> list[FooterKey]:
    """The footer's keys now (none while a screen is being switched)."""
    try:
        return list(app.screen.query(FooterKey))
    except NoScreen:
        return []


def shown(app: App[None]) -> list[tuple[str, bool]]:
    return [(k.key, k.has_class("-disabled")) for k in keys(app)]


async def test_focus_changes_that_keep_the_keys_keep_the_footer() -> None:
    app = FooterApp()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: ("c", True) in shown(app))
        before = keys(app)
        for target in ("#two", "#one", "#two", "#one"):
            app.query_one(target).focus()
            await pilot.pause(0.1)
        await pilot.pause(0.3)
        assert keys(app) == before  # the same widgets: nothing was mounted again
        assert all(k.is_attached for k in before)


async def test_the_footer_shows_a_key_whose_state_changed() -> None:
    app = FooterApp()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: ("c", True) in shown(app))
        app.can_compare = True
        app.refresh_bindings()
        await settle(pilot, lambda: ("c", False) in shown(app))
        assert "x" not in [k for k, _ in shown(app)]


async def test_a_run_screen_shows_its_own_keys_and_the_runs_screen_its_own(store: Path) -> None:
    run = flightlog.init(project="p", name="footer")
    run.log({"loss": 1.0})
    run.finish()
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: "c" in [k for k, _ in shown(app)])
        runs_keys = [k for k, _ in shown(app)]
        app.push_screen(RunScreen(store, f"p/{run.id}"))
        await settle(pilot, lambda: isinstance(app.screen, RunScreen) and shown(app))
        await settle(pilot, lambda: [k for k, _ in shown(app)] != runs_keys)
        run_keys = [k for k, _ in shown(app)]
        assert "escape" in run_keys or "q" in run_keys
        await pilot.press("escape")
        await settle(pilot, lambda: [k for k, _ in shown(app)] == runs_keys)
