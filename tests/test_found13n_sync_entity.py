"""Found following the README as a newcomer: `flightlog sync --project mnist --entity vision`
("to the team's project") after the runs were synced once to the user's own entity. A run's
sync mark (sync.json) records the entity it went to, but whether a marked run is up to date
is judged by the server alone (sync/uploader.py `_up_to_date`), so `--entity` is ignored for
marked runs: to an entity that does not exist, sync says "synced N run(s)" and exits 0 with
nothing sent there; to an existing team, it says the server lost the runs ("a server
restored from a backup?") before sending them."""

from __future__ import annotations

import pytest

from .conftest import cli
from .servers import LiveServer
from .sync_runs import small_runs


@pytest.mark.xfail(
    strict=True,
    reason="sync --entity E is ignored for runs already synced to another entity: "
    "'synced', exit 0, nothing sent to E (sync/uploader.py _up_to_date checks the server only)",
)
def test_sync_to_an_entity_that_does_not_exist_is_not_reported_synced(
    server: LiveServer, key: str
) -> None:
    small_runs(1)
    first = cli("sync", "--all")
    assert first.returncode == 0, first.stdout + first.stderr

    again = cli("sync", "--all", "--entity", "nobody")
    out = again.stdout + again.stderr
    assert again.returncode == 1, out
    assert "'nobody' does not exist" in out, out


@pytest.mark.xfail(
    strict=True,
    reason="sync --entity TEAM of runs synced to the user says they are 'not on the server "
    "any more (a server restored from a backup?)': they are, under the user's entity",
)
def test_sync_to_a_team_does_not_say_the_server_lost_the_runs(server: LiveServer, key: str) -> None:
    (run_id,) = small_runs(1)
    assert cli("sync", "--all").returncode == 0
    server.accounts.add_team("vision", ["alice"])

    again = cli("sync", "--all", "--entity", "vision")
    out = again.stdout + again.stderr
    assert again.returncode == 0, out
    assert list(server.root.glob(f"runs/@vision/p/{run_id}/history/*.parquet")), out
    assert "backup" not in out and "not on" not in out, out


@pytest.mark.xfail(
    strict=True,
    reason="an entity given with `sync --entity` that does not exist is blamed on the run "
    "(init(entity=...) or FLIGHTLOG_ENTITY), not on --entity",
)
def test_a_missing_entity_given_with_the_flag_is_said_to_come_from_it(
    server: LiveServer, key: str
) -> None:
    small_runs(1)
    r = cli("sync", "--all", "--entity", "nobody")
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "'nobody' does not exist" in out and "--entity" in out, out
