"""Arrays handed to media constructors: copied out of numpy / torch / lists, checked, and
(on the writer side) turned into 8-bit pixels the way wandb does.

The copy is the only work `log()` must do with a tensor: training may overwrite it as soon as
`log()` returns. torch is never imported; a tensor is recognised by its methods.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np


def read_media_file(
    path: str | os.PathLike[str], what: str
) -> tuple[bytes | None, str, str | None]:
    """(the file's bytes, its format from the suffix, None) or (None, format, what is wrong):
    a media object built from a file reads it now, as the file may change once log() returns."""
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "bin"
    try:
        with open(path, "rb") as f:
            return f.read(), fmt, None
    except OSError as e:
        return None, fmt, f"cannot read {what} file {path!r}: {e.strerror or e}"


def copy_array(data: Any) -> tuple[np.ndarray | None, str | None]:
    """(a private copy of `data` as a numpy array, None) or (None, what is wrong)."""
    if hasattr(data, "detach") and hasattr(data, "cpu"):  # a torch tensor
        data = data.detach().cpu()
        if str(getattr(data, "dtype", "")) == "torch.bfloat16":
            data = data.float()
        data = data.numpy()
    try:
        arr = np.array(data, copy=True)
    except (TypeError, ValueError) as e:
        return None, f"cannot make an array of {type(data).__name__} ({e})"
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        return None, f"expected numbers, got an array of {arr.dtype}"
    if np.iscomplexobj(arr):
        return None, "expected real numbers, got a complex array"
    if arr.size == 0:
        return None, f"the array is empty (shape {arr.shape})"
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        return None, "the array holds NaN or infinite values: fix or np.nan_to_num() it"
    return arr, None


def to_uint8(arr: np.ndarray) -> np.ndarray:
    """Pixels as uint8 (wandb's rule): floats in [0, 1] are scaled by 255 ([-1, 1] is mapped
    to [0, 1] first), other numbers are clipped to 0..255; bools are 0 / 255."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if arr.dtype.kind == "f":
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0:
            arr = (arr + 1.0) / 2.0
            hi = (hi + 1.0) / 2.0
        if hi <= 1.0:
            arr = arr * 255.0
        return np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    return np.clip(arr, 0, 255).astype(np.uint8)
