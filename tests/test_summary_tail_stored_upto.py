"""A writer records with each heartbeat where its stored rows stood (`stored_upto`: its open
segment's number and byte), and readers of a killed writer catch its summary up from the
rows after that place only (store/summary_tail.py). The summary is the same as read from
the whole history: with that place, without it (a state file of an older writer), and
with a place that is no batch's start (a damaged state file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flightlog.store import RunPaths, StoredRun
from flightlog.store.atomic import atomic_write_json
from flightlog.store.journal import journal_name

from .conftest import python_script
from .summary_rows import typed

#: rows before the beat, a beat (a flush writes the state), then rows written into the same
#: open segment after it with no beat (heartbeats 30 s apart), more than a journal holds: the
#: first journal is removed once they are fsynced, and its rows after the beat are in the
#: segment alone (the highest `hi` among them); then kill -9
KILLED = """
import json, os, signal, time
import flightlog
from flightlog.store.journal import journal_name
run = flightlog.init(project="p", id="upto", settings={
    "heartbeat_interval": 30.0, "flush_interval": 0.05, "fsync_interval": 0.05})
for name, rule in {"lo": "min", "hi": "max", "avg": "mean", "one": "first"}.items():
    run.define_metric(name, summary=rule)
for i in range(300):
    run.log({"loss": 1 / (i + 1), "lo": 100 - i, "hi": i, "avg": float(i), "one": i})
run._writer.flush()  # written, and the state with them: the beat
for i in range(300, 70_300):
    run.log({"loss": 1 / (i + 1), "hi": i if i < 30_000 else -1, "avg": i % 7, "tag": f"t{i}"})
first = run.dir + "/history/" + journal_name(run._writer.writer_id, 1)
deadline = time.monotonic() + 60
while (os.path.exists(first) or run._writer.rows_written < 300 * 5 + 70_000 * 4) and (
    time.monotonic() < deadline
):
    time.sleep(0.01)  # (the writer thread's ticks, no beat)
print(json.dumps(dict(run.summary)), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _killed(store: Path) -> tuple[RunPaths, dict[str, Any], dict[str, Any]]:
    """The killed run's files, its writer's state file, and the summary its process held."""
    res = python_script(KILLED)
    assert res.returncode == -9, res.stderr
    held = json.loads(res.stdout.strip().splitlines()[-1])
    paths = RunPaths(store / "runs" / "p" / "upto")
    (state,) = paths.writers.glob("*.json")
    return paths, json.loads(state.read_text()), held


def _summary(paths: RunPaths) -> dict[str, Any]:
    stored = StoredRun.load(paths)
    assert stored is not None and stored.state == "crashed"
    return typed(stored.summary)


def test_the_summary_is_caught_up_from_the_place_the_beat_recorded(store: Path) -> None:
    paths, state, held = _killed(store)
    at = state["stored_upto"]
    (segment,) = paths.history.glob(f"*-{at['segment']:06d}.arrows")  # open: killed
    assert 0 < at["byte"] < segment.stat().st_size  # rows before it and after it
    assert state["step"] == 299
    assert _summary(paths) == typed(held)
    assert held["_step"] == 70_299 and held["hi"] == 29_999 and held["one"] == 0
    assert not (paths.history / journal_name(state["writer"], 1)).exists()


@pytest.mark.parametrize(
    "place",
    [None, {"segment": 1, "byte": 7}, {"segment": "one", "byte": -1}],
    ids=["an older writer's state file: none", "no batch's start", "odd figures"],
)
def test_a_state_file_without_a_usable_place_gives_the_same_summary(
    store: Path, place: dict[str, Any] | None
) -> None:
    paths, state, held = _killed(store)
    state.pop("stored_upto")
    if place is not None:
        state["stored_upto"] = place
    atomic_write_json(paths.writer_state(state["writer"]), state)
    assert _summary(paths) == typed(held)
