"""The media a run logged, for the media pane: loaded in worker threads, no widgets here.

`load_media` lists every media key with the steps it was logged at and the reference of each
(see store/media_ref.py); `load_content` reads what one panel shows (an image, a table).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from flightlog.store import RunPaths, StoredRun
from flightlog.store.catalog import RunLookupError
from flightlog.store.media_ref import MediaRef
from flightlog.store.schema import MEDIA, decode_value

#: images of one "images" value shown side by side, at most
MAX_IMAGES = 8
#: table rows shown in the pane, at most
MAX_TABLE_ROWS = 1000


@dataclass
class MediaKey:
    """One logged media key: its references in step order."""

    key: str
    steps: list[int]
    refs: list[MediaRef]

    @property
    def kind(self) -> str:
        return self.refs[-1].kind if self.refs else ""

    def index_at(self, step: int) -> int:
        """The last value logged at or before `step` (the first one before any)."""
        return max(bisect_right(self.steps, step) - 1, 0)


def load_media(root: Path, run_key: str) -> list[MediaKey]:
    """Every media key of the run, sorted by name."""
    stored = StoredRun.load(RunPaths.of_key(root, run_key))
    if stored is None:
        raise RunLookupError(f"run {run_key} is no longer in {root}")
    tidy = stored.tidy()
    tidy = tidy.filter(pc.equal(tidy.column("kind"), MEDIA))
    tidy = tidy.take(pc.sort_indices(tidy, [("key", "ascending"), ("step", "ascending")]))
    keys: dict[str, MediaKey] = {}
    for key, step, text in zip(
        tidy.column("key").to_pylist(),
        tidy.column("step").to_pylist(),
        tidy.column("text").to_pylist(),
        strict=True,
    ):
        entry = keys.setdefault(key, MediaKey(key, [], []))
        entry.steps.append(step)
        entry.refs.append(decode_value(None, MEDIA, text, stored.paths.dir))
    return list(keys.values())


def load_content(ref: MediaRef) -> Any:
    """What a panel shows for `ref`: PIL images for images, a LoadedTable for a table (at
    most MAX_TABLE_ROWS rows), None for audio, video and HTML (listed with their metadata).
    A file that cannot be read gives the reason as a string."""
    from PIL import Image

    try:
        if ref.kind in ("image-file", "images"):
            out = []
            for r in ref.refs()[:MAX_IMAGES]:
                with Image.open(r.file()) as im:
                    im.load()
                    out.append(im.copy())
            return out
        if ref.kind == "table-file":
            table = ref.load()
            table.data = table.data[:MAX_TABLE_ROWS]
            return table
    except (OSError, ValueError) as e:
        return f"cannot read this {ref.kind}: {e}"
    return None


def describe(ref: MediaRef) -> str:
    """One line of metadata: kind, size, format, dimensions, caption (raw: escape to show)."""
    parts = [ref.kind.removesuffix("-file")]
    if ref.kind == "images":
        parts.append(f"{ref.get('count', len(ref.refs()))} images")
    if "width" in ref and "height" in ref:
        parts.append(f"{ref['width']}×{ref['height']}")
    if "nrows" in ref:
        parts.append(f"{ref['nrows']} rows × {ref.get('ncols', '?')} columns")
    if "duration" in ref:
        parts.append(f"{float(ref['duration']):.2f} s at {ref.get('sample_rate')} Hz")
    if "frames" in ref:
        parts.append(f"{ref['frames']} frames at {ref.get('fps')} fps")
    if "chart" in ref and isinstance(ref["chart"], dict):
        parts.append(f"{ref['chart'].get('type')} chart")
    if ref.get("format"):
        parts.append(str(ref["format"]))
    if isinstance(ref.get("size"), int):
        parts.append(f"{ref['size']:,} bytes")
    if ref.dropped:
        parts.append(f"not stored: {ref.dropped}")
    if ref.get("caption"):
        parts.append(f"“{ref['caption']}”")
    return " · ".join(parts)
