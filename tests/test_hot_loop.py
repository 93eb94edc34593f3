"""While `log()` runs in a tight loop, the writer thread leaves its rows in the journals and
converts them once the loop pauses (store/hot_loop.py): every time the writer took the GIL
to convert them, the training thread stalled for the handover and the writer's stretch
(issue 16 §2: calls over 1 ms). The rows are durable and readable meanwhile."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import flightlog
import flightlog.store.hot_loop as hot_loop

from .conftest import python_script
from .servers import wait_until

#: seconds of the tight loop (rows of 20 values: far over HOT_VALUES_PER_SECOND on a busy
#: machine too): several of the writer's ticks
HOT_SECONDS = 0.8


def _segments(history: Path) -> list[Path]:
    return [p for p in history.iterdir() if not p.name.endswith(".journal")]


def _hot_run(store: Path, run_id: str) -> tuple[flightlog.Run, Path]:
    """A run whose writer ticks every 50 ms, and its history directory."""
    run = flightlog.init(
        project="p",
        id=run_id,
        dir=str(store),
        settings={"console": "off", "stats_interval": 0, "flush_interval": 0.05},
    )
    return run, store / "runs" / "p" / run_id / "history"


def test_a_hot_loops_rows_wait_in_the_journals_until_it_pauses(
    store: Path, api: flightlog.Api
) -> None:
    run, history = _hot_run(store, "hot")
    steps = 0
    end = time.monotonic() + HOT_SECONDS
    while time.monotonic() < end:
        for _ in range(500):
            run.log({f"m{k}": steps + k / 10 for k in range(20)})
            steps += 1
    assert _segments(history) == [], "the writer converted rows while log() ran hot"
    assert [r["_step"] for r in api.run("p/hot").scan_history(keys=["m0"])] == list(range(steps))
    wait_until(lambda: _segments(history), 30, "the rows written to a segment once log() paused")
    run.log({"m0": -1.0})
    run.finish()
    rows = list(api.run("p/hot").scan_history(keys=["m0"]))
    assert [r["_step"] for r in rows] == list(range(steps + 1))
    assert [r["m0"] for r in rows[:3]] == [0.0, 1.0, 2.0]


#: a hot loop past a backlog bound made small: the writer converts as it goes, and says so
PAST_THE_BOUND = """
import time
import flightlog
import flightlog.store.hot_loop as hot_loop
hot_loop.HOT_BACKLOG = 50_000
run = flightlog.init(project="p", settings={"console": "off", "stats_interval": 0})
end = time.monotonic() + 1.5
i = 0
while time.monotonic() < end:
    run.log({f"m{k}": i + k / 10 for k in range(20)})
    i += 1
run.finish(quiet=True)
print(run.id, i)
"""


def test_a_hot_loop_past_the_backlog_bound_is_written_as_it_goes_and_said_once(
    api: flightlog.Api,
) -> None:
    done = python_script(PAST_THE_BOUND, timeout=120)
    assert done.returncode == 0, done.stderr
    said = [s for s in done.stderr.splitlines() if "has outrun the writer thread" in s]
    assert len(said) == 1, done.stderr
    run_id, steps = done.stdout.split()
    assert [r["_step"] for r in api.run(f"p/{run_id}").scan_history(keys=["m0"])] == list(
        range(int(steps))
    )


def test_a_hot_loop_longer_than_hot_seconds_is_written_as_it_goes(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loop that stays hot has its rows written once HOT_SECONDS have passed, bound or no
    bound: a run syncing segments sealed by age reaches the server as it goes."""
    monkeypatch.setattr(hot_loop, "HOT_SECONDS", 0.3)
    monkeypatch.setattr(hot_loop, "HOT_BACKLOG", 1 << 40)  # the time bound alone
    run, history = _hot_run(store, "long")
    step, written = 0, False
    end = time.monotonic() + 5
    while not written and time.monotonic() < end:
        for _ in range(500):
            run.log({f"m{k}": step + k / 10 for k in range(20)})
            step += 1
        written = bool(_segments(history))
    assert written, "no segment in the 5 s the loop stayed hot"
    run.finish()


def test_past_the_backlog_bound_the_writer_converts_each_tick_until_the_loop_slows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past HOT_BACKLOG a hot loop's rows are converted every tick, not brought down to just
    under the bound and left there again; the sentence is said once, and a pause starts over."""
    clock = [0.0]
    monkeypatch.setattr(hot_loop.time, "monotonic", lambda: clock[0])
    said: list[str] = []
    hot = hot_loop.HotLoop(said.append)
    converted, pending, rate = 0, 0, 10 * hot_loop.HOT_VALUES_PER_SECOND
    deferred = []
    for _ in range(60):  # ticks of 0.1 s: over the bound after about 4.2 s
        clock[0] += 0.1
        pending += int(rate * 0.1)
        deferred.append(hot.defer(converted, pending))
        if not deferred[-1]:  # a tick converts far more than the loop commits in one
            converted, pending = converted + pending - 1000, 1000
    first = deferred.index(False)
    assert (first + 1) * 0.1 * rate >= hot_loop.HOT_BACKLOG, "converted before the bound"
    assert not any(deferred[first:]), "left in the journals again after the bound"
    assert len(said) == 1
    clock[0] += 1.0  # a pause (an evaluation): nothing committed
    assert not hot.defer(converted, pending)
    clock[0] += 0.1
    assert hot.defer(converted, pending + int(rate * 0.1)), "a new hot stretch waits again"
    assert len(said) == 1
