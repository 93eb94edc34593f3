"""Media as wandb users log them (session 12's fault hunt): files and cells of the kinds real
scripts hand over are stored, and read back as they went in."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

import flightlog


def _log_and_read(api: flightlog.Api, values: dict[str, Any]) -> dict[str, Any]:
    run = flightlog.init(project="m", reinit="create_new")
    run.log(values)
    run.finish()
    (row,) = list(api.run(run.path).scan_history())
    return row


def _wav(path: Path, tag: int, bits: int, data: bytes, rate: int, channels: int = 1) -> Path:
    """A RIFF/WAVE file with a `fmt ` chunk of format `tag` (1 PCM, 3 IEEE float)."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def test_a_float_wav_file_is_stored_as_it_is(api: flightlog.Api, tmp_path: Path) -> None:
    samples = np.linspace(-0.5, 0.5, 4000, dtype="<f4")
    clip = _wav(tmp_path / "clip.wav", 3, 32, samples.tobytes(), rate=16000)
    ref = _log_and_read(api, {"clip": flightlog.Audio(clip)})["clip"]
    assert ref.dropped is None
    assert ref.file().read_bytes() == clip.read_bytes()
    assert (ref["sample_rate"], ref["channels"], ref["duration"]) == (16000, 1, 0.25)


def test_a_24_bit_wav_file_loads_back(api: flightlog.Api, tmp_path: Path) -> None:
    values = np.array([0, 1, -1, 2**23 - 1, -(2**23), 12345], dtype=np.int32)
    data = b"".join(int(v).to_bytes(3, "little", signed=True) for v in values)
    clip = _wav(tmp_path / "clip24.wav", 1, 24, data, rate=48000)
    ref = _log_and_read(api, {"clip": flightlog.Audio(clip)})["clip"]
    got = ref.load()
    assert got.sample_rate == 48000 and np.array_equal(got.samples, values)


def test_table_cells_holding_arrays_read_back_as_their_numbers(api: flightlog.Api) -> None:
    """Embeddings, logits and box lists in a table column: wandb keeps their numbers."""
    embeddings = [np.arange(40, dtype=np.float32) + i for i in range(3)]
    table = flightlog.Table(
        columns=["id", "embedding", "extra"],
        data=[[i, e, {"score": np.float32(0.5) + i}] for i, e in enumerate(embeddings)],
    )
    loaded = _log_and_read(api, {"t": table})["t"].load()
    assert loaded.get_column("embedding") == [e.tolist() for e in embeddings]
    assert loaded.get_column("extra") == [{"score": 0.5 + i} for i in range(3)]
