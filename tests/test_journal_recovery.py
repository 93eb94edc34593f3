"""Recovering a large backlog of journal rows (store/takeover.py `recover_journals`): a hot
loop's finish() leaves what the writer thread had not converted in the journals, and whoever
seals them (doctor --repair, sync, the agent, a resume) does so in pieces of about
RECOVER_ROWS rows, one piece in memory at a time, every row exactly once, even when the
sealer dies between two pieces."""

from __future__ import annotations

import random
import signal
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import flightlog
from flightlog.store import takeover
from flightlog.store.doctor import check, repair
from flightlog.store.layout import parse_segment_name

from .conftest import cli, python_script, spawn

STEPS = 40_000  # 80,000 values: more than finish() converts (DEFER_VALUES)
JOURNAL_ROWS = 2000
PIECE = 10_000

#: a run whose writer thread never ticks (flush_interval 60), in journals of 2,000 rows: every
#: row is still in a journal when finish() returns, as after a loop that outran the thread
BACKLOG = f"""
    import flightlog
    import flightlog.store.rowlog as rowlog
    rowlog.ROWS_CAP = {JOURNAL_ROWS}
    run = flightlog.init(project="r", id=RUN_ID, settings={{
        "flush_interval": 60, "console": "off", "stats_interval": 0}})
    for i in range({STEPS}):
        run.log({{"i": i, "x": i / 4}})
    run.finish()
"""


def _make_backlog(store: Path, run_id: str = "backlog") -> Path:
    res = python_script(f"RUN_ID = {run_id!r}\n" + textwrap.dedent(BACKLOG))
    assert res.returncode == 0, res.stderr
    history = store / "runs" / "r" / run_id / "history"
    assert len(list(history.glob("*.journal"))) > 10, "the backlog is not in journals"
    return history


@pytest.fixture
def backlog(store: Path) -> Path:
    return _make_backlog(store)


def _steps(api: flightlog.Api, run_id: str = "backlog") -> list[int]:
    return [r["i"] for r in api.run(f"r/{run_id}").scan_history()]


def _recovered(history: Path) -> list[Path]:
    return sorted(
        p
        for p in history.glob("*.parquet")
        if (n := parse_segment_name(p.name)) is not None and n.seq >= takeover.RECOVERED_SEQ
    )


def test_a_backlog_is_sealed_in_pieces_of_bounded_size(
    backlog: Path, store: Path, api: flightlog.Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(takeover, "RECOVER_ROWS", PIECE)
    repair(store, check(store))
    pieces = _recovered(backlog)
    sizes = [pq.ParquetFile(p).metadata.num_rows for p in pieces]
    assert len(pieces) >= 5, sizes  # one segment of all the rows before
    assert max(sizes) < PIECE + 2 * JOURNAL_ROWS, sizes  # ends with the journal that fills it
    assert not list(backlog.glob("*.journal"))
    assert _steps(api) == list(range(STEPS))


def test_a_sealer_killed_between_pieces_leaves_the_rest_to_the_next_one(
    backlog: Path, store: Path, api: flightlog.Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(takeover, "RECOVER_ROWS", PIECE)
    write = takeover._write_recovered
    written: list[Path] = []

    def dies_after_two(*args: object) -> Path:
        if len(written) == 2:
            raise KeyboardInterrupt  # the sealer's end, between two pieces
        written.append(write(*args))  # type: ignore[arg-type]
        return written[-1]

    monkeypatch.setattr(takeover, "_write_recovered", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        repair(store, check(store))
    assert _recovered(backlog) == sorted(written)
    assert list(backlog.glob("*.journal")), "the journals went before their rows were sealed"
    assert _steps(api) == list(range(STEPS)), "a reader of the half-recovered run"

    monkeypatch.setattr(takeover, "_write_recovered", write)
    repair(store, check(store))
    assert len(_recovered(backlog)) > 2
    assert not list(backlog.glob("*.journal"))
    assert _steps(api) == list(range(STEPS))


#: `flightlog doctor --repair` with pieces of PIECE rows
REPAIR = f"""
from flightlog.store import takeover
from flightlog.cli import main
takeover.RECOVER_ROWS = {PIECE}
raise SystemExit(main(["doctor", "--repair"]))
"""


@pytest.mark.slow
def test_kill_9_of_a_sealer_at_random_points_loses_and_repeats_no_row(
    store: Path, api: flightlog.Api
) -> None:
    """A real `doctor --repair` killed with SIGKILL after a random number of pieces, at a
    random point of the next: the half-recovered run reads every row once, and the next
    repair completes it."""
    rng = random.Random(16)
    cut = 0  # trials whose kill left pieces and journals both: a recovery cut short
    for trial in range(8):
        run_id = f"k{trial}"
        history = _make_backlog(store, run_id)
        proc = spawn(REPAIR)
        pieces = rng.randint(1, 6)  # of about 8
        deadline = time.monotonic() + 120
        while len(_recovered(history)) < pieces and proc.poll() is None:
            assert time.monotonic() < deadline, "no piece sealed"
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.05))  # anywhere in the next piece
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        cut += bool(_recovered(history)) and bool(list(history.glob("*.journal")))
        assert _steps(api, run_id) == list(range(STEPS)), f"trial {trial}, after the kill"
        repair(store, check(store))
        assert not list(history.glob("*.journal")), f"trial {trial}"
        assert _steps(api, run_id) == list(range(STEPS)), f"trial {trial}, repaired"
    assert cut, "no kill landed between two pieces: the trials tested nothing"


def test_doctor_tells_a_backlog_from_a_problem(backlog: Path, store: Path) -> None:
    """A backlog left by design is no fault: `flightlog doctor` lists it, says it waits to
    be sealed and that nothing is wrong, and exits 0; `--repair` seals it."""
    res = cli("doctor", "--root", str(store))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "unsealed-journal" in res.stdout and "rows waiting to be sealed" in res.stdout
    assert "no problems found" in res.stdout and "problem(s)" not in res.stdout
    res = cli("doctor", "--repair", "--root", str(store))
    assert res.returncode == 0 and "recovered" in res.stdout, res.stdout + res.stderr
    assert not list(backlog.glob("*.journal"))
    assert cli("doctor", "--root", str(store)).stdout.strip().endswith("no problems found")
