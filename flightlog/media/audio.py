"""`flightlog.Audio`: an array of samples and its `sample_rate`, stored as WAV (the standard
library's `wave`: floats in [-1, 1] as 16-bit PCM, int16 / int32 exactly), or a file as is."""

from __future__ import annotations

import io
import numbers
import os
from typing import Any

import numpy as np

from flightlog.store.media_wav import wav_info

from ._arrays import ArrayOrFile
from ._base import check_caption
from ._sink import MediaSink


class Audio(ArrayOrFile):
    """`flightlog.Audio(samples, sample_rate=16000, caption="...")`: samples are frames, or
    frames × channels; or `flightlog.Audio("clip.mp3")`."""

    _type = "audio-file"
    _format = "wav"

    def __init__(
        self, data_or_path: Any, sample_rate: int | None = None, caption: str | None = None
    ) -> None:
        self.caption = check_caption(caption)
        self.problem = None
        # a numpy integer is as good a rate as a Python int (read from an .npz, a dataset)
        if isinstance(sample_rate, numbers.Integral) and not isinstance(sample_rate, bool):
            sample_rate = int(sample_rate)
        self.sample_rate = sample_rate
        if isinstance(data_or_path, str | os.PathLike):
            self._read(data_or_path, "audio")
        elif not isinstance(sample_rate, int) or sample_rate <= 0:
            self.problem = (
                f"Audio of an array needs sample_rate= a positive int, got {sample_rate!r}"
            )
        else:
            self._copy(data_or_path, _samples_problem)

    def encode(self, sink: MediaSink) -> dict[str, Any]:
        import wave

        ref = self._fields()
        ref["format"] = self._format
        if self._file is not None:  # stored as it is; a WAV's header says what it holds
            info = wav_info(self._file) if self._format == "wav" else None
            if info is not None and info.rate > 0:
                ref.update(_wav_fields(info.rate, info.frames, info.channels))
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


def _samples_problem(arr: np.ndarray) -> str | None:
    if arr.ndim not in (1, 2) or (arr.ndim == 2 and arr.shape[1] > 64):
        return f"expected samples as frames or frames × channels, got shape {arr.shape}"
    if arr.dtype.kind == "f" and float(np.abs(arr).max()) > 1.0:
        return "float samples must lie in [-1, 1]: scale them (x / abs(x).max())"
    return None


def _wav_fields(rate: int, frames: int, channels: int) -> dict[str, Any]:
    return {"sample_rate": rate, "duration": frames / rate, "channels": channels}
