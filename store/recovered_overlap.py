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
    by_writer: dict[str, list[tuple[str, int, int | None, int]]] = {}
    for key, writer, seq, lo, hi in segments:
        if seq is not None and hi is not None:
            by_writer.setdefault(writer, []).append((key, seq, lo, hi))
    out: dict[str, int | None] = {}
    for segs in by_writer.values():
        recovered = [s for s in segs if s[1] >= RECOVERED_SEQ]
        if not recovered:
            continue
        # every row up to this step is read elsewhere
        reach = max((s[3] for s in segs if s[1] < RECOVERED_SEQ), default=None)
        for key, _, lo, hi in sorted(recovered, key=lambda s: (s[2] or 0, -s[3])):
            if reach is not None and hi <= reach:
                out[key] = None
                continue
            if reach is not None and (lo is None or lo <= reach):
                out[key] = reach
            reach = hi
    return out
