"""WAV files read without the standard library's `wave`, which knows 8/16/24/32-bit PCM only
(and, before Python 3.12, not WAVE_FORMAT_EXTENSIBLE): a float WAV (torchaudio.save's and
soundfile's FLOAT/DOUBLE subtypes) made it raise, and a logged clip was dropped.

`wav_info` reads the `fmt ` and `data` chunks of a RIFF/WAVE file (what an Audio reference
records: rate, channels, frames); `wav_samples` decodes PCM of 1-4 bytes and IEEE floats.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

PCM, IEEE_FLOAT, EXTENSIBLE = 1, 3, 0xFFFE


@dataclass(frozen=True)
class WavInfo:
    """What a WAV file's header says, and where its samples are."""

    encoding: int  # PCM or IEEE_FLOAT (an EXTENSIBLE file's sub-format), or another tag
    channels: int
    rate: int
    bits: int
    data: slice  # the bytes of the samples

    @property
    def frames(self) -> int:
        block = self.channels * ((self.bits + 7) // 8)
        return (self.data.stop - self.data.start) // block if block else 0


def wav_info(raw: bytes) -> WavInfo | None:
    """The header of a RIFF/WAVE file's bytes; None when they are not one (or are cut
    before the samples start)."""
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        return None
    fmt: tuple[int, int, int, int] | None = None
    pos = 12
    while pos + 8 <= len(raw):
        kind, size = raw[pos : pos + 4], struct.unpack_from("<I", raw, pos + 4)[0]
        body = pos + 8
        if kind == b"fmt " and size >= 16:
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", raw, body)
            if tag == EXTENSIBLE and size >= 26:
                tag = struct.unpack_from("<H", raw, body + 24)[0]  # the sub-format GUID
            fmt = (tag, channels, rate, bits)
        elif kind == b"data" and fmt is not None:
            end = min(body + size, len(raw))  # a clip cut short keeps what it has
            return WavInfo(fmt[0], fmt[1], fmt[2], fmt[3], slice(body, end))
        pos = body + size + (size & 1)  # chunks are padded to an even length
    return None


def wav_samples(raw: bytes, info: WavInfo) -> np.ndarray:
    """The samples, frames (× channels): ints as stored (8-bit unsigned as uint8, 24-bit as
    int32), floats as float32/float64. ValueError for an encoding not decoded here."""
    width = (info.bits + 7) // 8
    data = raw[info.data][: info.frames * info.channels * width]
    if info.encoding == IEEE_FLOAT and width in (4, 8):
        samples = np.frombuffer(data, f"<f{width}")
    elif info.encoding == PCM and width in (1, 2, 4):
        samples = np.frombuffer(data, {1: np.uint8, 2: "<i2", 4: "<i4"}[width])
    elif info.encoding == PCM and width == 3:
        b = np.frombuffer(data, np.uint8).reshape(-1, 3).astype(np.int32)
        samples = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8  # sign-extended
    else:
        raise ValueError(
            f"a WAV of encoding {info.encoding:#x} with {info.bits}-bit samples is not decoded "
            "here: open ref.file() with soundfile or torchaudio"
        )
    samples = samples.astype(samples.dtype.newbyteorder("="))
    return samples.reshape(-1, info.channels) if info.channels > 1 else samples
