"""When the writer thread leaves `log()`'s rows in the journals: while `log()` runs hot.

Every time the writer thread takes the GIL from a training thread in a tight `log()` loop,
that thread waits for the handover (CPython makes the thread that drops the GIL wait until
the other has taken it, and a thread waiting for it asks for it only after the 5 ms switch
interval), and then for the writer's stretch of Python: converting journal rows to Arrow and
printing histograms took the GIL hundreds of times a second, each a stall of `log()` of up to
ms (issue 16 §2). Meanwhile the rows are safe where they are: a kill -9 loses none of the
rows in a journal, and readers read them there. So while `log()` commits more than
HOT_VALUES_PER_SECOND between two ticks, the writer leaves them in the journals and only
keeps its light work (heartbeat, msync, pages faulted in ahead), every HOT_TICK seconds
rather than every flush interval (each of those takes the GIL too); it converts them once the
loop slows down (an evaluation, the end of the loop), at `flush()`/`finish()`, or once the
backlog passes HOT_BACKLOG values or HOT_SECONDS: from there the loop's rows are converted as
it goes, as before (segments sealed by age still reach a server as the run goes); reaching
the values bound, which a loop that only logs does in about two seconds, is said once (its
calls of `log()` may take longer from there).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

#: values committed a second above which the loop is hot (a training step that logs ten
#: values a hundred times a second is 1,000; a loop that only logs, ~2 million). Below it the
#: writer's work is small (~2.5 ms a second at most), and a loop that sleeps or waits on a
#: GPU between its calls hands the GIL over without a forced switch
HOT_VALUES_PER_SECOND = 100_000
#: values (journal words: ~8 bytes each, in files, not the heap) left in the journals at most
#: while the loop is hot: ~32 MiB, about two seconds of a loop that only logs
HOT_BACKLOG = 1 << 22
#: seconds the writer leaves a hot loop's rows in the journals at most
HOT_SECONDS = 10.0

#: seconds between the writer's ticks while it leaves a hot loop's rows in the journals
HOT_TICK = 0.3


class HotLoop:
    """The writer's look at `log()`'s rate, one a tick (see the module's docstring)."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        #: values committed at the last look, and when
        self._seen = (0, time.monotonic())
        self._warn = warn
        self._said = False
        #: since when the backlog has been left in the journals (None: it is not)
        self._since: float | None = None

    def defer(self, converted: int, pending: int) -> bool:
        """Leave the `pending` values in the journals this tick? `converted`: the values
        converted so far (with `pending`, every value `log()` committed)."""
        now = time.monotonic()
        committed = converted + pending
        seen, at = self._seen
        self._seen = (committed, now)
        if committed - seen < HOT_VALUES_PER_SECOND * (now - at) or not pending:
            self._since = None
            return False
        if self._since is None:
            self._since = now
        if pending >= HOT_BACKLOG:  # past the bound: as it goes until the loop slows down,
            self._since = -math.inf  # as past HOT_SECONDS (not down to the bound, and again)
            if not self._said:
                self._said = True
                self._warn(
                    f"log() has outrun the writer thread: {pending:,} values wait in the "
                    "journals, so it now converts them while log() runs, and some log() calls "
                    "may take a few ms (said once)"
                )
        return now - self._since < HOT_SECONDS
