"""Media as wandb users log them (session 12's fault hunt): files and cells of the kinds real
scripts hand over are stored, and read back as they went in."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

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


def test_an_image_of_any_tensor_never_raises_in_the_script(api: flightlog.Api) -> None:
    """A media constructor records what is wrong and log() warns: a sparse tensor is made
    dense, a float8 one read as floats, a meta tensor (no data) said and left out."""
    torch = pytest.importorskip("torch")
    sparse = (torch.arange(16.0).reshape(4, 4) / 15).to_sparse()
    float8 = torch.full((4, 4), 0.5).to(torch.float8_e4m3fn)
    meta = torch.zeros(4, 4, device="meta")
    images = {k: flightlog.Image(v) for k, v in (("s", sparse), ("f", float8), ("m", meta))}
    assert images["m"].problem is not None and "meta" in images["m"].problem
    with pytest.warns(RuntimeWarning, match="'m' is left out"):
        row = _log_and_read(api, images)
    assert np.array_equal(row["s"].load(), np.rint(np.arange(16.0).reshape(4, 4) / 15 * 255))
    assert (row["f"].load() == 128).all()
    assert "m" not in row


def test_pil_images_of_any_mode_are_stored(api: flightlog.Api) -> None:
    """A depth map (mode F or I), a CMYK scan: stored as PNG after wandb's pixel rules
    (floats in [0, 1] scaled by 255, ints clipped to 0..255), colour modes as RGB."""
    from PIL import Image as PILImage

    floats = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    ints = np.arange(64, dtype=np.int32).reshape(8, 8) * 5
    cmyk = PILImage.new("CMYK", (8, 8), (0, 255, 255, 0))  # red
    row = _log_and_read(
        api,
        {
            "f": flightlog.Image(PILImage.fromarray(floats, mode="F")),
            "i": flightlog.Image(PILImage.fromarray(ints)),
            "cmyk": flightlog.Image(cmyk),
            "ycc": flightlog.Image(cmyk.convert("RGB").convert("YCbCr")),
        },
    )
    assert all(row[k].dropped is None for k in ("f", "i", "cmyk", "ycc"))
    assert np.array_equal(row["f"].load(), np.rint(floats * 255))
    assert np.array_equal(row["i"].load(), np.clip(ints, 0, 255))
    assert (row["cmyk"].load()[..., :3] == (255, 0, 0)).all()
    assert np.abs(row["ycc"].load().astype(int) - (255, 0, 0)).max() <= 2


def test_a_batch_tensor_is_one_grid_image_as_in_wandb(api: flightlog.Api) -> None:
    """wandb.Image(samples) with samples B×C×H×W (a GAN's or a diffusion model's output):
    wandb draws torchvision's make_grid (8 a row, 2 pixels of padding); `Image(x[None])`
    of numpy is squeezed."""
    torch = pytest.importorskip("torch")
    batch = torch.rand(10, 3, 6, 5)
    one = np.random.default_rng(0).integers(0, 256, (1, 6, 5, 3), dtype=np.uint8)
    row = _log_and_read(api, {"grid": flightlog.Image(batch), "one": flightlog.Image(one)})
    grid = row["grid"].load()
    assert grid.shape == (2 + 2 * (6 + 2), 2 + 8 * (5 + 2), 3)  # 2 rows of 8, padded
    assert np.array_equal(row["one"].load(), one[0])


def test_wandbs_chart_presets_are_logged_as_their_tables(api: flightlog.Api) -> None:
    """The presets classification scripts log (wandb.plot.confusion_matrix(...) and co):
    each a table of wandb's columns with the chart it draws."""
    y_true = [0, 1, 2, 2, 1, 0]
    probs = np.eye(3)[[0, 1, 2, 1, 1, 2]] * 0.8 + 0.2 / 3  # rows sum to 1
    plot = flightlog.plot
    row = _log_and_read(
        api,
        {
            "cm": plot.confusion_matrix(probs=probs, y_true=y_true, class_names=["a", "b", "c"]),
            "series": plot.line_series(xs=[0, 1, 2], ys=[[1, 2, 3], [3, 2, 1]], keys=["u", "d"]),
            "pr": plot.pr_curve(y_true, probs, labels=["a", "b", "c"]),
            "roc": plot.roc_curve(y_true, probs, labels=["a", "b", "c"]),
            "custom": plot.plot_table(
                "me/spec", flightlog.Table(columns=["x"], data=[[1]]), {"x": "x"}, {"t": "T"}
            ),
        },
    )
    cm = row["cm"].load()
    assert cm.columns == ["Actual", "Predicted", "nPredictions"]
    counts = {(a, p): n for a, p, n in cm.data}
    assert counts[("a", "a")] == 1 and counts[("a", "c")] == 1 and counts[("c", "b")] == 1
    assert sum(counts.values()) == 6 and row["cm"]["chart"]["type"] == "confusion_matrix"
    series = row["series"].load()
    assert series.columns == ["step", "lineKey", "lineVal"] and len(series.data) == 6
    for key, x, y in (("pr", "recall", "precision"), ("roc", "fpr", "tpr")):
        curve = row[key].load()
        assert set(curve.columns) == {"class", x, y}
        assert set(curve.get_column("class")) == {"a", "b", "c"}
        assert all(0 <= v <= 1 for v in curve.get_column(x) + curve.get_column(y))
    roc = row["roc"].load()
    roc_a = [(r[1], r[2]) for r in roc.data if r[0] == "a"]  # columns: class, fpr, tpr
    assert (0.0, 0.0) in roc_a and (1.0, 1.0) in roc_a
    assert row["custom"]["chart"] == {"type": "me/spec", "fields": ["x"], "x": "x", "t": "T"}


