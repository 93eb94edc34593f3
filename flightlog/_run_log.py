"""`Run.log` and `define_metric`: the training thread's hot path.

`log()` validates, merges into the pending row and, on commit, stores the row in the
writer's memory-mapped journal (store/rowlog.py) under the run's lock: no system call, no
Arrow. Rows of a shape seen before skip validation (`_normalize`). `Run` inherits these.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from flightlog.store.signatures import Signature, signature

from ._summary import MetricDef, parse_metric
from ._validate import MAX_STEP
from ._validate import check_step as _as_step
from ._values import normalize

if TYPE_CHECKING:
    from ._run import Run


class RunLog:
    """The logging members of `Run` (see the module's docstring)."""

    def log(
        self: Run, data: dict[str, Any], step: int | None = None, commit: bool | None = None
    ) -> None:
        """Record `data` for `step` (wandb semantics; see README "log() semantics")."""
        if not self._live:
            self._log_after_finish()
            return
        row, sig, sid = self._normalize(data)
        with self._lock:
            if not self._live:  # finished meanwhile (SIGTERM's helper thread, another thread)
                self._log_after_finish()
                return
            if step is not None:
                if type(step) is not int or not 0 <= step <= MAX_STEP:
                    step = _as_step(step)
                if step > self._step:
                    if self._pending:
                        self._commit()
                    self._step = step
                elif step < self._step:
                    self._warn_once(
                        "step",
                        f"log() got step {step} but the run is at step {self._step}; steps must "
                        "not decrease, so that row is dropped (warned once)",
                    )
                    return
                self._pending.update(row)
                if commit:
                    self._commit()
            elif commit is not False and not self._pending:
                self._commit(row, sig, sid)  # the common case: one dict, one row
            else:
                self._pending.update(row)
                if commit is not False:
                    self._commit()

    def _normalize(self: Run, data: Any) -> tuple[dict[str, Any], Signature, int | None]:
        """`normalize`, skipped for rows of a signature or a shape (nested dicts, numpy
        scalars: flightlog/_shapes.py) seen before."""
        known = self._writer.signatures.ids  # type: ignore[union-attr]
        if type(data) is not dict:
            return normalize(data, known, self._media)
        shape = signature(data)
        sid = known.get(shape)
        if sid is not None:
            return data, shape, sid
        flat = self._shapes.flatten(shape, data, known)
        if flat is not None:
            return flat
        row, sig, sid = normalize(data, known, self._media)
        self._shapes.learn(shape, data, row)
        return row, sig, sid

    def _log_after_finish(self: Run) -> None:
        """A row for a finished run is not recorded: counted, and said once unless the run
        was finished for a signal (the process is ending; see _hooks.terminate)."""
        if self._pid != os.getpid():  # a forked child (flightlog._hooks)
            self._warn_once(
                "forked",
                f"run {self.id} is recorded by process {self._pid}; log() in this forked "
                'process is not recorded (flightlog.init(reinit="create_new") starts a run '
                "of its own here)",
                depth=1,
            )
            return
        if not self._finished:
            return  # a disabled run
        self._dropped_after_finish += 1
        if not self.terminated:
            self._warn_once(
                "finished",
                f"run {self.id} is finished; log() is ignored. "
                "Start another run with flightlog.init()",
                depth=1,
            )

    def _commit(
        self: Run,
        row: dict[str, Any] | None = None,
        sig: Signature | None = None,
        sid: int | None = None,
    ) -> None:
        """Hand one row to the writer (under the lock); without arguments, the pending row.

        An exception may land between any two bytecodes here (Ctrl-C inside log()). The step
        is taken first, so an interrupted commit leaves a gap in the steps, never a repeated
        one; `writer.append` keeps the row whole or not at all; the summary follows the row
        only once it is kept, so it never shows a value the history lacks."""
        writer = self._writer
        pending = row is None
        if row is None:
            row = self._pending
            if not row or writer is None:
                return
            sig = signature(row)
            sid = writer.signatures.ids.get(sig)
        assert writer is not None
        if sid is None:
            sid = writer.signatures.register(sig)  # type: ignore[arg-type]
        step = self._step
        t = time.time()
        self._step = step + 1
        writer.append(step, t, row, sid)
        if pending:
            self._pending = {}
        self._last.update(row)
        if self._aggs.defs:
            self._aggs.fold(row)
        self._last_time = t
        self._last_step = step

    def define_metric(
        self: Run,
        name: str,
        step_metric: str | None = None,
        summary: str | None = None,
        goal: str | None = None,
        hidden: bool = False,
        **_ignored: Any,
    ) -> MetricDef:
        """Choose how `name` (or a glob like "val/*") is summarised and what its x-axis is."""
        d = parse_metric(name, summary, step_metric, goal, hidden)
        with self._lock:
            self._aggs.define(d, self._last)
            self._set_meta("metrics", [x.as_json() for x in self._aggs.defs])
        return d
