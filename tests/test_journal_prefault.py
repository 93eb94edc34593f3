"""The writer thread faults in the journal pages log() writes next, so log() takes no page
fault of its own (store/prefault.py): ahead of a loop whose rate outruns the writer's ticks,
and across a rotation into the spare journal."""

from __future__ import annotations

import resource
import sys
import threading
from collections import deque
from pathlib import Path

import pytest

from flightlog.store.fault_ahead import AHEAD_TICKS
from flightlog.store.rowlog import RowLog
from flightlog.store.schema import segment_schema
from flightlog.store.signatures import signature

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="pages are faulted in ahead on Linux only"
)


def test_pages_past_the_end_of_logs_journal_are_faulted_in_at_the_start_of_the_spare(
    tmp_path: Path,
) -> None:
    """A hot loop fills most of a journal between two looks of the writer; the next look
    faults in what AHEAD_TICKS such stretches write, and what runs past the journal's end
    is where log() goes on: the start of the spare (it had 8k rows, and log() faulted on
    every new page after each rotation until the writer's next look)."""
    log = RowLog(tmp_path, "w", "", threading.RLock(), warn=print)
    log.prepare()
    row = {f"m{i}": 0.5 for i in range(7)}
    sid = log.signatures.register(signature(row))
    first = log.journal
    hot = first.rows_cap - 8000
    for step in range(hot):
        log.append(step, 1.0, row, sid)
    log.prepare()
    for step in range(hot, hot + 9000):  # past the end: log() goes on in the spare
        log.append(step, 1.0, row, sid)
    spare = log.journal
    assert spare is not first
    past = hot + AHEAD_TICKS * hot - first.rows_cap
    assert spare.populated[0] >= min(spare.rows_cap, past)
    assert spare.populated[1] >= min(spare.words_cap, 7 * past)
    log.close(None)


def test_rows_logged_after_the_writers_msync_take_no_page_fault(tmp_path: Path) -> None:
    """The writer msyncs the journal every second: only what is written, so that the pages
    faulted in ahead stay writable (msync write-protects the pages it writes back, and
    log() took a fault on every record page past the last msync)."""
    log = RowLog(tmp_path, "w", "", threading.RLock(), warn=print)
    row = {f"m{i}": 0.5 for i in range(7)}
    sid = log.signatures.register(signature(row))
    for step in range(100):
        log.append(step, 1.0, row, sid)
    log.prepare()
    log.sync()
    faults = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    for step in range(100, 4100):  # 31 record pages, 55 data pages, all faulted in
        log.append(step, 1.0, row, sid)
    faults = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - faults
    assert faults <= 4  # the pages msync left half written, and any of Python's own
    log.close(None)


def test_the_writer_faults_pages_in_at_the_start_of_a_tick_too(tmp_path: Path) -> None:
    """The first look (the writer thread's start) knows no rate and faults in AHEAD_ROWS;
    the first tick (imports, a new segment) is the longest. Its start looks again, so a
    loop that ran past the first pages meanwhile stays ahead of its faults (it faulted on
    every new page until that tick's end: 20-30k rows of a hot loop)."""
    log = RowLog(tmp_path, "w", "", threading.RLock(), warn=print)
    log.prepare()
    row = {f"m{i}": 0.5 for i in range(7)}
    sid = log.signatures.register(signature(row))
    for step in range(12_000):
        log.append(step, 1.0, row, sid)
    log.take(segment_schema("w", ""), deque())
    j = log.journal
    assert j.populated[0] >= min(j.rows_cap, 12_000 + AHEAD_TICKS * 12_000)
    log.close(None)