def test_numpy_numbers_are_good_sample_rates_and_fps(api: flightlog.Api) -> None:
    """A rate read from an .npz or a dataset's column is a numpy scalar."""
    rate, fps = np.int64(16000), np.int64(8)
    row = _log_and_read(
        api,
        {
            "clip": flightlog.Audio(np.zeros(1600, np.int16), sample_rate=rate),
            "video": flightlog.Video(np.zeros((2, 3, 4, 4), np.uint8), fps=fps),
        },
    )
    assert (row["clip"]["sample_rate"], row["clip"]["duration"]) == (16000, 0.1)
    assert row["video"]["fps"] == 8


def test_a_logged_media_file_is_fetched_by_its_path_as_in_wandb(
    api: flightlog.Api, tmp_path: Path
) -> None:
    """`run.file(run.summary["samples"]["path"]).download()`: how wandb's Api reads a
    logged table or image back."""
    pixels = np.full((4, 4, 3), 200, np.uint8)
    run = flightlog.init(project="m")
    run.log({"img": flightlog.Image(pixels)})
    run.finish()
    stored = api.run(run.path)
    got = stored.file(stored.summary["img"]["path"]).download(str(tmp_path / "out"))
    assert Path(got).read_bytes() == (Path(stored.dir) / stored.summary["img"]["path"]).read_bytes()
    from PIL import Image as PILImage

    with PILImage.open(got) as fetched:  # the image logged, not merely a copy of a file
        assert np.array_equal(np.asarray(fetched), pixels)


def test_a_batch_of_videos_is_one_tiled_video_as_in_wandb(api: flightlog.Api) -> None:
    """RL scripts log a batch of episodes as one video: wandb pads the batch to a power of
    two and tiles it, frame by frame (3 clips: one row of 4, the 4th black)."""
    rng = np.random.default_rng(7)
    clips = rng.integers(0, 4, (3, 2, 3, 4, 5), dtype=np.uint8) * 60  # B T C H W
    row = _log_and_read(api, {"episodes": flightlog.Video(clips, fps=4)})
    video = row["episodes"].load()  # T C H W
    assert video.shape == (2, 3, 4, 4 * 5)
    for i in range(3):
        assert np.array_equal(video[..., 5 * i : 5 * (i + 1)], clips[i])
    assert not video[..., 15:].any()  # the padding clip is black


def test_an_html_file_in_its_declared_or_a_legacy_encoding_is_stored(
    api: flightlog.Api, tmp_path: Path
) -> None:
    latin = tmp_path / "report.html"
    latin.write_bytes("<p>Résumé: 3 °C</p>".encode("latin-1"))
    japanese = tmp_path / "jp.html"
    japanese.write_bytes('<meta charset="shift_jis"><p>学習曲線</p>'.encode("shift_jis"))
    row = _log_and_read(api, {"a": flightlog.Html(str(latin)), "b": flightlog.Html(japanese)})
    assert row["a"].load() == "<p>Résumé: 3 °C</p>"
    assert row["b"].load() == '<meta charset="shift_jis"><p>学習曲線</p>'
