"""What `flightlog runs` pays for on a store whose index is built (issue 16, 4: a warm
listing within 300 ms at 10,000 runs, the whole command): no module it does not need - not
the write path's pyarrow and numpy (~150-250 ms), not rich - and no ledger read again for
the runs a first listing left as stubs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import flightlog
from flightlog.store.threads import join_unwaited

from .conftest import cli, python_script

#: what a warm listing needs none of: the write path (flightlog/_public.py's modules and
#: pyarrow with numpy, which pyarrow imports), pandas (which pyarrow imports at its first
#: array when installed), the readers and rich
NOT_FOR_A_LISTING = [
    "pyarrow",
    "numpy",
    "pandas",
    "rich",
    "flightlog._init",
    "flightlog.store.writer",
    "flightlog.store.reader",
    "flightlog.store.describe",
]


def _runs(store: Path, n: int) -> None:
    """`n` finished runs, their directories last changed a minute ago: settled, as a warm
    listing finds them (one within 2 s of a change lists them again: store/scan.py)."""
    for i in range(n):
        run = flightlog.init(project=f"p{i % 2}", config={"i": i}, reinit="create_new")
        run.log({"loss": 1 / (i + 1)})
        run.finish(quiet=True)
    join_unwaited()
    then = time.time() - 60
    for d, _, _ in os.walk(store / "runs"):
        os.utime(d, (then, then))


def _imported(stderr: str) -> set[str]:
    """The modules `python -X importtime` reported."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_a_warm_listing_imports_no_write_path_reader_or_rich(store: Path) -> None:
    _runs(store, 4)
    first = cli("runs", "--root", str(store))  # (builds the index)
    assert first.returncode == 0, first.stderr
    listing = ["runs", "--limit", "3", "--root", str(store)]
    res = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "flightlog.cli", *listing],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert len(res.stdout.splitlines()) == 1 + 3, res.stdout  # the header and three runs
    assert [m for m in NOT_FOR_A_LISTING if m in _imported(res.stderr)] == []


def test_a_training_script_still_gets_the_write_path_with_import_flightlog() -> None:
    # (its init() and first log() import nothing: bench_init.py times init() alone)
    res = python_script("""
        import sys, flightlog
        print("flightlog._init" in sys.modules, "pyarrow" in sys.modules, flightlog.init)
    """)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("True True <function init"), res.stdout


#: a child that opens a listing's index with LAZY_OVER lowered (as a first build of 10,000
#: runs: stubs), counting the projects' ledgers read
LEDGER_READS = """
import sys
from flightlog.store import catch_up
from flightlog.store.catalog import select_runs
from flightlog.store.index import Index

catch_up.LAZY_OVER = 2
reads = []
read_ledger = catch_up.read_ledger
catch_up.read_ledger = lambda d: reads.append(d) or read_ledger(d)
with Index(STORE, lazy=True) as idx:
    ids = [r["id"] for r in select_runs(idx, sort="-created_at", limit=2)]
    print(len(reads), idx.stubs, ids)
"""


def test_a_later_listing_reads_no_ledger_again(store: Path) -> None:
    _runs(store, 8)
    script = f"STORE = {str(store)!r}\n{LEDGER_READS}"
    first = python_script(script)
    assert first.returncode == 0, first.stderr
    reads, stubs, ids = first.stdout.split(maxsplit=2)
    assert (reads, stubs) == ("2", "6"), first.stdout  # two projects; all but two runs
    again = python_script(script)  # (a fresh process: nothing remembered but the index)
    assert again.returncode == 0, again.stderr
    assert again.stdout.split(maxsplit=2) == ["0", "6", ids], again.stdout


def test_each_command_module_registers_the_commands_the_parser_builds_it_for() -> None:
    # `flightlog CMD` builds the parsers of CMD's module only (cli.COMMANDS): a command moved
    # to another module without COMMANDS saying so would lose its parser
    import argparse
    import importlib

    from flightlog.cli import COMMANDS, build_parser

    for module, names in COMMANDS.items():
        sub = argparse.ArgumentParser().add_subparsers()
        mod = importlib.import_module(f"flightlog.cli.{module}")
        mod.register(sub, argparse.ArgumentParser(add_help=False))
        assert tuple(sub.choices) == names, module
    every = [name for names in COMMANDS.values() for name in names]
    help_text = cli("--help").stdout  # (every module's commands, in COMMANDS' order)
    listed = [
        line.split()[0]
        for line in help_text.splitlines()
        if line[4:5].strip() and not line[:4].strip()
    ]
    assert listed == every, help_text
    (action,) = [a for a in build_parser(["--debug", "show", "x"])._actions if a.choices]
    assert list(action.choices) == list(COMMANDS["browse"])


def test_an_update_of_no_runs_is_an_empty_table_of_its_columns() -> None:
    # complete() builds one from the runs it described: none when all were deleted meanwhile
    from flightlog.store.index_tables import runs_update

    table = runs_update(("run_key", "steps", "partial"), [])
    assert (table.num_rows, table.column_names) == (0, ["run_key", "steps", "partial"])
