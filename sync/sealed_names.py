"""The sealed segment names of the run directories a receiving store placed into lately
(receive.py): one listing per directory rather than one per upload."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

from flightlog.store.layout import SegmentName, parse_segment_name


class SealedNames:
    """The sealed segment names of the run directories uploads were placed into lately, by
    stem (writer and number): one listing per directory rather than one per upload, which
    made a run's sync quadratic (listing a 500-segment directory takes 2-5 ms here). A
    directory whose mtime is not the one this cache left it at was changed by someone else
    (a file removed or put there by hand): it is listed again. Holds DIRECTORIES at most."""

    DIRECTORIES = 256

    def __init__(self) -> None:
        self._dirs: OrderedDict[Path, tuple[int, dict[str, str]]] = OrderedDict()

    def twin(self, directory: Path, seg: SegmentName) -> str | None:
        """The name of the sealed segment stored with `seg`'s writer and number, if any.

        A directory's mtime moves in clock ticks (milliseconds): a file removed in the tick
        of the last placement leaves it unchanged, so a remembered name is checked to exist
        (one stat, not a listing) - "already stored" is never answered for a file that is
        gone. A file put there by hand in that same tick is not seen until the next change."""
        mtime = directory.stat().st_mtime_ns
        known = self._dirs.get(directory)
        if known is not None and known[0] == mtime:
            name = known[1].get(seg.stem)
            if name is None or (directory / name).exists():
                self._dirs.move_to_end(directory)
                return name
        names = {}
        for entry in os.listdir(directory):
            parsed = parse_segment_name(entry)
            if parsed is not None and parsed.sealed:
                names[parsed.stem] = entry
        self._dirs[directory] = (mtime, names)
        self._dirs.move_to_end(directory)
        if len(self._dirs) > self.DIRECTORIES:
            self._dirs.popitem(last=False)
        return names.get(seg.stem)

    def placed(self, directory: Path, seg: SegmentName, name: str) -> None:
        """`name` was just renamed into `directory` by this store."""
        known = self._dirs.get(directory)
        if known is not None:
            known[1][seg.stem] = name
            self._dirs[directory] = (directory.stat().st_mtime_ns, known[1])
