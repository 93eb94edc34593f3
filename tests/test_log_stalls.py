"""Work `log()` did again and again or for nothing, found by tests/benchmarks/bench_log_stalls.py
(issue 16 §2: no `log()` call over 1 ms).

A flat row of plain values needs no flattening plan: its rows are their own rows. Compiling one
anyway (a dict display of every key) cost the first row of 10,000 keys ~250 ms. Each journal
holds a signature's DEFINE row: printed again at each rotation, it cost a 10,000-key row ~1.3
ms every 64 rows. And a rotation wakes the writer to make the next spare journal: rows that
fill a journal faster than the writer ticks found no spare at the next rotation, and log()
made one itself, then faulted on each of its pages."""

from __future__ import annotations

import sys
import threading
from typing import Any

import pytest

import flightlog
from flightlog.store import rowlog

from .servers import wait_until

#: the audit events "compile" and "exec" seen in the test's thread while collecting (None:
#: not collecting; the writer thread's first imports are exec events too). An audit hook
#: cannot be removed, so it stays in place and does nothing between tests
_seen: list[str] | None = None
_thread = threading.get_ident()


def _hook(event: str, _args: Any) -> None:
    if _seen is not None and event in ("compile", "exec") and threading.get_ident() == _thread:
        _seen.append(event)


sys.addaudithook(_hook)


def test_the_first_row_of_a_flat_shape_compiles_no_code() -> None:
    global _seen, _thread
    run = flightlog.init(project="p")
    _thread = threading.get_ident()
    row = {f"k{i}": float(i) for i in range(10_000)}
    _seen = []
    try:
        run.log(row)
        run.log({"a": 1.5, "b": "x", "c": None}, commit=False)  # held pending, then merged
        run.log({"a": 2.5, "b": "y", "c": None}, commit=False)
        run.log({"d": 3.0})
    finally:
        seen, _seen = _seen, None
    run.finish()
    assert seen == []
    rows = list(flightlog.Api().run(run.path).scan_history())
    assert [r["_step"] for r in rows] == [0, 1]
    assert rows[0]["k9999"] == 9999.0 and len([k for k in rows[0] if k.startswith("k")]) == 10_000
    assert (rows[1]["a"], rows[1]["b"], rows[1]["d"]) == (2.5, "y", 3.0)


def test_a_signatures_define_row_is_printed_once_whatever_the_journals_holding_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    printed = []

    def define_json(sid: int, keys: list[str], kinds: list[int]) -> bytes:
        printed.append(sid)
        return real(sid, keys, kinds)

    real = rowlog.define_json
    monkeypatch.setattr(rowlog, "define_json", define_json)
    run = flightlog.init(project="p")
    keys = [f"k{i}" for i in range(10_000)]
    for step in range(150):  # a journal holds 64 of these rows: three journals
        run.log({k: float(step) for k in keys})
    journals = run._writer._rows._jseq
    run.finish()
    assert journals >= 3 and printed == [0]
    rows = list(flightlog.Api().run(run.path).scan_history(keys=["k0", "k9999"]))
    assert [(r["_step"], r["k0"], r["k9999"]) for r in rows] == [
        (s, float(s), float(s)) for s in range(150)
    ]


def test_after_a_rotation_the_next_spare_journal_is_made_off_the_training_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made_by: list[str] = []

    class Journal(rowlog.JournalFile):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made_by.append(threading.current_thread().name)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(rowlog, "JournalFile", Journal)
    run = flightlog.init(project="p", settings={"flush_interval": 60.0})  # ticks once a minute
    rows = run._writer._rows
    wait_until(lambda: rows._spare is not None, 30, "the writer's first spare journal")
    keys = [f"k{i}" for i in range(10_000)]
    step, rotations = 0, 0
    while rotations < 2:  # a journal holds 64 of these rows
        before = rows.journal
        run.log({k: float(step) for k in keys})
        step += 1
        if rows.journal is not before:
            rotations += 1
            wait_until(lambda: rows._spare is not None, 30, "the spare after a rotation")
    run.finish()
    assert made_by[0] == threading.main_thread().name  # init() makes the first journal
    assert threading.main_thread().name not in made_by[1:]
    back = list(flightlog.Api().run(run.path).scan_history(keys=["k0"]))
    assert [r["k0"] for r in back] == [float(s) for s in range(step)]
