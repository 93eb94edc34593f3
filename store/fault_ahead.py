"""How far ahead of `log()` the writer thread faults in journal pages (store/prefault.py
says why a page fault taken by `log()` is a stall): as far as log() writes in the next few
ticks at its latest rate, and past the journal's end into the spare, where log() goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .journal import JournalFile

#: pages faulted in ahead of log() at least: ~8k rows of 10 values
AHEAD_ROWS = 8192
AHEAD_WORDS = 8 * AHEAD_ROWS
#: and at least this many times what log() wrote since the last look, and what it writes
#: in AHEAD_SECONDS at that rate: behind a hot loop each step of a tick waits for the GIL
#: (up to the 5 ms switch interval), so a tick takes up to ~0.5 s, several times the one
#: before (twice the last tick was outrun by a mixed-row loop: 0.4-1.6k of its log() calls
#: per 200k took a page fault)
AHEAD_TICKS = 4
AHEAD_SECONDS = 1.0


class FaultAhead:
    """The writer thread's looks at log()'s journal: where it stood at the last one, and
    when, which give log()'s rate."""

    def __init__(self) -> None:
        #: log()'s journal and position at the last look
        self._journal: JournalFile | None = None
        self._seen = (0, 0)
        self._seen_at = time.monotonic()

    def fault_in(self, j: JournalFile, spare: Callable[[], JournalFile | None]) -> None:
        """Fault in the pages log() writes next in its journal `j` (AHEAD_TICKS says how
        far), at the end of each tick and at the start of the next: the first tick
        (imports, a new segment) is the longest, and the first look knows no rate yet. What
        runs past the end of `j` is faulted in at the start of the `spare()` journal, where
        log() goes on (the spare alone had AHEAD_ROWS: log() faulted after each rotation)."""
        n, end = j.pos
        rows, words = n, end  # written since the last look
        if self._journal is j:
            rows, words = n - self._seen[0], end - self._seen[1]
        elif self._journal is not None:  # a rotation since: the old one's last rows too
            old_n, old_end = self._journal.pos
            rows, words = rows + old_n - self._seen[0], words + old_end - self._seen[1]
        now = time.monotonic()
        ahead = max(AHEAD_TICKS, AHEAD_SECONDS / max(now - self._seen_at, 1e-3))
        self._journal, self._seen, self._seen_at = j, (n, end), now
        rows = max(AHEAD_ROWS, int(ahead * rows))
        words = max(AHEAD_WORDS, int(ahead * words))
        j.populate_ahead(rows, words)
        after = spare()  # (after j's pages: log() may have gone on in it meanwhile)
        if after is not None and after is not j:
            past = (n + rows - j.rows_cap, end + words - j.words_cap)
            after.populate_ahead(max(AHEAD_ROWS, past[0]), max(AHEAD_WORDS, past[1]))
