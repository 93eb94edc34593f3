"""Reading stored media files back (MediaRef.load()): images, tables, audio, video, HTML.

Pillow is imported only to read an image or a video; tables are Parquet (pyarrow), audio is
WAV (store/media_wav.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .media_ref import JSON_COLUMNS_KEY, TABLE_KEYS_KEY, MediaRef, MediaRoot
from .media_wav import wav_info, wav_samples


@dataclass
class LoadedTable:
    """A logged table read back: its columns and rows, cells as logged (an Image cell is a
    MediaRef you can `load()`), and the key columns `set_pk` / `set_fk` named."""

    columns: list[str]
    data: list[list[Any]] = field(default_factory=list)
    primary_key: str | None = None
    #: column -> the column of the other table it refers to
    foreign_keys: dict[str, str] = field(default_factory=dict)

    def get_column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [row[i] for row in self.data]

    def get_dataframe(self) -> Any:
        """A pandas DataFrame (pandas must be installed)."""
        import pandas as pd

        return pd.DataFrame(self.data, columns=self.columns)


@dataclass
class LoadedAudio:
    """Audio read back: samples (frames × channels, or frames for mono) and the rate."""

    samples: np.ndarray
    sample_rate: int


def load(kind: str, path: Path, ref: dict[str, Any]) -> Any:
    run_dir = getattr(ref, "run_dir", None)
    if kind == "image-file":
        return _image(path)
    if kind == "table-file":
        return _table(path, run_dir)
    if kind == "audio-file":
        return _audio(path, ref)
    if kind == "video-file":
        return _video(path, ref)
    if kind == "html-file":
        return path.read_text(encoding="utf-8")
    raise ValueError(f"cannot load a media reference of type {kind!r}")


def _image(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im)


def _table(path: Path, run_dir: MediaRoot | None) -> LoadedTable:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    as_json = set(json.loads(meta.get(JSON_COLUMNS_KEY, b"[]")))
    columns = []
    for name in table.column_names:
        cells = table.column(name).to_pylist()
        if name in as_json:
            cells = [_cell(json.loads(c), run_dir) if c is not None else None for c in cells]
        columns.append(cells)
    keys = json.loads(meta.get(TABLE_KEYS_KEY, b"{}"))
    rows = [list(r) for r in zip(*columns, strict=True)]
    return LoadedTable(
        list(table.column_names), rows, keys.get("primary_key"), keys.get("foreign_keys") or {}
    )


def _cell(value: Any, run_dir: MediaRoot | None) -> Any:
    if isinstance(value, dict) and isinstance(value.get("_type"), str):
        return MediaRef(value, run_dir)
    return value


def _audio(path: Path, ref: dict[str, Any]) -> LoadedAudio:
    raw = path.read_bytes()
    info = wav_info(raw)
    if info is None:
        raise ValueError(
            f"a {ref.get('format') or 'non-WAV'} audio file is not decoded here: open "
            "ref.file() with soundfile or torchaudio"
        )
    samples = wav_samples(raw, info)
    if ref.get("dtype") == "float":  # logged as floats in [-1, 1]: stored as 16-bit PCM
        samples = samples.astype(np.float32) / np.float32(32767)
    return LoadedAudio(samples, info.rate)


def _video(path: Path, ref: dict[str, Any]) -> np.ndarray:
    """GIF frames as T×C×H×W; identical consecutive frames, which the GIF writer merges into
    one longer frame, are repeated back by duration."""
    from PIL import Image, ImageSequence

    if ref.get("format") != "gif":
        raise ValueError(f"a {ref.get('format')} video is not decoded here: open ref.file()")
    step_ms = 1000 / float(ref.get("fps") or 4)
    frames = []
    with Image.open(path) as im:
        for f in ImageSequence.Iterator(im):
            repeat = max(1, round(f.info.get("duration", step_ms) / step_ms))
            frames += [np.asarray(f.convert("RGB"))] * repeat
    video = np.stack(frames).transpose(0, 3, 1, 2)
    return video[:, :1] if ref.get("channels") == 1 else video
