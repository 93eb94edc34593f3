"""A side stream of rare samples (system metrics) next to a run's history.

Samples arrive every few seconds, not thousands a second, so this needs none of the
writer's batching: each sample is one record batch appended at once, from the sampler's own
thread, to an open segment in `<run>/system/`, sealed when the run finishes - and, like
history's (`WriterSettings.segment_seconds`), once it is `seal_after` seconds old, so that in
online mode the agent ships system metrics while the run trains instead of at its end. Same
segment format and names as history, so the same readers and sync handle it. A disk error
drops that sample, never the training.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from .layout import open_segment_name
from .rows import mixed_batch
from .schema import segment_schema
from .segments import seal
from .streams import OpenSegment
from .takeover import HeldSegment, warn_taken

FSYNC_EVERY = 1.0


class SampleWriter:
    """Appends one sample (a dict of scalars) per call; `_step` is the sample's number."""

    def __init__(
        self,
        directory: Path,
        writer_id: str,
        label: str,
        warn: Callable[[str], None],
        seal_after: float | None = None,
    ) -> None:
        self.directory = directory
        self.seal_after = seal_after
        self.samples = 0
        self._writer_id = writer_id
        self._schema = segment_schema(writer_id, label)
        self._warn = warn
        self._segment: HeldSegment | None = None
        self._seq = 0
        self._failed = False
        self._last_fsync = 0.0

    def write(self, t: float, row: dict[str, Any]) -> None:
        try:
            self._write([(mixed_batch([(self.samples, t, row)], self._schema), None)])
            assert self._segment is not None
            if time.monotonic() - self._last_fsync >= FSYNC_EVERY:
                if not self._segment.fsync():
                    self._carry_over()
                self._last_fsync = time.monotonic()
        except OSError as e:
            if not self._failed:
                self._failed = True
                self._warn(
                    f"cannot write system metrics to {self.directory}: "
                    f"{e.strerror or e}; samples are dropped while this lasts"
                )
            return
        self.samples += 1
        if self._old_enough_to_seal():
            self.close()  # the next sample opens the next segment

    def _old_enough_to_seal(self) -> bool:
        seg = self._segment
        return (
            self.seal_after is not None
            and seg is not None
            and time.monotonic() - seg.segment.opened >= self.seal_after
        )

    def _write(self, batches: list[tuple[pa.RecordBatch, Any]]) -> None:
        if self._segment is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            while self._segment is None:
                self._seq += 1
                path = self.directory / open_segment_name(self._writer_id, self._seq)
                try:
                    self._segment = HeldSegment(OpenSegment(path, self._schema))
                except FileExistsError:
                    continue
        for batch, _ in batches:
            self._segment.write(batch)
        if not self._segment.check():
            self._carry_over()

    def _carry_over(self) -> None:
        """Our segment was sealed by another process (store/takeover.py): go on in a new one."""
        seg, self._segment = self._segment, None
        assert seg is not None
        warn_taken(self._writer_id, seg.path, self._warn)
        self._write(seg.hand_over())

    def close(self) -> None:
        """End the stream and seal it (best effort)."""
        try:
            self._seal()
        except OSError as e:
            self._warn(f"cannot seal system metrics in {self.directory}: {e.strerror or e}")

    def _seal(self) -> None:
        """fsync, close and seal the open segment, if any."""
        try:
            while (seg := self._segment) is not None:
                if not seg.fsync():
                    self._carry_over()
                    continue
                self._segment = None
                seg.segment.close()
                seal(seg.path)
        except FileNotFoundError:
            pass  # claimed after its last fsync: its claimer seals all of it
