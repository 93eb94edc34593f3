"""Temp files of sealed copies (`.<wid>-<seq>.<hex>.parquet.tmp`, named here for
store/sealing.py IncrementalSeal), and those a killed process left in a run's stream
directory.

A writer builds its segment's sealed copy batch by batch in such a file while it writes
the segment, so one killed -9 leaves it behind, as big as the segment. Nothing reads it
(the IPC segment keeps every row); `doctor --repair` removes it, and so does a resume of
the run (store/takeover.py seal_abandoned), for the writers it proves gone.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from .layout import SegmentName, claimed_segment_name, parse_segment_name

TEMP_SUFFIX = ".parquet.tmp"


def temp_path(directory: Path, name: SegmentName) -> Path:
    """A new temp file for the sealed copy of segment `name` (`temp_segment` reads it)."""
    return directory / f".{name.stem}.{secrets.token_hex(4)}{TEMP_SUFFIX}"


def temp_segment(entry: str) -> SegmentName | None:
    """The segment a sealer's temp file `.<wid>-<seq>.<hex>.parquet.tmp` (`temp_path`) is a
    copy of."""
    if not (entry.startswith(".") and entry.endswith(TEMP_SUFFIX)):
        return None
    stem = entry[1:].split(".", 1)[0]
    return parse_segment_name(stem + ".arrows")


def unclaimed_temps(directory: Path, below_seq: int) -> list[tuple[SegmentName, Path]]:
    """Temp files in `directory` of segments numbered below `below_seq` (a writer's own,
    not recovered ones, which concurrent recoverers write) that no sealer has claimed:
    the file was made by the segment's writer. One being made by a sealer that claimed
    the segment has its `.claimed.arrows` file there while it is (a claim made before
    this looked at the temp file); the caller judges whether the writer is gone."""
    try:
        entries = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    out = []
    for entry in entries:
        name = temp_segment(entry)
        if name is None or name.seq >= below_seq:
            continue
        if not (directory / claimed_segment_name(name.writer, name.seq)).exists():
            out.append((name, directory / entry))
    return out
