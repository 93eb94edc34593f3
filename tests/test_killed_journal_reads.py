"""A writer killed with its rows after the last beat in its journals alone (the writer
thread never wrote them out): the index describes those journals from their row records
(store/journal_facts.py `journal_facts`, decoding only JSON rows), and readers catch the
summary up from the journal rows after the beat only, reading just those rows' data, and
when every key's rule is "last", decoding only each signature's last rows
(`journal_lasts`). What a user sees must be what the whole rows say: the summary the
process held, and the index's steps, values and keys as the history read back holds them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest

import flightlog
from flightlog.store import RunPaths, StoredRun
from flightlog.store.index import Index
from flightlog.store.journal import list_journals
from flightlog.store.segments import read_segments

from .conftest import python_script
from .summary_rows import typed

#: rows before a beat (a flush writes them and the state), then rows of several signatures,
#: JSON rows (text values) and bools and ints after it, none written out (the writer
#: thread's ticks 30 s apart) and more than a journal holds; then kill -9
KILLED = """
import json, os, signal
import flightlog
run = flightlog.init(project="p", id="jr", settings={
    "heartbeat_interval": 30.0, "flush_interval": 30.0, "fsync_interval": 30.0})
if os.environ["RULES"] == "rules":
    run.define_metric("loss", summary="min")
    run.define_metric("acc", summary="max")
for i in range(300):
    run.log({"loss": 1 / (i + 1), "acc": i / 300})
run._writer.flush()
for i in range(300, 70_300):
    row = {"loss": 2 / (i + 1)}
    if i % 3 == 0:
        row["acc"] = (i % 1000) / 1000
    if i % 7 == 0:
        row["note"] = f"n{i}"
    if i % 11 == 0:
        row["flag"] = i % 2 == 0
    if i % 13 == 0:
        row["count"] = i
    run.log(row)
print(json.dumps(dict(run.summary)), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _killed(store: Path, rules: str) -> tuple[RunPaths, dict[str, Any]]:
    res = python_script(KILLED, env={"RULES": rules})
    assert res.returncode == -9, res.stderr
    paths = RunPaths(store / "runs" / "p" / "jr")
    assert len(list_journals(paths.history)) >= 2  # the rows after the beat: journals only
    return paths, json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("rules", ["last", "rules"], ids=["every rule last", "min and max"])
def test_a_killed_writers_summary_holds_its_journal_rows_after_the_beat(
    store: Path, rules: str
) -> None:
    paths, held = _killed(store, rules)
    stored = StoredRun.load(paths)
    assert stored is not None and stored.state == "crashed"
    got = typed(stored.summary)
    assert got == typed(held)
    assert held["_step"] == 70_299 and held["note"] == "n70294" and held["count"] == 70_291
    run = flightlog.Api(str(store)).run("p/jr")  # (a new read: Api)
    assert typed(dict(run.summary)) == typed(held)


def test_the_index_describes_killed_journals_as_their_rows_read_back(store: Path) -> None:
    paths, _ = _killed(store, "last")
    rows = [t for _, t in read_segments(paths.history)]
    values = sum(t.num_rows for t in rows)
    keys = set().union(*(pc.unique(t.column("key")).to_pylist() for t in rows))
    assert values > 110_000  # every row, not only the last ones
    with Index(store) as idx:
        got = idx.con.execute('SELECT steps, "values", warnings FROM runs').fetchall()
        listed = {k for (k,) in idx.con.execute("SELECT DISTINCT key FROM segment_keys").fetchall()}
        times = idx.con.execute("SELECT max(time_max) FROM segments").fetchone()
    assert got == [(70_300, values, None)]
    assert listed == keys == {"loss", "acc", "note", "flag", "count"}
    last = max(pc.max(t.column("time")).value for t in rows) / 1e6
    assert times is not None and times[0] == pytest.approx(last, abs=1e-6)
