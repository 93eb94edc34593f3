"""A row of numbers followed by histograms is journaled in two parts, read back as one row.

Its numbers go into the journal as float64 words (the fast path) and only its histograms as a
PACKED row, both committed by one store (store/packed_rows.py `split_histograms`): what
readers see must be what the whole row as JSON gave, in the same order, across rotations.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flightlog import Histogram
from flightlog.store.journal import DEFINE, PACKED, REC_DTYPE, JournalSnapshot
from flightlog.store.packed_rows import journal_blob, split_histograms
from flightlog.store.rowlog import RowLog
from flightlog.store.rows import journal_tail
from flightlog.store.schema import encode_value

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**60), 2**60),  # past 2**53: not exact as a float64, so not split
    st.booleans(),
)


@st.composite
def histograms(draw: st.DrawFn) -> Histogram:
    counts = draw(st.lists(st.integers(0, 2**40), min_size=1, max_size=20))
    edges = sorted(draw(st.lists(st.floats(-1e6, 1e6), min_size=len(counts) + 1)))
    return Histogram(np_histogram=(counts, edges[: len(counts) + 1]))


@st.composite
def rows(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.text("abcxyz._", min_size=1), min_size=1, max_size=8, unique=True))
    plain = draw(st.integers(0, len(keys)))
    row = {k: draw(numbers) for k in keys[:plain]}
    row.update({k: draw(st.one_of(histograms(), numbers)) for k in keys[plain:]})
    return row


def tidy(row: dict[str, Any]) -> list[list[Any]]:
    return json.loads(json.dumps([[k, *encode_value(v)] for k, v in row.items()]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rows(), min_size=1, max_size=12), st.integers(0, 12))
def test_split_rows_read_back_as_the_whole_rows_did(
    tmp_path_factory: Any, logged: list[dict[str, Any]], rotate_at: int
) -> None:
    """Every value of every row, in its row's order, with the text its JSON had; a rotation
    anywhere (each journal is read on its own, as recovery reads it)."""
    history = tmp_path_factory.mktemp("h")
    log = RowLog(history, "w", "", threading.RLock(), warn=print)
    for step, row in enumerate(logged):
        if step == rotate_at:
            log.rotate()
        log.append(step, 1.0, row, -1)
    journals = sorted(history.glob("*.journal"))
    snaps = [JournalSnapshot.read(p) for p in journals]
    log.close(None)
    got: list[list[Any]] = []
    steps: list[int] = []
    for snap in snaps:
        table = journal_tail(snap, None)
        if table is not None:
            steps += table.column("step").to_pylist()
            cols = [table.column(c).to_pylist() for c in ("key", "value", "kind", "text")]
            got += [list(v) for v in zip(*cols, strict=True)]
    want = [v for row in logged for v in tidy(row)]
    assert json.dumps(got) == json.dumps(want)
    assert steps == [s for s, row in enumerate(logged) for _ in row]


def test_a_row_of_numbers_then_a_histogram_keeps_its_numbers_as_words(tmp_path: Path) -> None:
    """The numbers take the fast path (a signature's float64 words), the histogram a PACKED
    row of its own, the two rows written one after the other; rows that are not numbers then
    histograms (a string, a histogram before a number) stay whole."""
    log = RowLog(tmp_path, "w", "", threading.RLock(), warn=print)
    h = Histogram(np_histogram=([3, 1], [0.0, 0.5, 1.0]))
    log.append(0, 1.0, {"loss": 0.5, "i": 3, "ok": True, "h": h}, -1)
    log.append(1, 1.0, {"loss": 0.25, "i": 4, "ok": False, "h": h}, -1)
    log.append(2, 1.0, {"h": h, "loss": 0.5}, -1)
    log.append(3, 1.0, {"s": "x", "h": h}, -1)
    (snap,) = [s for p in tmp_path.glob("*.journal") if (s := JournalSnapshot.read(p)).rows]
    log.close(None)
    sids = np.frombuffer(snap.records, REC_DTYPE)["sid"].tolist()
    # (the last, ("s", "h"), is PACKED too: the histogram packed, the string as JSON)
    assert sids == [DEFINE, DEFINE, 0, PACKED, 0, PACKED, PACKED, PACKED]
    table = journal_tail(snap, None)
    assert table is not None
    assert table.column("key").to_pylist() == ["loss", "i", "ok", "h"] * 2 + ["h", "loss", "s", "h"]
    assert table.column("step").to_pylist() == [0] * 4 + [1] * 4 + [2, 2] + [3, 3]


def test_split_rows_past_a_journals_end_go_whole_into_the_next(tmp_path: Path) -> None:
    """A split row is never cut by a rotation: both parts, and the DEFINE rows they need, go
    into the same journal, so each journal reads back on its own."""
    log = RowLog(tmp_path, "w", "", threading.RLock(), warn=print)
    h = Histogram(np_histogram=([3, 1], [0.0, 0.5, 1.0]))
    n = 40_000  # two records a row: past one journal's 65,536 records
    for step in range(n):
        log.append(step, 1.0, {"x": float(step), "h": h}, -1)
    snaps = [JournalSnapshot.read(p) for p in sorted(tmp_path.glob("*.journal"))]
    log.close(None)
    steps: list[int] = []
    for snap in [s for s in snaps if s.rows]:
        sids = np.frombuffer(snap.records, REC_DTYPE)["sid"].tolist()
        assert sids[:4] == [DEFINE, DEFINE, 0, PACKED] and len(sids) % 2 == 0
        table = journal_tail(snap, None)
        assert table is not None
        assert table.column("key").to_pylist() == ["x", "h"] * (len(sids) // 2 - 1)
        steps += table.column("step").to_pylist()[::2]
    assert len([s for s in snaps if s.rows]) >= 2 and steps == list(range(n))


other_rows = st.one_of(
    st.builds(lambda h, x: {"loss": x, "n": 1.0, "h": h}, histograms(), st.floats()),
    st.builds(lambda s: {"phase": s, "loss": 0.5}, st.one_of(st.text(), st.none())),
    st.builds(lambda h: {"h": h}, histograms()),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(st.builds(lambda x: {"loss": x, "n": 1.0}, st.floats()), other_rows),
        min_size=1,
        max_size=40,
    )
)
def test_rows_of_one_signature_with_others_between_read_back_in_order(
    tmp_path_factory: Any, logged: list[dict[str, Any]]
) -> None:
    """The common batch of a training loop: one signature's rows, and now and then a row
    with a histogram, a string or a None (each value put after the rows before its own)."""
    history = tmp_path_factory.mktemp("h")
    log = RowLog(history, "w", "", threading.RLock(), warn=print)
    for step, row in enumerate(logged):
        log.append(step, float(step), row, -1)
    (snap,) = [s for p in history.glob("*.journal") if (s := JournalSnapshot.read(p)).rows]
    log.close(None)
    table = journal_tail(snap, None)
    assert table is not None
    cols = [table.column(c).to_pylist() for c in ("key", "value", "kind", "text")]
    want = [v for row in logged for v in tidy(row)]
    assert json.dumps([list(v) for v in zip(*cols, strict=True)]) == json.dumps(want)
    steps = [s for s, row in enumerate(logged) for _ in row]
    assert table.column("step").to_pylist() == steps
    assert [t.timestamp() for t in table.column("time").to_pylist()] == [float(s) for s in steps]


def test_a_row_that_does_not_split_packs_its_histograms_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """log()'s path: a row with a histogram that cannot be split (the histogram first, or a
    string after it) was packed by the split's attempt, then again whole (2 packs a row)."""
    packs = []
    words = Histogram.journal_words

    def counted(self):  # type: ignore[no-untyped-def]
        packs.append(1)
        return words(self)

    monkeypatch.setattr(Histogram, "journal_words", counted)
    h = Histogram(np.arange(100.0))
    for row in ({"h": h}, {"h": h, "loss": 0.5}, {"loss": 0.5, "h": h, "s": "x"}, {"i": 1, "h": h}):
        packs.clear()
        if split_histograms(row) is None:
            journal_blob(row)
        assert len(packs) == 1, row
