"""A project's ledger of run starts (store/run_ledger.py): what init() appends, and what a
reader takes from it - only whole, intact lines, whatever many processes appending at once,
a crash mid-write or a hand edit left in the file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import flightlog
from flightlog.store.layout import project_dir
from flightlog.store.run_ledger import append_created, ledger_path, read_ledger

from .conftest import cli, spawn
from .servers import LiveServer


def _starts(store: Path, project: str) -> dict[str, float]:
    """run id -> created_at, as each run's run.json says."""
    return {
        d.name: json.loads((d / "run.json").read_text())["created_at"]
        for d in project_dir(store, project).iterdir()
        if not d.name.startswith(".")
    }


def test_init_notes_each_new_run_and_its_start_in_its_projects_ledger(store: Path) -> None:
    ids = []
    for i in range(3):
        run = flightlog.init(project="p", config={"i": i}, reinit="create_new")
        ids.append(run.id)
        run.finish(quiet=True)
    flightlog.init(project="p", id=ids[0], resume="allow").finish(quiet=True)  # no new line
    other = flightlog.init(project="q", entity="team", reinit="create_new")
    other.finish(quiet=True)
    assert read_ledger(project_dir(store, "p")) == _starts(store, "p")
    assert read_ledger(project_dir(store, "q", "team")) == {
        other.id: json.loads((Path(other.dir) / "run.json").read_text())["created_at"]
    }
    assert len(Path(ledger_path(project_dir(store, "p"))).read_bytes().splitlines()) == 3


def test_a_torn_last_line_and_damaged_lines_are_skipped(tmp_path: Path) -> None:
    (tmp_path / ".numbers").mkdir()
    append_created(tmp_path, "aaaa1111", 1000.5)
    append_created(tmp_path, "bbbb2222", 1001.25)
    path = Path(ledger_path(tmp_path))
    good = path.read_bytes()
    lines = good.splitlines(keepends=True)
    damaged = lines[1].replace(b"1001.25", b"1001.75")  # its checksum no longer matches
    path.write_bytes(
        lines[0]
        + damaged
        + b"\x00\x00\x00\n"  # a hole a crash left
        + b"garbage without the fields\n"
        + b"1002.0 cccc3333 zzzzzzzz\n"
        + lines[1][:-6]  # torn: a process killed mid-write
    )
    assert read_ledger(tmp_path) == {"aaaa1111": 1000.5}
    path.write_bytes(good[:-1])  # the last line lacks only its newline: not whole
    assert read_ledger(tmp_path) == {"aaaa1111": 1000.5}
    assert read_ledger(tmp_path / "nowhere") == {}


def test_a_project_without_run_numbers_gets_its_ledger_too(tmp_path: Path) -> None:
    """A server's project claims no run numbers: its `.numbers/` is made for the ledger;
    a project directory that does not exist gets nothing, and no error."""
    append_created(tmp_path, "aaaa1111", 1000.0)
    assert read_ledger(tmp_path) == {"aaaa1111": 1000.0}
    append_created(tmp_path / "gone" / "p", "bbbb2222", 1001.0)
    assert not (tmp_path / "gone").exists()


def test_a_run_id_written_twice_is_taken_from_its_last_line(tmp_path: Path) -> None:
    """A run deleted and created again under the same id: its second start holds."""
    (tmp_path / ".numbers").mkdir()
    append_created(tmp_path, "aaaa1111", 1000.0)
    append_created(tmp_path, "bbbb2222", 1001.0)
    append_created(tmp_path, "aaaa1111", 1002.0)
    assert read_ledger(tmp_path) == {"aaaa1111": 1002.0, "bbbb2222": 1001.0}


def test_many_processes_starting_runs_at_once_each_leave_a_whole_line(store: Path) -> None:
    """torchrun starts every rank together: each process's runs, and a burst of appends
    besides, land as whole lines, none lost or mixed with another's."""
    go = store.parent / "go"
    code = f"""
        import os, sys, time
        from pathlib import Path
        import flightlog
        from flightlog.store.run_ledger import append_created
        while not Path({str(go)!r}).exists():
            time.sleep(0.001)
        for _ in range(3):
            flightlog.init(project="p", reinit="create_new").finish(quiet=True)
        pdir = Path(os.environ["FLIGHTLOG_DIR"], "runs", "p")
        for i in range(200):
            append_created(pdir, f"burst{{os.getpid()}}x{{i}}", 1.5 + i)
    """
    procs = [spawn(code) for _ in range(8)]
    time.sleep(1.0)  # (every process waiting for the start, as ranks at a barrier)
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    got = read_ledger(project_dir(store, "p"))
    runs = _starts(store, "p")
    assert len(runs) == 24
    assert {k: v for k, v in got.items() if not k.startswith("burst")} == runs
    assert sum(k.startswith("burst") for k in got) == 8 * 200
    lines = Path(ledger_path(project_dir(store, "p"))).read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) - 1 == 24 + 8 * 200


def test_a_server_notes_the_start_of_each_run_it_receives(server: LiveServer, key: str) -> None:
    """Runs received by a server are in their project's ledger there, so that a listing of
    the server's root knows their order without opening each run.json."""
    started = []
    for _ in range(3):
        run = flightlog.init(project="p", mode="offline", reinit="create_new")
        run.log({"loss": 1.0})
        run.finish(quiet=True)
        started.append((run.id, json.loads((Path(run.dir) / "run.json").read_text())))
    r = cli("sync", "--all", timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    ledger = read_ledger(server.root / "runs" / "@alice" / "p")
    assert ledger == {rid: meta["created_at"] for rid, meta in started}
