"""The `flightlog` command as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import flightlog


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flightlog.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_runs_and_show(store: Path) -> None:
    run = flightlog.init(project="p", config={"lr": 0.1}, group="g")
    run.log({"loss": 0.25})
    run.finish(quiet=True)
    res = cli("runs", "--root", str(store))
    assert res.returncode == 0, res.stderr
    assert run.name in res.stdout and "finished" in res.stdout
    res = cli("runs", "--json")
    (obj,) = json.loads(res.stdout)
    assert obj["id"] == run.id and obj["summary"]["loss"] == 0.25 and obj["group"] == "g"
    res = cli("show", run.id)
    assert res.returncode == 0 and "lr=0.1" in res.stdout and "loss=0.25" in res.stdout


def test_errors_are_one_line_and_debug_shows_the_traceback() -> None:
    res = cli("show", "missing")
    assert res.returncode == 1
    assert res.stderr.strip().count("\n") == 0 and "no run with id 'missing'" in res.stderr
    res = cli("--debug", "show", "missing")
    assert "Traceback" in res.stderr


def test_empty_store_says_how_to_log_a_first_run() -> None:
    res = cli("runs")
    assert res.returncode == 0 and "flightlog.init()" in res.stdout


def test_import_loads_only_the_write_path() -> None:
    code = (
        "import sys, flightlog; heavy = [m for m in ('duckdb', 'textual', 'httpx', "
        "'watchdog', 'rich') if m in sys.modules]; print(heavy)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.stdout.strip() == "[]", res.stdout
