"""Which rows of a segment sealed from a journal the writer's own seals hold too.

A writer's sealed segments never overlap, save one case: a segment a takeover sealed from a
journal (store/takeover.py, numbered from RECOVERED_SEQ) in a store copied while the
writer's last rows were only in its journal. The copy's sync seals them; the next copy
brings the job's own seals, which hold the same rows. `history()` reads one row per writer
and step, but SQL over the files (`flightlog sql`, charts' counts) would read them twice.

A writer's own seals are contiguous from its first row, and its steps only grow: a
recovered segment is held by them up to the highest step they reach. Cut there, by steps,
with the statistics the index keeps; the recovered segments among themselves by the same
rule, in the order of their first steps (two takeovers of one journal overlap; the pieces
of one do not).
"""

from __future__ import annotations

from collections.abc import Iterable

from .takeover import RECOVERED_SEQ

#: a segment's index row, as far as this cut needs it: (its key, its writer, its number,
#: its lowest and highest step), None where unknown (such a segment is read whole)
Listed = tuple[str, str, int | None, int | None, int | None]


def held_elsewhere(segments: Iterable[Listed]) -> dict[str, int | None]:
    """{key: None} for the recovered segments whose every row another segment of the writer
    holds (left out), {key: step} for those that hold rows past `step` only (their rows up
    to it are left out); segments not named are read whole."""
    by_writer: dict[str, list[Listed]] = {}
    for seg in segments:
        by_writer.setdefault(seg[1], []).append(seg)
    out: dict[str, int | None] = {}
    for segs in by_writer.values():
        known = [s for s in segs if s[2] is not None and s[4] is not None]
        recovered = [s for s in known if s[2] >= RECOVERED_SEQ]  # type: ignore[operator]
        if not recovered:
            continue
        own = [s[4] for s in known if s[2] < RECOVERED_SEQ]  # type: ignore[operator]
        reach = max(own, default=None)  # every row up to this step is read elsewhere
        for key, _, _, lo, hi in sorted(recovered, key=lambda s: (s[3] or 0, -(s[4] or 0))):
            assert hi is not None
            if reach is not None and hi <= reach:
                out[key] = None
                continue
            if reach is not None and (lo is None or lo <= reach):
                out[key] = reach
            reach = hi
    return out
