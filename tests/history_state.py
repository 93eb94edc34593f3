"""What a run's history directory holds, file by file, for a failing kill -9 check to print:
each journal's header (committed and synced row counts, boot) and the steps of its committed
records and of any written past its commit word, each segment's steps and journal mark, and
each sealed twin being written. With it, a row lost once on a loaded machine names the file
and the rule that dropped it next time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from flightlog.store import journal
from flightlog.store.segments import list_segments, read_segment_checked, segment_mark


def missing(got: list[int], returned: int) -> str:
    """The rows whose log() returned that a read lacks, as spans."""
    gone = sorted(set(range(returned)) - set(got))
    if not gone:
        return "none"
    spans, start = [], gone[0]
    for a, b in zip(gone, [*gone[1:], None], strict=True):
        if b != a + 1:
            spans.append(f"{start}..{a}" if a != start else str(a))
            start = b
    return ", ".join(spans[:10]) + (" ..." if len(spans) > 10 else "")


def describe(history: Path) -> str:
    """Every journal's header and records, every segment's steps and mark (see above)."""
    lines = [f"files: {sorted(p.name for p in history.iterdir())}"]
    for _, path in journal.list_journals(history):
        head = _header(path)
        if head is None:
            lines.append(f"journal {path.name}: {path.stat().st_size} bytes, no header")
            continue
        n, synced, boot, recs, upto = head
        rows = recs[:n][recs[:n]["sid"] != journal.DEFINE]
        past = recs[n:upto][recs[n:upto]["sid"] != journal.DEFINE]
        lines.append(
            f"journal {path.name}: committed {n}, synced {synced}, {boot}; steps "
            f"{_span(rows['step'])}; records past the commit word: {_span(past['step'])}"
        )
    for _, path in list_segments(history):
        try:
            table, note = read_segment_checked(path)
        except Exception as e:  # a description, whatever the file holds
            lines.append(f"segment {path.name}: unreadable ({e!r})")
            continue
        steps = np.unique(table.column("step").to_numpy())
        lines.append(
            f"segment {path.name}: {table.num_rows} values, steps {_span(steps)}, "
            f"mark {segment_mark(path)}" + (f", {note}" if note else "")
        )
    for tmp in sorted(history.glob(".*.tmp")):
        try:
            lines.append(f"temp {tmp.name}: whole, {pq.read_metadata(tmp).num_rows} values")
        except Exception:
            lines.append(f"temp {tmp.name}: {tmp.stat().st_size} bytes, no footer yet")
    return "\n".join(lines)


def commit_lags(history: Path) -> list[str]:
    """Journals whose records go more than a split row (2 records) past their commit word:
    what a kill leaves is at most that, so more means commit stores were lost (seen three
    times in full suites; readers now read such rows, store/journal_past_commit.py)."""
    journals = [path for _, path in journal.list_journals(history)]
    out = []
    for path in journals:
        head = _header(path)
        if head is not None and head[4] > head[0] + 2:
            n, synced, boot, _, upto = head
            out.append(
                f"{path.name}: commit word {n}, synced {synced}, {boot}, records written up "
                f"to {upto}, journals {[p.name for p in journals]}"
            )
    return out


def _header(path: Path) -> tuple[int, int, str, np.ndarray, int] | None:
    """A journal's (commit word, synced count, boot, records, records written up to), as
    its file holds them; None before its header is written."""
    raw = path.read_bytes()
    if len(raw) < journal.HEADER or raw[:8] != journal.MAGIC:
        return None
    _, n, synced, rows_cap, _, boot, _ = journal._HEAD.unpack_from(raw)
    recs = np.frombuffer(raw[journal.HEADER : journal.HEADER + 32 * rows_cap], journal.REC_DTYPE)
    written = np.flatnonzero(recs["end"] != 0)
    same = "this boot" if boot == journal.boot_id() else f"boot {boot.hex()}"
    return n, synced, same, recs, int(written[-1]) + 1 if len(written) else 0


def _span(steps: np.ndarray) -> str:
    if not len(steps):
        return "none"
    gaps = int(np.count_nonzero(np.diff(steps) != 1))
    return f"{int(steps[0])}..{int(steps[-1])} ({len(steps)}" + (f", {gaps} gaps)" if gaps else ")")
