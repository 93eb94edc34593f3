"""Rows written past a journal's commit word are read when they prove whole
(store/journal_past_commit.py): a header whose commit stores were lost - three times in full
suites, a journal whose word stayed 0 under its returned rows - loses no row; a torn last
record, a record whose `log()` was cut short, and half a split row stay out."""

from __future__ import annotations

import json
import struct
import warnings
from pathlib import Path

import pytest

import flightlog
from flightlog.store import journal
from flightlog.store.doctor import check, repair
from flightlog.store.journal import JournalFile, JournalSnapshot, append_fast, commit_pending
from flightlog.store.schema import HIST

from .conftest import python_script

pytestmark = pytest.mark.slow

ROWS = 1000
#: every kind of journal row, in journals of 300 rows, all still in journals at the kill
#: (the writer thread never ticks): fast rows of two signatures, GENERIC and split rows
CHILD = f"""
    import os, flightlog
    import flightlog.store.rowlog as rowlog
    rowlog.ROWS_CAP, rowlog.WORDS_CAP = 300, 3000
    run = flightlog.init(project="pc", id="r", settings={{
        "flush_interval": 60, "console": "off", "stats_interval": 0}})
    for i in range({ROWS}):
        row = {{"i": i, "x": i / 4}}
        if i % 7 == 0:
            row["note"] = "n" * (i % 5)
        if i % 11 == 0:
            row["h"] = flightlog.Histogram(np_histogram=([i, 1], [0.0, 1.0, 2.0]))
        run.log(row)
    os.kill(os.getpid(), 9)
"""


def _rows(api: flightlog.Api) -> list[dict]:
    return [{k: r.get(k) for k in ("i", "x", "note", "h")} for r in api.run("pc/r").scan_history()]


def _set_commit(path: Path, n: int) -> None:
    with open(path, "r+b") as f:
        f.seek(8)
        f.write(struct.pack("<Q", n))


def _journals(history: Path) -> list[Path]:
    """The run's journals that hold rows (not the empty spare the writer had made ready)."""
    return [p for _, p in journal.list_journals(history) if JournalSnapshot.read(p).rows]


@pytest.fixture
def killed(store: Path, api: flightlog.Api) -> tuple[Path, list[dict]]:
    """A run killed with every row in journals, and what a reader reads of it."""
    res = python_script(CHILD)
    assert res.returncode == -9, res.stderr
    history = store / "runs" / "pc" / "r" / "history"
    journals = _journals(history)
    assert len(journals) > 3 and not list(history.glob("*.parquet"))
    rows = _rows(api)
    assert [r["i"] for r in rows] == list(range(ROWS))
    return history, rows


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_journal_whose_commit_word_stayed_behind_loses_no_row(
    killed: tuple[Path, list[dict]], api: flightlog.Api, store: Path, where: str
) -> None:
    """The commit word of one journal set back to 0 (as found in the failing suites) or to
    half its rows: the same rows are read, then sealed by `doctor --repair`, once each."""
    history, rows = killed
    journals = _journals(history)
    path = {"first": journals[0], "middle": journals[len(journals) // 2], "last": journals[-1]}
    committed = JournalSnapshot.read(path[where]).rows
    _set_commit(path[where], 0 if where != "middle" else committed // 2)
    assert _rows(api) == rows
    repair(store, check(store))
    assert not list(history.glob("*.journal"))
    assert _rows(api) == rows


def test_a_torn_last_record_past_the_commit_word_stays_out(
    killed: tuple[Path, list[dict]], api: flightlog.Api
) -> None:
    """The last journal's last record with its `end` cut (a kill inside the record's
    store), and its commit word behind: every row before it is read, it is not, and no
    warning says the journal is damaged."""
    history, rows = killed
    last = _journals(history)[-1]
    n = JournalSnapshot.read(last).rows
    with open(last, "r+b") as f:
        f.seek(journal.HEADER + 32 * (n - 1) + 24)
        (end,) = struct.unpack("<q", f.read(8))
        f.seek(journal.HEADER + 32 * (n - 1) + 24)
        f.write(struct.pack("<q", end & 0xFF if end > 0xFF else end - 1))
    _set_commit(last, n - 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _rows(api) == rows[:-1]


def _journal(tmp_path: Path) -> tuple[JournalFile, struct.Struct]:
    """A journal of five rows of signature 0 (two values), and its record's layout."""
    j = JournalFile(tmp_path / "w1-j000001.journal", 1, {"writer": "w1", "label": "", "jseq": 1})
    j.append_blob(0, 0.0, journal.DEFINE, journal.define_json(0, ["a", "b"], [0, 0]))
    for i in range(5):
        append_fast(j, i, 1.0 + i, 0, struct.Struct("<dd").pack_into, (i, i / 2), 2)
    return j, journal._REC


def test_a_row_whose_log_was_cut_short_before_it_was_counted_stays_out(tmp_path: Path) -> None:
    """A KeyboardInterrupt after a row's record but before `log()` counted it: the close's
    commit clears that record, so readers do not take it past the commit word (the writer,
    which never counted it, does not either)."""
    j, rec = _journal(tmp_path)
    n, end = j.pos
    j.mm[j.voff + 8 * end : j.voff + 8 * end + 16] = struct.pack("<dd", 5, 2.5)
    rec.pack_into(j.mm, j.roff + 32 * n, 5, 6.0, 0, end + 2)  # written, never counted
    assert JournalSnapshot.read(j.path).rows == n + 1  # (whole: read past the commit word)
    commit_pending(j)
    assert JournalSnapshot.read(j.path).rows == n
    j.close()


def test_half_a_split_row_past_the_commit_word_stays_out(tmp_path: Path) -> None:
    """A split row (numbers, then its histograms as a PACKED record) killed after its
    second record but before its first: neither is read. A record of the wrong width for
    its signature stops the reading there too."""
    j, rec = _journal(tmp_path)
    n, end = j.pos
    packed = json.dumps([["h", None, HIST, 0]]).encode()  # no counts, one bin edge
    packed += b" " * (-len(packed) % 8)
    blob = struct.pack("<q", len(packed)) + packed + struct.pack("<d", 1.0)
    at = j.voff + 8 * (end + 2)
    j.mm[at : at + len(blob)] = blob
    rec.pack_into(j.mm, j.roff + 32 * (n + 1), 5, 6.0, journal.PACKED, end + 2 + len(blob) // 8)
    assert JournalSnapshot.read(j.path).rows == n
    rec.pack_into(j.mm, j.roff + 32 * n, 5, 6.0, 0, end + 3)  # not the signature's 2 words
    assert JournalSnapshot.read(j.path).rows == n
    rec.pack_into(j.mm, j.roff + 32 * n, 5, 6.0, 0, end + 2)  # now whole, and its PACKED
    assert JournalSnapshot.read(j.path).rows == n + 2
    j.close()
