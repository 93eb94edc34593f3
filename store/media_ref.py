"""Media in history rows: what the writer stores (`MediaValue`) and what readers get (`MediaRef`).

A logged image, table, audio clip, video or HTML page is never kept in the history itself: its
file lives once in the run's `media/` directory as a content-addressed blob (store/blobs.py)
and the history row holds a typed reference to it, JSON in the `text` column (kind MEDIA):

    {"_type": "image-file", "path": "media/ab/ab12...", "sha256": "ab12...", "size": 1234,
     "format": "png", "width": 64, "height": 64, "caption": "..."}

`_type` is one of wandb's names (image-file, table-file, audio-file, video-file, html-file),
or "images" for a list logged under one key (its references in "items"). A reference whose
file was not stored (the run's media budget was spent, or encoding failed) has no "path" and
says why in "dropped": a reference never points to a file that is not there, because the
writer thread encodes and stores the blob (renamed into place: the page cache keeps it
through a kill -9) before it commits the reference naming it to the journal, as a value of
the row's step (store/writer.py `_store_media`; the row's other values are committed by
log() itself), and the writer fsyncs the run's new blobs before each msync of the journal
(so a power loss, too, takes a reference with its blob or neither).

A reference read from a server (`Api(host=)`) is bound to a `MediaSource` instead of a run
directory: its blob is fetched when the file is first wanted (flightlog/sync/remote_blobs.py).

The store never imports the flightlog package: `MediaValue` is the interface flightlog's
media types implement, and `MediaRef.load()` reads files with numpy, pyarrow and Pillow.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

#: Parquet schema metadata naming the table columns stored as JSON text (mixed types, media)
JSON_COLUMNS_KEY = b"flightlog.json_columns"
#: Parquet schema metadata of a table with key columns (wandb's `set_pk` / `set_fk`):
#: {"primary_key": column or null, "foreign_keys": {column: the other table's column}}
TABLE_KEYS_KEY = b"flightlog.table_keys"

#: `_type` of each kind of reference, and the file suffix its blob gets when exported
SUFFIX = {
    "image-file": ".png",
    "table-file": ".parquet",
    "audio-file": ".wav",
    "video-file": ".gif",
    "html-file": ".html",
}


class MediaValue:
    """A media value of a row: `reference()` encodes and stores the file (and never
    raises), on the writer thread before the reference is committed to the journal, or
    earlier if the run state's summary asks first."""

    def reference(self) -> dict[str, Any]:
        raise NotImplementedError

    def store(self, final: bool = False) -> str | None:
        """Encode and store the file now (the writer thread, before it commits the
        reference): why the disk refused it (a full disk: the value is kept, to try again at
        the next tick; with `final`, no later try, the reference is marked dropped), or None."""
        self.reference()
        return None

    def to_json(self) -> dict[str, Any]:
        """The reference, for the run summary (the last value logged under a key)."""
        return self.reference()


class MediaSource:
    """Where the files of references not read from a local run directory come from (a
    server's blobs): `file(ref)` gives a local copy of the reference's blob. `at(key)` is
    the same source for the references logged under the history key `key`, so that its
    errors can name the key."""

    def file(self, ref: MediaRef) -> Path:
        raise NotImplementedError

    def at(self, key: str) -> MediaSource:
        return self


#: what a reference is bound to: the run directory it was read from, or a MediaSource
MediaRoot = Path | MediaSource


def bound_at(root: MediaRoot | None, key: str) -> MediaRoot | None:
    """`root` for the references logged under `key` (a MediaSource names the key)."""
    return root.at(key) if isinstance(root, MediaSource) else root


class MediaRef(dict[str, Any]):
    """A media reference read back from history: wandb's dict (`ref["_type"]`, `ref["path"]`,
    `ref["sha256"]`, `ref["width"]`...) that can also `load()` its content and `file()` its
    path, once bound to the run directory it was read from (or a server's MediaSource)."""

    def __init__(self, ref: dict[str, Any], run_dir: MediaRoot | None = None) -> None:
        super().__init__(ref)
        self.run_dir = run_dir

    @property
    def kind(self) -> str:
        return str(self.get("_type", ""))

    @property
    def dropped(self) -> str | None:
        """Why the file was not stored (budget spent, encoding failed), or None."""
        why = self.get("dropped")
        return str(why) if why else None

    def refs(self) -> list[MediaRef]:
        """The references of a list of media logged under one key (itself otherwise)."""
        if self.kind != "images":
            return [self]
        return [MediaRef(r, self.run_dir) for r in self.get("items") or []]

    def file(self) -> Path:
        """The stored file; FileNotFoundError saying why when there is none."""
        if self.dropped:
            raise FileNotFoundError(f"this {self.kind} was not stored: {self.dropped}")
        if self.run_dir is None:
            raise FileNotFoundError(
                "this reference is not bound to a run directory: read it with "
                "Api().run(...).scan_history() or StoredRun.scan_history()"
            )
        if isinstance(self.run_dir, MediaSource):
            return self.run_dir.file(self)
        rel = Path(str(self["path"]))
        if rel.is_absolute() or ".." in rel.parts:
            raise FileNotFoundError(f"refusing media path {str(rel)!r} outside the run")
        return self.run_dir / rel

    def export(self, directory: Path) -> Path:
        """A copy of the file under `directory`, named by its digest with the suffix its
        format has (a system viewer goes by the suffix)."""
        suffix = "." + str(self.get("format") or SUFFIX.get(self.kind, ".bin")).lstrip(".")
        dest = Path(directory) / f"{self['sha256'][:16]}{suffix}"
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.file(), dest)
        return dest

    def exports(self, directory: Path) -> list[Path]:
        """`export` of each file this value holds: a list of images ("images") holds one
        per image, anything else one."""
        return [r.export(directory) for r in self.refs()]

    def load(self) -> Any:
        """The content: an image as a numpy array (H×W×C uint8, or H×W), a list of them for
        "images", a table as `LoadedTable`, audio as `LoadedAudio`, a video as a T×C×H×W
        uint8 array (wandb's input layout), HTML as text."""
        from . import media_load

        if self.kind == "images":
            return [r.load() for r in self.refs()]
        return media_load.load(self.kind, self.file(), self)

    def __str__(self) -> str:
        return json.dumps(dict(self), ensure_ascii=False)

    def __repr__(self) -> str:
        return f"MediaRef({dict(self)!r})"
