"""A damaged journal (its header's bytes overwritten) beside the intact journals of a killed
writer. Readers skip it with a warning, and `flightlog doctor` reports it for quarantine;
but the journal recovery that a resume, `flightlog sync` and the sync agent run first
(store/takeover.py `recover_journals`) raised JournalDamaged: `init(resume="allow")` raised
it into the training script, `flightlog sync` failed, and the agent exited, leaving every
run of the store unsynced. Now recovery skips the damaged journal (warned of, left in place
for doctor to quarantine) and seals the rows of the others, as readers read them."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

import flightlog

from .conftest import cli, python_script
from .servers import LiveServer, server_rows, wait_until
from .test_sync_agent import local_status, start_agent, stop

pytestmark = pytest.mark.slow

#: rows only in journals of 300 rows (no tick writes a segment), then a kill -9
KILLED = """
    import os, flightlog
    from flightlog.store import rowlog
    rowlog.ROWS_CAP = 300
    run = flightlog.init(project="p", id="k", mode="offline",
                         settings={"console": "off", "flush_interval": 60})
    for i in range(1000):
        run.log({"i": i})
    os.kill(os.getpid(), 9)
"""


def _killed_with_a_damaged_journal(store: Path) -> tuple[Path, list[int]]:
    """The killed run's damaged journal, and the rows readers read (the other journals')."""
    done = python_script(KILLED)
    assert done.returncode == -signal.SIGKILL, done.stderr
    journals = sorted((store / "runs/p/k/history").glob("*.journal"))
    assert len(journals) >= 3, journals
    damaged = journals[1]
    with open(damaged, "r+b") as f:
        f.seek(64)  # the header's JSON
        f.write(b"\xff\xfe\x00garbage")
    with pytest.warns(UserWarning, match="journal"):
        rows = [r["i"] for r in flightlog.Api(store).run("p/k").scan_history()]
    assert 0 < len(rows) < 1000
    return damaged, rows


def test_a_resume_skips_a_damaged_journal_and_keeps_the_other_rows(store: Path) -> None:
    damaged, rows = _killed_with_a_damaged_journal(store)
    done = python_script("""
        import flightlog
        run = flightlog.init(project="p", id="k", resume="allow", settings={"console": "off"})
        run.log({"i": 5000})
        run.finish()
    """)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    with pytest.warns(UserWarning, match="journal"):
        after = [r["i"] for r in flightlog.Api(store).run("p/k").scan_history()]
    assert after == [*rows, 5000]
    assert damaged.exists(), "a damaged journal is left for doctor to quarantine"
    assert "corrupt-segment" in cli("doctor", "--root", str(store)).stdout


def test_sync_ships_the_rows_of_a_run_with_a_damaged_journal(
    server: LiveServer, key: str, store: Path
) -> None:
    _, rows = _killed_with_a_damaged_journal(store)
    done = cli("sync", "--all")
    assert done.returncode == 0, done.stderr
    assert [r["i"] for r in server_rows(server.root, "alice", "p", "k")] == rows


def test_the_agent_lives_on_and_ships_a_run_with_a_damaged_journal(
    server: LiveServer, key: str, store: Path
) -> None:
    _, rows = _killed_with_a_damaged_journal(store)
    agent = start_agent(store)
    try:
        wait_until(lambda: local_status(store) == "synced" or agent.poll() is not None, 120, "sync")
        assert agent.poll() is None, "the agent exited"
    finally:
        log = stop(agent)
    assert [r["i"] for r in server_rows(server.root, "alice", "p", "k")] == rows, log
