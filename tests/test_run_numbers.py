"""Run numbers (the N of adjective-noun-N) stay unique when processes start runs at once,
and init() finds the next one without counting the project's runs."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog

from .conftest import spawn

pytestmark = pytest.mark.slow

STARTER = """
    import os, sys, time, flightlog
    go = sys.argv[1]
    while not os.path.exists(go):
        time.sleep(0.001)
    run = flightlog.init(project="many", settings={"stats_interval": 0, "console": "off"})
    print(run.name, flush=True)
    run.finish(quiet=True)
"""


def test_runs_started_at_once_get_distinct_numbers(tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [spawn(STARTER.replace("sys.argv[1]", repr(str(go)))) for _ in range(8)]
    go.touch()  # every process creates its run at the same moment
    names = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        names.append(out.strip())
    numbers = sorted(int(n.rsplit("-", 1)[1]) for n in names)
    assert numbers == list(range(1, 9)), names


def test_the_number_follows_runs_made_before_numbers_were_claimed(store: Path) -> None:
    for i in range(3):  # an older store: runs, no number markers
        (store / "runs" / "old" / f"r{i}").mkdir(parents=True)
        (store / "runs" / "old" / f"r{i}" / "run.json").write_text(f'{{"id": "r{i}"}}')
    run = flightlog.init(project="old", settings={"stats_interval": 0, "console": "off"})
    run.finish(quiet=True)
    assert run.name.endswith("-4")
    again = flightlog.init(project="old", reinit=True)
    again.finish(quiet=True)
    assert again.name.endswith("-5")


def test_runs_being_created_beside_the_first_do_not_push_its_number(store: Path) -> None:
    """Ranks starting together: the others' run directories exist, their run.json not yet
    (they claim their numbers next). The first number is still 1 (it was 3 here: the
    directories were counted as older runs; test_runs_started_at_once... failed so in a
    full suite, 2 to 9)."""
    for i in range(2):
        (store / "runs" / "fresh" / f"being-made-{i}").mkdir(parents=True)
    run = flightlog.init(project="fresh", settings={"stats_interval": 0, "console": "off"})
    run.finish(quiet=True)
    assert run.name.endswith("-1"), run.name
