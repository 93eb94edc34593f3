"""`flightlog.Video`: frames T×C×H×W (C = 1 or 3, uint8 or float) and `fps`, stored as an
animated GIF by Pillow (wandb's default format; no system ffmpeg needed), or a file as is.
A batch B×T×C×H×W is one video, its clips tiled as wandb tiles them (`_tiled`).

Frames with at most 256 colours are stored exactly (their own palette); others are quantised
to 256 colours by Pillow, as any GIF is.
"""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np

from ._arrays import ArrayOrFile, to_uint8
from ._base import check_caption
from ._sink import MediaSink


class Video(ArrayOrFile):
    """`flightlog.Video(frames, fps=4, caption="...")` with frames T×C×H×W, or
    `flightlog.Video("clip.mp4")` (stored as is)."""

    _type = "video-file"
    _format = "gif"

    def __init__(
        self,
        data_or_path: Any,
        caption: str | None = None,
        fps: int | None = None,
        format: str | None = None,
    ) -> None:
        self.caption = check_caption(caption)
        self.problem = None
        # a numpy number is as good as a Python one (np.int64 is no int)
        self.fps = 4 if fps is None else fps.item() if isinstance(fps, np.generic) else fps
        if isinstance(data_or_path, str | os.PathLike):
            self._read(data_or_path, "video")
        elif format not in (None, "gif"):
            self.problem = f"flightlog encodes arrays as gif only, not {format!r}: drop format="
        elif not isinstance(self.fps, int | float) or not 0 < self.fps <= 1000:
            self.problem = f"fps must be a number in (0, 1000], got {fps!r}"
        else:
            self._copy(data_or_path, _frames_problem)

    def encode(self, sink: MediaSink) -> dict[str, Any]:
        ref = self._fields()
        ref["format"] = self._format
        if self._file is not None:
            return sink.put(self._file, ref)
        arr = self._array
        assert arr is not None
        if arr.ndim == 5:
            arr = _tiled(arr)
        frames = to_uint8(arr).transpose(0, 2, 3, 1)
        if frames.shape[3] == 1:
            frames = np.repeat(frames, 3, axis=3)
        images = [_paletted(f) for f in frames]
        buf = io.BytesIO()
        images[0].save(
            buf,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=round(1000 / self.fps),
            loop=0,
        )
        t, c, h, w = arr.shape
        ref.update(frames=t, channels=c, height=h, width=w, fps=self.fps)
        return sink.put(buf.getvalue(), ref)


def _frames_problem(arr: np.ndarray) -> str | None:
    if arr.ndim not in (4, 5) or arr.shape[-3] not in (1, 3):
        return (
            f"expected frames T×C×H×W with C = 1 or 3 (or a batch B×T×C×H×W), got shape {arr.shape}"
        )
    return None


def _tiled(clips: np.ndarray) -> np.ndarray:
    """B×T×C×H×W clips as one T×C×H'×W' video, as wandb tiles a batch: padded with black
    clips to a power of two, 2^((bits(B) - 1) // 2) rows of them."""
    b, t, c, h, w = clips.shape
    padded = 1 << (b - 1).bit_length()
    if padded > b:
        clips = np.concatenate([clips, np.zeros((padded - b, t, c, h, w), clips.dtype)])
    rows = 2 ** ((b.bit_length() - 1) // 2)
    cols = padded // rows
    grid = clips.reshape(rows, cols, t, c, h, w).transpose(2, 3, 0, 4, 1, 5)
    return grid.reshape(t, c, rows * h, cols * w)


def _paletted(frame: np.ndarray) -> Any:
    """A frame as a palette image: exact when it has at most 256 colours."""
    from PIL import Image

    flat = frame.reshape(-1, 3)
    colors, index = np.unique(flat, axis=0, return_inverse=True)
    if len(colors) > 256:
        return Image.fromarray(frame).quantize(256)
    im = Image.fromarray(index.reshape(frame.shape[:2]).astype(np.uint8), mode="P")
    im.putpalette(colors.astype(np.uint8).tobytes())
    return im
