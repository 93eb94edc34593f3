"""`flightlog.Audio`: an array of samples and its `sample_rate`, stored as WAV (the standard
library's `wave`: floats in [-1, 1] as 16-bit PCM, int16 / int32 exactly), or a file as is."""

from __future__ import annotations

import io
import os
import wave
from typing import Any

import numpy as np

from ._arrays import copy_array, read_media_file
from ._base import Media, check_caption
from ._sink import MediaSink


class Audio(Media):
    """`flightlog.Audio(samples, sample_rate=16000, caption="...")`: samples are frames, or
    frames × channels; or `flightlog.Audio("clip.mp3")`."""

    _type = "audio-file"

    def __init__(
        self, data_or_path: Any, sample_rate: int | None = None, caption: str | None = None
    ) -> None:
        self.caption = check_caption(caption)
        self.problem = None
        self.sample_rate = sample_rate
        self._array: np.ndarray | None = None
        self._file: bytes | None = None
        self._format = "wav"
        if isinstance(data_or_path, str | os.PathLike):
            self._file, self._format, self.problem = read_media_file(data_or_path, "audio")
            return
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            self.problem = (
                f"Audio of an array needs sample_rate= a positive int, got {sample_rate!r}"
            )
            return
        arr, problem = copy_array(data_or_path)
        if problem is None and arr is not None:
            if arr.ndim not in (1, 2) or (arr.ndim == 2 and arr.shape[1] > 64):
                problem = f"expected samples as frames or frames × channels, got shape {arr.shape}"
            elif arr.dtype.kind == "f" and float(np.abs(arr).max()) > 1.0:
                problem = "float samples must lie in [-1, 1]: scale them (x / abs(x).max())"
        if problem is not None:
            self.problem = f"Audio got {type(data_or_path).__name__}: {problem}"
            return
        self._array = arr

    def nbytes(self) -> int:
        return int(self._array.nbytes) if self._array is not None else len(self._file or b"")

    def encode(self, sink: MediaSink) -> dict[str, Any]:
        ref = self._fields()
        ref["format"] = self._format
        if self._file is not None:
            if self._format == "wav":
                with wave.open(io.BytesIO(self._file), "rb") as w:
                    ref.update(_wav_fields(w.getframerate(), w.getnframes(), w.getnchannels()))
            return sink.put(self._file, ref)
        arr = self._array
        assert arr is not None and self.sample_rate is not None
        floats = arr.dtype.kind == "f"
        if floats or arr.dtype.kind == "b":
            pcm = np.rint(arr.astype(np.float64) * 32767).astype("<i2")
        elif arr.dtype.itemsize <= 2:
            pcm = arr.astype("<i2")
        else:
            pcm = np.clip(arr, -(2**31), 2**31 - 1).astype("<i4")
        channels = 1 if pcm.ndim == 1 else pcm.shape[1]
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(channels)
            w.setsampwidth(pcm.dtype.itemsize)
            w.setframerate(self.sample_rate)
            w.writeframes(np.ascontiguousarray(pcm).tobytes())
        ref.update(_wav_fields(self.sample_rate, pcm.shape[0], channels))
        ref["dtype"] = "float" if floats else "int"
        return sink.put(buf.getvalue(), ref)


def _wav_fields(rate: int, frames: int, channels: int) -> dict[str, Any]:
    return {"sample_rate": rate, "duration": frames / rate, "channels": channels}
