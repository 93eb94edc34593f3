"""A store copied off a compute node while a run trains (rsync to a login node, which has
the network), synced from the copy, then copied again once the job ended and synced again:
the way users of offline clusters sync. Every logged row must reach the server.

The first sync seals the copy's journal (its writer is gone by then), as segment 1 of the
writer holding the rows copied so far. The job itself later seals its own segment 1, with
more rows, under the same writer and number. After the second copy both files are in the
copy's history directory. Found by the breaker2 session: store/segments.py list_segments
kept one of them by directory order, so the rows only the job's segment 1 holds were read
by nobody: when the copy's segment won, `flightlog sync` said "synced" every time while
`flightlog runs` showed the run pending for good; when the job's won, every sync failed on
a 409. Now the longer seal is read, here and on the server, which keeps both files
(sync/seal_growth.py)."""

from __future__ import annotations

import shutil
from contextlib import suppress
from pathlib import Path

from flightlog.store import RunPaths, StoredRun

from .conftest import cli, spawn
from .servers import LiveServer, server_rows, wait_until

TRAIN = """
import time, flightlog
from pathlib import Path
run = flightlog.init(project="p", id="copied", mode="offline",
                     settings={"segment_rows": 2000, "flush_interval": 0.01})
for s in range(3000):
    run.log({"loss": float(s)})
    if s == 1500:  # the store is copied here, mid-segment
        print("copy now", flush=True)
        while not Path("go").exists():
            time.sleep(0.01)
run.finish()
"""


def copy_store(src: Path, dst: Path) -> None:
    """`rsync -a src/ dst/` (no --delete): new and changed files copied over; a file that
    vanished since it was listed (a temp file of run.json's atomic rewrite, renamed over it)
    is skipped, as rsync does ("file has vanished")."""
    shutil.copytree(src, dst, dirs_exist_ok=True, copy_function=_copy_if_there)


def _copy_if_there(src: str, dst: str) -> None:
    with suppress(FileNotFoundError):
        shutil.copy2(src, dst)


def _in_segment(run: RunPaths, rows: int) -> bool:
    """The run's writer reports `rows` rows written into its segments (its heartbeat)."""
    stored = StoredRun.load(run)
    return stored is not None and any(int(w.get("rows") or 0) >= rows for w in stored.writers)


def _logged_to(run: RunPaths, step: int) -> bool:
    """The run's files (its writer's journal, read as a copy would) hold step `step`."""
    stored = StoredRun.load(run)
    if stored is None:
        return False
    steps = stored.history(["loss"]).column("_step")
    return len(steps) > 0 and steps[-1].as_py() >= step


def copied_mid_run(
    store: Path,
    tmp_path: Path,
    train: str = TRAIN,
    at_step: int = 1500,
    in_segment: bool = False,
) -> Path:
    """Run `train` (run p/copied) in `tmp_path`, copy `store` to a "login node" once it
    printed "copy now" and its rows up to `at_step` are in its journal (`in_segment`: also
    written into its open segment, so the copy holds no row in its journal alone), let the
    job finish; the copy (taken mid-segment), the job's own store finished beside it."""
    job = spawn(train, cwd=tmp_path)
    assert job.stdout is not None and job.stderr is not None
    assert job.stdout.readline().strip() == "copy now", job.stderr.read()
    run = RunPaths(store / "runs" / "p" / "copied")
    wait_until(lambda: _logged_to(run, at_step), 60, f"step {at_step} in the run's journal")
    if in_segment:
        wait_until(lambda: _in_segment(run, at_step + 1), 60, f"{at_step + 1} rows written")
    copy = tmp_path / "login-node"
    copy_store(store, copy)
    (tmp_path / "go").touch()
    _, err = job.communicate(timeout=120)
    assert job.returncode == 0, err
    return copy


def test_a_store_synced_from_copies_reaches_the_server_whole(
    server: LiveServer, key: str, store: Path, tmp_path: Path
) -> None:
    copy = copied_mid_run(store, tmp_path)

    first = cli("sync", "--all", "--root", str(copy))  # the job's process is gone now
    assert first.returncode == 0, first.stdout + first.stderr
    copy_store(store, copy)  # the next rsync, after the job ended
    second = cli("sync", "--all", "--root", str(copy))
    # (before: which of the two segment 1s the copy listed depended on directory order: the
    # job's was refused with 409 and sync exited 1 for good, or the copy's won and it said
    # "synced"; now both seals are kept here and on the server, and the longer is read)

    losses = [r["loss"] for r in server_rows(server.root, "alice", "p", "copied")]
    assert losses == [float(s) for s in range(3000)], (len(losses), second.stdout)
    assert second.returncode == 0, second.stdout + second.stderr
    listed = cli("runs", "--root", str(copy))
    assert "synced" in listed.stdout and "pending" not in listed.stdout, listed.stdout
