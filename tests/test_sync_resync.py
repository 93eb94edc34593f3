"""Syncing a store again: what each run needs is worked out once, and which runs the server
still has is asked with a listing of ids only. Before, `flightlog sync` read every run's
sync mark and walked its files three times (in forget_lost, in grouping and in sending), and
forget_lost fetched whole run objects (config, summary) to learn their ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from flightlog.store.layout import iter_run_dirs
from flightlog.sync import uploader
from flightlog.sync.sync_many import sync_many
from flightlog.sync.uploader import Entities, forget_lost, load_local

from .conftest import cli
from .servers import LiveServer
from .sync_runs import small_runs

pytestmark = pytest.mark.slow


def test_the_runs_listing_gives_ids_alone_when_asked(server: LiveServer, key: str) -> None:
    ids = small_runs(3)
    assert cli("sync", "--all").returncode == 0
    with server.client(key) as c:
        light = c.get("/runs/alice/p", {"fields": "id", "limit": 2}).json()
        rest = c.get("/runs/alice/p", {"fields": "id", "after": light["next"]}).json()
        whole = c.get("/runs/alice/p").json()
        bad = c.request("GET", "/runs/alice/p", params={"fields": "config"}, allow=(400,))
        assert light["runs"] + rest["runs"] == [{"id": i} for i in sorted(ids)]
        assert light["total"] == 3 and rest["next"] is None
        assert [r["id"] for r in whole["runs"]] == sorted(ids) and "config" in whole["runs"][0]
        assert bad.status_code == 400 and "fields may be id" in bad.json()["message"]
        assert c.run_ids("alice", "p") == set(ids)


def test_a_resync_walks_each_runs_files_once(
    server: LiveServer, key: str, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_runs(4)
    assert cli("sync", "--all").returncode == 0
    walks: list[Path] = []
    real = uploader.fingerprint

    def counted(paths, running=False):  # the real walk, counted
        walks.append(paths.dir)
        return real(paths, running)

    monkeypatch.setattr(uploader, "fingerprint", counted)
    runs = [load_local(p) for p in iter_run_dirs(store)]
    with server.client(key) as client:
        entities = Entities(client)
        assert forget_lost(client, runs, entities) == 0
        results = list(sync_many(client, runs, entities))
    assert all(r.skipped and e is None for _, r, e in results), results
    assert sorted(walks) == sorted(r.paths.dir for r in runs)  # once each, not three times


def test_up_to_date_reads_a_runs_mark_once_whichever_entity_is_asked_about(
    server: LiveServer, key: str, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_runs(1)  # no entity of its own: the sync asks first without one, then as alice
    assert cli("sync", "--all").returncode == 0
    reads: list[Path] = []
    real = uploader.read_mark

    def counted(paths):  # the real read, counted
        reads.append(paths.dir)
        return real(paths)

    monkeypatch.setattr(uploader, "read_mark", counted)
    (local,) = [load_local(p) for p in iter_run_dirs(store)]
    asked = [uploader.up_to_date(local, server.url, e) for e in (None, "alice", "vision")]
    assert asked == [True, True, False] and reads == [local.paths.dir], (asked, reads)
