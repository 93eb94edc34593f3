"""The run screen's runs pane names a run's project as entity/project where two entities have
a project of that name (before: only `shared` on both rows, so a user could not tell which
team's run they overlaid); a project name only one entity uses stays short."""

from __future__ import annotations

from pathlib import Path

from flightlog.tui import FlightlogApp
from flightlog.tui.runs_pane import RunsPane

from .tui_helpers import SIZE, open_run, settle


def _runs() -> None:
    import flightlog

    for entity, project in [("alice", "shared"), ("vision", "shared"), ("alice", "solo")]:
        run = flightlog.init(entity=entity, project=project, name=f"{entity}-{project}")
        run.log({"loss": 1.0})
        run.finish(quiet=True)


async def test_the_runs_pane_names_the_entity_of_an_ambiguous_project(store: Path) -> None:
    _runs()
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_run(app, pilot)
        if not screen.query_one(RunsPane).display:
            await pilot.press("5")
        pane = screen.query_one(RunsPane)
        await settle(pilot, lambda: pane.row_count == 3)
        shown = {str(pane.get_row_at(i)[2]): str(pane.get_row_at(i)[3]) for i in range(3)}
        assert shown == {
            "alice-shared": "alice/shared",
            "vision-shared": "vision/shared",
            "alice-solo": "solo",
        }, shown
