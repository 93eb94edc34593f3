"""Found following the README as a newcomer: `flightlog sync --project mnist --entity vision`
("to the team's project") after the runs were synced once to the user's own entity. A run's
sync mark (sync.json) records the entity it went to, but whether a marked run is up to date
is judged by the server alone (sync/uploader.py `_up_to_date`), so `--entity` is ignored for
marked runs: to an entity that does not exist, sync said "synced N run(s)" and exited 0 with
nothing sent there; to an existing team, it said the server lost the runs ("a server
restored from a backup?") before sending them. The mark's entity now counts."""

from __future__ import annotations

from .conftest import cli
from .servers import LiveServer
from .sync_runs import small_runs


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


def test_sync_to_a_team_does_not_say_the_server_lost_the_runs(server: LiveServer, key: str) -> None:
    (run_id,) = small_runs(1)
    assert cli("sync", "--all").returncode == 0
    server.accounts.add_team("vision", ["alice"])

    again = cli("sync", "--all", "--entity", "vision")
    out = again.stdout + again.stderr
    assert again.returncode == 0, out
    assert list(server.root.glob(f"runs/@vision/p/{run_id}/history/*.parquet")), out
    assert "backup" not in out and "not on" not in out, out
