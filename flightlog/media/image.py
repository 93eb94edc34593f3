"""`flightlog.Image`: wandb's `Image` (numpy / torch arrays HW, HWC, CHW of uint8 or float, or
a batch of them drawn as one grid; a PIL image of any mode, a file path, a matplotlib figure),
stored as PNG (a file keeps its own format)."""

from __future__ import annotations

import io
import os
from typing import Any

import numpy as np

from ._arrays import ArrayOrFile, to_uint8
from ._base import check_caption
from ._sink import MediaSink

_CHANNELS = (1, 3, 4)
#: PIL modes a PNG holds; an image of another mode is converted (`_take_pil`)
_PNG_MODES = frozenset({"1", "L", "LA", "I;16", "I;16B", "P", "RGB", "RGBA"})
#: a batch B×C×H×W (or B×H×W×C) is drawn as torchvision's make_grid draws it for wandb
GRID_PER_ROW, GRID_PAD = 8, 2


class Image(ArrayOrFile):
    """An image to log: `flightlog.Image(array_or_path_or_pil, caption="...", mode="RGB")`.

    An array is copied now (log() returns before it is encoded); floats in [0, 1] (or
    [-1, 1]) are scaled to 0..255 as wandb does, unless `normalize=False` (then clipped).
    A batch (4 dimensions) is one image, its items in rows of 8 (wandb's make_grid); a
    batch of one is its item. boxes / masks / classes are accepted and not stored."""

    _type = "image-file"

    def __init__(
        self,
        data_or_path: Any,
        mode: str | None = None,
        caption: str | None = None,
        grouping: int | None = None,
        classes: Any = None,
        boxes: Any = None,
        masks: Any = None,
        file_type: str | None = None,
        normalize: bool = True,
    ) -> None:
        self.caption = check_caption(caption)
        self.mode = mode
        self.normalize = normalize
        self.problem = None
        self._chw = False
        self._pil: Any = None
        data = data_or_path
        if isinstance(data, Image):
            self._array, self._chw, self._pil, self._file = (
                data._array,
                data._chw,
                data._pil,
                data._file,
            )
            self.problem = data.problem
        elif isinstance(data, str | os.PathLike):
            self._read(data, "image")
        elif type(data).__module__.startswith("PIL."):
            self._take_pil(data)
        elif type(data).__module__.startswith("matplotlib") or (
            getattr(data, "__name__", "") == "matplotlib.pyplot"
        ):
            self._render(data)
        else:
            self._take_array(data)

    # -- the training thread: copy and check -----------------------------------------------
    def _render(self, fig: Any) -> None:
        """A matplotlib figure is rendered now: it is not thread-safe, and the script may
        draw on it again as soon as log() returns."""
        if getattr(fig, "__name__", "") == "matplotlib.pyplot":
            fig = fig.gcf()
        if not hasattr(fig, "savefig"):
            self.problem = f"a matplotlib {type(fig).__name__} is not a figure: log its .figure"
            return
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        self._file = buf.getvalue()

    def _take_array(self, data: Any) -> None:
        self._copy(data, lambda arr: _layout_problem(_unbatched(arr).shape))
        if self._array is not None:
            self._array = arr = _unbatched(self._array)
            self._chw = arr.ndim >= 3 and arr.shape[-1] not in _CHANNELS

    def _take_pil(self, im: Any) -> None:
        """A copy of a PIL image, in a mode PNG holds: a PNG has no mode F (float) or I
        (32-bit int), which take wandb's array rules, nor CMYK, YCbCr, LAB or HSV, which are
        converted to RGB (before, such an image was dropped when it was stored)."""
        if im.mode in _PNG_MODES:
            self._pil = im.copy()
        elif im.mode == "F" or im.mode.startswith("I"):
            self._take_array(np.asarray(im))
        else:
            self._pil = im.convert("RGBA" if "A" in im.getbands() else "RGB")

    def nbytes(self) -> int:
        if self._pil is not None:  # the copy log() took holds its pixels, like an array
            return self._pil.width * self._pil.height * len(self._pil.getbands())
        return super().nbytes()

    # -- the writer side -------------------------------------------------------------------
    def encode(self, sink: MediaSink) -> dict[str, Any]:
        from PIL import Image as PILImage

        ref = self._fields()
        if self._file is not None:
            with PILImage.open(io.BytesIO(self._file)) as im:
                ref.update(format=(im.format or "png").lower(), width=im.width, height=im.height)
            return sink.put(self._file, ref)
        im = self._pil if self._pil is not None else PILImage.fromarray(self.pixels())
        if self.mode is not None and im.mode != self.mode:
            im = im.convert(self.mode)
        buf = io.BytesIO()
        # zlib level 4: files as small as the default 6 (within 0.3% on photos and plots)
        # at ~65% of its time, on the writer thread that shares the CPU with training
        im.save(buf, format="PNG", compress_level=4)
        ref.update(format="png", width=im.width, height=im.height, mode=im.mode)
        return sink.put(buf.getvalue(), ref)

    def pixels(self) -> np.ndarray:
        """The array as H×W (grey) or H×W×C uint8, as it will be stored."""
        arr = self._array
        assert arr is not None
        if self._chw:
            arr = np.moveaxis(arr, -3, -1)
        arr = to_uint8(arr) if self.normalize else np.clip(arr, 0, 255).astype(np.uint8)
        if arr.ndim == 4:
            arr = _grid(arr)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        return np.ascontiguousarray(arr)


def _layout_problem(shape: tuple[int, ...]) -> str | None:
    """None for HW, HWC or CHW (C = 1, 3 or 4), or a batch of them; else what is wrong."""
    item = shape[1:] if len(shape) == 4 else shape
    if len(item) == 2 or (len(item) == 3 and (item[-1] in _CHANNELS or item[0] in _CHANNELS)):
        return None
    return (
        f"an image array of shape {shape} is not HW, HWC or CHW with 1, 3 or 4 channels, "
        "nor a batch of them (B×C×H×W)"
    )


def _unbatched(arr: np.ndarray) -> np.ndarray:
    """`arr` without leading dimensions of 1 beyond three (a batch of one is its image, as
    wandb's squeeze makes it)."""
    while arr.ndim > 3 and arr.shape[0] == 1:
        arr = arr[0]
    return arr


def _grid(items: np.ndarray) -> np.ndarray:
    """B×H×W×C items as one H×W×C image: GRID_PER_ROW a row, GRID_PAD pixels of 0 around
    each (the layout of torchvision's make_grid, which wandb draws a batch tensor with)."""
    b, h, w, c = items.shape
    rows, cols = -(-b // GRID_PER_ROW), min(b, GRID_PER_ROW)
    step_y, step_x = h + GRID_PAD, w + GRID_PAD
    out = np.zeros((rows * step_y + GRID_PAD, cols * step_x + GRID_PAD, c), items.dtype)
    for i, item in enumerate(items):
        y, x = GRID_PAD + i // GRID_PER_ROW * step_y, GRID_PAD + i % GRID_PER_ROW * step_x
        out[y : y + h, x : x + w] = item
    return out
