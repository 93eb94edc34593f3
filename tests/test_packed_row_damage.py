"""A damaged PACKED journal row (store/packed_rows.py) is refused as damage, never read back
as a histogram nobody logged: words that do not add up to its histograms' counts."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from flightlog import Histogram
from flightlog.store.journal import PACKED, JournalDamaged, JournalFile, JournalSnapshot
from flightlog.store.packed_rows import journal_blob
from flightlog.store.rows import journal_tail
from flightlog.store.schema import HIST


def _packed(count: int, words: np.ndarray) -> bytes:
    head = json.dumps([["h", None, HIST, count]]).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<q", len(head)) + head + words.tobytes()


def _read(path: Path, blob: bytes) -> None:
    j = JournalFile(path, 1, {"writer": "w", "label": "", "jseq": 1}, 16, 1024)
    j.append_blob(0, 1.0, PACKED, blob)
    j.close()
    journal_tail(JournalSnapshot.read(path), None)


def test_a_negative_count_is_damage(tmp_path: Path) -> None:
    # np.frombuffer took count -1 as "the rest of the row": a histogram of made-up counts
    with pytest.raises(JournalDamaged, match="negative number of counts"):
        _read(tmp_path / "w-j000001.journal", _packed(-1, np.arange(4, dtype=np.int64)))


def test_words_past_the_histograms_are_damage(tmp_path: Path) -> None:
    code, data = journal_blob({"h": Histogram(np_histogram=([1, 2], [0.0, 0.5, 1.0]))})
    assert code == PACKED
    with pytest.raises(JournalDamaged, match="do not match its histograms"):
        _read(tmp_path / "w-j000001.journal", data + bytes(8))
