"""The segment a writer is filling: its IPC file, held against takeover, and its sealed twin,
built as it fills.

Split out of store/writer.py, which decides what to write and when; this holds the open
segment and its twin, opens the next one, and hands a closed one to the sealer
(store/segment_sealer.py). Disk errors are raised (OSError) for the writer to handle.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from .journal import Mark
from .sealing import IncrementalSeal
from .segment_sealer import Sealer, open_segment
from .takeover import HeldSegment, warn_taken


class CurrentSegment:
    """The open segment of one writer (none between a close and the next batch)."""

    def __init__(
        self,
        history: Path,
        writer_id: str,
        schema: pa.Schema,
        sealer: Sealer,
        warn: Callable[[str], None],
    ) -> None:
        self.history = history
        self.writer_id = writer_id
        self._schema = schema
        self._sealer = sealer
        self._warn = warn
        self.held: HeldSegment | None = None
        #: the open segment's sealed twin (None: sealed from the IPC file when closed)
        self._sealing: IncrementalSeal | None = None
        self._seq = 0
        #: (segment number, byte) after this writer's last batch written: every row it
        #: stored before that place was logged before it was taken (a heartbeat records it,
        #: so that a killed writer's readers read only the rows after: store/summary_tail.py)
        self.stored_upto: tuple[int, int] | None = None

    @property
    def where(self) -> Path:
        """The open segment's file, else the directory the next one goes in (for messages)."""
        return self.held.path if self.held is not None else self.history

    def write(self, batch: pa.RecordBatch, mark: Mark, durable: bool = True) -> None:
        """Append a batch, opening a segment first if none is open, and feed the twin (which
        fdatasyncs each row group it writes if `durable`). Raises OSError."""
        if self.held is None:
            self.held, self._sealing, self._seq = open_segment(
                self.history, self.writer_id, self._seq, self._schema
            )
        self.held.write(batch, mark)
        self.stored_upto = (self._seq, self.held.segment.size)  # (one assignment: a pair)
        if self._sealing is not None:
            try:
                self._sealing.add(batch, durable)
            except (OSError, pa.ArrowException):  # sealed from its IPC file instead
                self._drop_sealing()

    def full(self, now: float, rows: int, seconds: float | None) -> bool:
        """Does the open segment hold `rows` rows, or has it held rows for `seconds`?"""
        if self.held is None:
            return False
        seg = self.held.segment
        old = seconds is not None and seg.rows > 0 and now - seg.opened >= seconds
        return seg.rows >= rows or old

    def ready_to_close(self, queued: bool) -> bool:
        """Make the open segment ready to close: its twin holds every batch (none `queued`)
        and the segment is still ours, or its IPC file is fsynced. False: it was taken
        (`take_back`). Raises OSError."""
        assert self.held is not None
        if self._sealing is not None and not queued:
            return self.held.held()  # the sealed twin's fsync makes every row durable
        return self.held.fsync()

    def close(self, mark: Mark | None) -> bool:
        """Close and seal the open segment (which holds every batch up to `mark`); returns
        whether its rows are durable now."""
        held, sealing = self.held, self._sealing
        assert held is not None
        self.held, self._sealing = None, None
        return self._sealer.close_segment(held, sealing, mark)

    def take_back(self) -> list[tuple[pa.RecordBatch, Mark | None]]:
        """A sealer claimed our segment (this process looked dead: store/takeover.py): the
        batches it may have missed, to write first into a new segment; warned once."""
        held = self.held
        assert held is not None
        self.forget()
        batches = held.hand_over()
        warn_taken(self.writer_id, held.path, self._warn)
        return batches

    def abandon(self) -> None:
        """After a write error the stream may be torn: stop using it (it is sealed later,
        or removed if no batch ever reached it, so a long outage leaves no empty files)."""
        held = self.held
        if held is None:
            return
        self.forget()
        held.abandon()  # what it holds is on disk, in a segment sealed later
        if held.segment.rows == 0:
            held.path.unlink(missing_ok=True)

    def forget(self) -> None:
        """Stop using the open segment (and drop its twin: the sealer seals the IPC file)."""
        self.held = None
        self._drop_sealing()

    def _drop_sealing(self) -> None:
        if self._sealing is not None:
            self._sealing.abandon()
            self._sealing = None
