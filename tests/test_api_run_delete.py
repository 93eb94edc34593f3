"""`run.delete()` (wandb's public-API Run.delete) on a local store: the run leaves the
store whole and at once (the Api's listing, `flightlog runs`, the UI's runs list), and
nothing else does; a crashed run can be deleted; a run whose writer is alive cannot (the
error names the process and the fix)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

import flightlog
from flightlog._api_delete import RunRunningError
from flightlog._errors import NotFoundError, UnsupportedError
from flightlog.cli import main
from flightlog.tui.runs_data import load_last_look, load_runs

from .conftest import reaped, settled, spawn
from .servers import store_tree, wait_until


def _run(name: str, project: str = "p", run_id: str | None = None) -> str:
    run = flightlog.init(project=project, name=name, id=run_id, reinit=True)
    for i in range(3):
        run.log({"loss": 1.0 / (i + 1)})
    run.finish(quiet=True)
    return run.id


def _listed(store: Path, capsys: pytest.CaptureFixture[str]) -> tuple[set, set, set]:
    """The run ids the Api, `flightlog runs` and the UI's runs list show."""
    api = {r.id for r in flightlog.Api(store).runs()}
    assert main(["runs", "--json"]) == 0
    cli = {r["id"] for r in json.loads(capsys.readouterr().out)}
    ui = {r["id"] for r in load_runs(store, None, None).rows}
    return api, cli, ui


def test_a_deleted_run_leaves_every_listing_and_nothing_else_goes(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = _run("gone", run_id="abc")
    kept = [_run("kept", run_id="abcd"), _run("other", project="q", run_id="abc")]
    settled()
    assert _listed(store, capsys) == ({gone, *kept},) * 3  # (the index built before)
    # every file but the run's and the index's (derived: it forgets the run)
    others = {
        k: v
        for k, v in store_tree(store).items()
        if not k.startswith(("runs/p/abc/", "index")) and k != "runs/p/abc"
    }

    flightlog.Api(store).run("p/abc").delete()

    assert not (store / "runs/p/abc").exists()
    assert _listed(store, capsys) == ({"abcd", "abc"},) * 3
    assert flightlog.Api(store).run("q/abc").name == "other"
    after = store_tree(store)
    assert {k: v for k, v in after.items() if not k.startswith("index")} == others
    with pytest.raises(NotFoundError):
        flightlog.Api(store).run("p/abc")


CRASH = """
import os, signal, time, flightlog
run = flightlog.init(project="p", id="crashy")
run.log({"loss": 0.5})
print("logged", flush=True)
time.sleep({sleep})
"""


def test_a_crashed_run_is_deleted(store: Path) -> None:
    with reaped(spawn(CRASH.replace("{sleep}", "600"))) as proc:
        assert proc.stdout is not None and proc.stdout.readline() == "logged\n"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    run = flightlog.Api(store).run("p/crashy")
    assert run.state == "crashed"
    run.delete()
    assert not (store / "runs/p/crashy").exists()
    assert flightlog.Api(store).runs() == []


def test_a_running_run_is_refused_and_kept(store: Path) -> None:
    with reaped(spawn(CRASH.replace("{sleep}", "600"))) as proc:
        assert proc.stdout is not None and proc.stdout.readline() == "logged\n"
        run = flightlog.Api(store).run("p/crashy")
        with pytest.raises(RunRunningError) as refused:
            run.delete()
        said = str(refused.value)
        assert "still running" in said and f"pid {proc.pid}" in said, said
        assert "finish" in said and "crashed run can be deleted" in said, said
        assert (store / "runs/p/crashy/run.json").exists()
        assert [r.id for r in flightlog.Api(store).runs()] == ["crashy"]
        proc.kill()
        proc.wait()
    wait_until(lambda: flightlog.Api(store).run("p/crashy").state == "crashed", 30, "crashed")
    flightlog.Api(store).run("p/crashy").delete()
    assert not (store / "runs/p/crashy").exists()


def test_a_run_deleted_twice_is_not_found_the_second_time(store: Path) -> None:
    _run("once", run_id="once")
    settled()
    run = flightlog.Api(store).run("p/once")
    run.delete()
    with pytest.raises(LookupError, match="deleted already"):
        run.delete()


def test_delete_artifacts_is_refused_for_a_run_that_logged_some(
    store: Path, tmp_path: Path
) -> None:
    """Artifact versions are kept by content and may be used by other runs: nothing goes."""
    (tmp_path / "w.txt").write_text("weights")
    run = flightlog.init(project="p", id="art")
    art = flightlog.Artifact("model", type="model")
    art.add_file(str(tmp_path / "w.txt"))
    run.log_artifact(art)
    run.finish(quiet=True)
    settled()
    stored = flightlog.Api(store).run("p/art")
    with pytest.raises(UnsupportedError, match="delete_artifacts"):
        stored.delete(delete_artifacts=True)
    assert (store / "runs/p/art/run.json").exists()
    stored.delete()
    assert not (store / "runs/p/art").exists()
    assert flightlog.Api(store).artifact("p/model:v0").download(str(tmp_path / "dl"))


def test_the_uis_first_paint_no_longer_shows_a_deleted_run(store: Path) -> None:
    """A big store's runs screen paints first what the index held when last read, before
    its catch-up looks at the files: delete() tells the index at once, so a UI started
    after it never shows the run, not even for that first moment."""
    gone, kept = _run("gone"), _run("kept")
    settled()
    assert {r.id for r in flightlog.Api(store).runs()} == {gone, kept}  # (the index built)
    flightlog.Api(store).run(f"p/{gone}").delete()
    first = load_last_look(store, None, None)
    assert first is not None and [r["id"] for r in first.rows] == [kept]


def test_a_linked_run_directory_goes_and_what_it_points_to_stays(
    store: Path, tmp_path: Path
) -> None:
    """A run directory that is a link (a run kept on another disk): the link is removed,
    never followed into the directory it names."""
    elsewhere = tmp_path / "elsewhere"
    run = flightlog.init(project="p", id="linked", dir=str(elsewhere))
    run.log({"loss": 0.5})
    run.finish(quiet=True)
    settled()
    target = Path(run.dir)
    (store / "runs/p").mkdir(parents=True)
    (store / "runs/p/linked").symlink_to(target)
    flightlog.Api(store).run("p/linked").delete()
    assert not (store / "runs/p/linked").exists() and not (store / "runs/p/linked").is_symlink()
    assert (target / "run.json").exists() and flightlog.Api(elsewhere).run("p/linked").id


def test_a_copy_under_another_name_is_refused(store: Path) -> None:
    """A run directory copied by hand under a new name holds another run's run.json (and
    may hard-link its files): deleting it by that name is refused, nothing goes."""
    import shutil

    _run("orig", run_id="orig")
    settled()
    shutil.copytree(store / "runs/p/orig", store / "runs/p/copy")
    with pytest.raises(flightlog.UsageError, match="holds run 'orig'"):
        flightlog.Api(store).run("p/copy").delete()
    assert (store / "runs/p/copy/run.json").exists() and (store / "runs/p/orig/run.json").exists()
