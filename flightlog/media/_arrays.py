"""Arrays handed to media constructors: copied out of numpy / torch / lists, checked, and
(on the writer side) turned into 8-bit pixels the way wandb does.

The copy is the only work `log()` must do with a tensor: training may overwrite it as soon as
`log()` returns. torch is never imported; a tensor is recognised by its methods.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ._base import Media


class ArrayOrFile(Media):
    """An `Image`, `Audio` or `Video`: an array log() copied, for the writer to encode, or the
    bytes of a file, stored as they are."""

    _array: np.ndarray | None = None
    _file: bytes | None = None
    #: the format stored (a file's comes from its suffix)
    _format = "bin"

    def _read(self, path: str | os.PathLike[str], what: str) -> None:
        """Read the file now (it may change once log() returns), or record why not."""
        path = os.fspath(path)
        self._format = os.path.splitext(path)[1].lstrip(".").lower() or "bin"
        try:
            with open(path, "rb") as f:
                self._file = f.read()
        except OSError as e:
            self.problem = f"cannot read {what} file {path!r}: {e.strerror or e}"

    def _copy(self, data: Any, layout: Callable[[np.ndarray], str | None]) -> None:
        """Keep a copy of `data` (`copy_array`) whose shape `layout` accepts (says None to),
        or record what is wrong."""
        arr, problem = copy_array(data)
        if arr is not None and problem is None:
            problem = layout(arr)
        if problem is not None:
            self.problem = f"{type(self).__name__} got {type(data).__name__}: {problem}"
        else:
            self._array = arr

    def nbytes(self) -> int:
        return int(self._array.nbytes) if self._array is not None else len(self._file or b"")


def copy_array(data: Any) -> tuple[np.ndarray | None, str | None]:
    """(a private copy of `data` as a numpy array, None) or (None, what is wrong)."""
    if is_tensor(data):
        try:
            arr = tensor_array(data)
        except TENSOR_ERRORS as e:
            return None, f"cannot read the tensor's numbers ({e})"
    else:
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


#: the float dtypes numpy holds; others (bfloat16, float8) are read as float32
_NUMPY_FLOATS = frozenset({"torch.float16", "torch.float32", "torch.float64"})


def is_tensor(value: Any) -> bool:
    """Whether `value` is a torch tensor (told by its methods: torch is never imported)."""
    return hasattr(value, "detach") and hasattr(value, "cpu")


#: what torch raises for a tensor whose numbers cannot be read (a meta tensor: ValueError)
TENSOR_ERRORS = (TypeError, ValueError, RuntimeError, NotImplementedError)


def tensor_array(t: Any) -> np.ndarray:
    """A torch tensor's numbers as a numpy array of its own, copied exactly once: a sparse
    tensor made dense, one on a GPU moved to the CPU, floats numpy lacks read as float32 -
    each of these steps makes a new tensor, whose memory the array then takes over; a
    dense CPU tensor of a dtype numpy holds is shared by `.numpy()`, so it is copied then
    (a copy after a GPU cell's move doubled what log() copied). Raises TENSOR_ERRORS."""
    if getattr(t, "is_meta", False):
        raise ValueError("a tensor on the meta device holds no data")
    t = start = t.detach()
    if str(getattr(t, "layout", "torch.strided")) != "torch.strided":
        t = t.to_dense()
    t = t.cpu()  # (the tensor itself when it is on the CPU already)
    dtype = getattr(t, "dtype", None)
    if getattr(dtype, "is_floating_point", False) and str(dtype) not in _NUMPY_FLOATS:
        t = t.float()
    arr = t.numpy()
    return arr.copy() if t is start else arr


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
