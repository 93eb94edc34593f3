"""Every media type logged, stored and read back equal: pixels, table cells, samples, frames.

A value logged with `run.log()` comes back from `Api().run(...).scan_history()` as a MediaRef
(wandb's dict: `_type`, `path`, `sha256`, `width`...) whose `load()` gives the content.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import flightlog
from flightlog.store.media_ref import MediaRef


def log_and_read(api: flightlog.Api, values: dict[str, Any], project: str = "m") -> dict[str, Any]:
    """Log one row in a fresh run and return the row as read back."""
    run = flightlog.init(project=project, reinit="create_new")
    run.log(values)
    run.finish()
    (row,) = list(api.run(run.path).scan_history())
    return row


def test_an_image_reads_back_as_wandbs_dict_with_its_pixels(api: flightlog.Api) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    row = log_and_read(api, {"img": flightlog.Image(pixels, caption="a cat"), "loss": 0.5})
    ref = row["img"]
    assert isinstance(ref, MediaRef) and row["loss"] == 0.5
    assert ref["_type"] == "image-file" and ref["format"] == "png"
    assert (ref["width"], ref["height"], ref["caption"]) == (64, 48, "a cat")
    assert ref["path"] == f"media/{ref['sha256'][:2]}/{ref['sha256']}"
    assert ref.file().stat().st_size == ref["size"]
    assert np.array_equal(ref.load(), pixels)


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
@pytest.mark.parametrize(
    ("layout", "channels"), [("HWC", 3), ("HWC", 4), ("CHW", 3), ("CHW", 1), ("HW", 0)]
)
def test_every_array_layout_reads_back_as_the_same_pixels(
    api: flightlog.Api, layout: str, channels: int, dtype: str
) -> None:
    hwc = np.random.default_rng(1).integers(0, 256, (20, 30, max(channels, 1)), dtype=np.uint8)
    hwc[0, 0] = 255  # floats in [0, 1] are scaled by 255 (wandb's rule)
    as_logged = hwc if dtype == "uint8" else hwc.astype(np.float32) / 255
    logged = {"HWC": as_logged, "CHW": as_logged.transpose(2, 0, 1), "HW": as_logged[:, :, 0]}[
        layout
    ]
    got = log_and_read(api, {"img": flightlog.Image(logged)})["img"].load()
    want = hwc[:, :, 0] if channels in (0, 1) else hwc
    assert np.array_equal(got, want)


def test_float_images_are_scaled_like_wandb(api: flightlog.Api) -> None:
    unit = np.random.default_rng(2).random((16, 16, 3)).astype(np.float32)
    row = log_and_read(
        api,
        {"unit": flightlog.Image(unit), "signed": flightlog.Image(unit * 2 - 1)},
    )
    want = np.rint(unit * 255).astype(np.uint8)
    assert np.array_equal(row["unit"].load(), want)
    assert np.abs(row["signed"].load().astype(int) - want).max() <= 1


def test_torch_tensors_are_copied_and_read_back(api: flightlog.Api) -> None:
    torch = pytest.importorskip("torch")
    t = torch.rand(3, 8, 8)
    want = np.rint(t.numpy().transpose(1, 2, 0) * 255).astype(np.uint8)
    run = flightlog.init(project="m")
    run.log({"img": flightlog.Image(t)})
    t.zero_()  # training overwrites the tensor right after log()
    run.finish()
    (row,) = list(api.run(run.path).scan_history())
    assert np.array_equal(row["img"].load(), want)


def test_encoding_happens_on_the_writer_thread_not_in_log(
    api: flightlog.Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from flightlog.media.image import Image

    calls = []  # (thread, whether the main thread was inside log())
    encode = Image.encode
    in_log = threading.Event()

    def spy(self: Image, sink: Any) -> dict[str, Any]:
        calls.append((threading.current_thread(), in_log.is_set()))
        return encode(self, sink)

    monkeypatch.setattr(Image, "encode", spy)
    run = flightlog.init(project="m")
    in_log.set()
    run.log({"img": flightlog.Image(np.zeros((4, 4), np.uint8))})
    in_log.clear()
    run.finish()  # (encodes itself what the writer thread, started in the background, did not)
    assert len(calls) == 1
    thread, during_log = calls[0]
    assert not (thread is threading.main_thread() and during_log)
    assert thread is threading.main_thread() or thread.name.startswith("flightlog-")


def test_an_array_overwritten_after_log_is_stored_as_it_was_logged(api: flightlog.Api) -> None:
    buf = np.full((8, 8), 7, np.uint8)
    run = flightlog.init(project="m")
    run.log({"img": flightlog.Image(buf)})
    buf[:] = 0  # the training loop reuses its buffer
    run.finish()
    (row,) = list(api.run(run.path).scan_history())
    assert (row["img"].load() == 7).all()


def test_pil_images_files_and_lists_under_one_key(api: flightlog.Api, tmp_path: Path) -> None:
    from PIL import Image as PILImage

    a = np.random.default_rng(3).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    PILImage.fromarray(a).save(tmp_path / "a.png")
    row = log_and_read(
        api,
        {
            "pil": flightlog.Image(PILImage.fromarray(a), mode="L"),
            "file": flightlog.Image(str(tmp_path / "a.png")),
            "batch": [flightlog.Image(a), flightlog.Image(a[::-1], caption="flipped")],
        },
    )
    assert np.array_equal(row["pil"].load(), np.asarray(PILImage.fromarray(a).convert("L")))
    assert np.array_equal(row["file"].load(), a)
    assert row["batch"]["_type"] == "images" and row["batch"]["count"] == 2
    first, second = row["batch"].load()
    assert np.array_equal(first, a) and np.array_equal(second, a[::-1])
    assert row["batch"].refs()[1]["caption"] == "flipped"


def test_a_matplotlib_figure_is_stored_as_a_png(api: flightlog.Api) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1), dpi=50)
    ax.plot([1, 2, 3])
    row = log_and_read(api, {"fig": fig, "img": flightlog.Image(fig)})
    assert row["fig"]["_type"] == "image-file" and row["fig"]["width"] == 100
    assert row["fig"].load().shape == (50, 100, 4)


def test_a_table_reads_back_cell_for_cell_with_image_cells(api: flightlog.Api) -> None:
    pixels = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    table = flightlog.Table(columns=["id", "label", "score", "mixed", "img"])
    table.add_data(1, "cat", 0.25, 3, flightlog.Image(pixels))
    table.add_data(2, "dog", None, "three", None)
    row = log_and_read(api, {"preds": table})
    ref = row["preds"]
    assert (ref["_type"], ref["nrows"], ref["ncols"]) == ("table-file", 2, 5)
    got = ref.load()
    assert got.columns == ["id", "label", "score", "mixed", "img"]
    assert [r[:4] for r in got.data] == [[1, "cat", 0.25, 3], [2, "dog", None, "three"]]
    assert np.array_equal(got.data[0][4].load(), pixels) and got.data[1][4] is None


def test_a_table_is_a_snapshot_of_its_rows_when_logged(api: flightlog.Api) -> None:
    table = flightlog.Table(columns=["x"], data=[[1]])
    run = flightlog.init(project="m")
    run.log({"t": table})
    table.add_data(2)
    run.log({"t": table})
    run.finish()
    rows = [r["t"].load().data for r in api.run(run.path).scan_history()]
    assert rows == [[[1]], [[1], [2]]]


def test_a_dataframe_table(api: flightlog.Api) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    got = log_and_read(api, {"t": flightlog.Table(dataframe=df)})["t"].load()
    assert got.columns == ["a", "b"] and got.data == [[1, "x"], [2, "y"]]


def test_plots_store_their_table_and_chart(api: flightlog.Api) -> None:
    table = flightlog.Table(columns=["x", "y"], data=[[i, i * i] for i in range(5)])
    row = log_and_read(
        api,
        {
            "line": flightlog.plot.line(table, "x", "y", title="squares"),
            "scatter": flightlog.plot.scatter(table, "x", "y"),
            "bar": flightlog.plot.bar(table, "x", "y"),
            "hist": flightlog.plot.histogram(table, "y"),
        },
    )
    assert row["line"]["chart"] == {
        "type": "line",
        "title": "squares",
        "fields": ["x", "y"],
        "x": "x",
        "y": "y",
    }
    assert row["hist"]["chart"]["value"] == "y"
    assert row["bar"].load().data == [[i, i * i] for i in range(5)]


def test_audio_samples_read_back(api: flightlog.Api) -> None:
    rng = np.random.default_rng(4)
    ints = rng.integers(-(2**15), 2**15, 800, dtype=np.int16)
    stereo = rng.uniform(-1, 1, (400, 2))
    row = log_and_read(
        api,
        {
            "ints": flightlog.Audio(ints, sample_rate=8000, caption="noise"),
            "floats": flightlog.Audio(stereo, sample_rate=22050),
        },
    )
    got = row["ints"].load()
    assert got.sample_rate == 8000 and np.array_equal(got.samples, ints)
    assert row["ints"]["duration"] == 0.1 and row["ints"]["caption"] == "noise"
    floats = row["floats"].load()
    assert floats.samples.shape == (400, 2) and floats.sample_rate == 22050
    assert np.abs(floats.samples - stereo).max() <= 1 / 32767  # 16-bit PCM


def test_video_frames_read_back(api: flightlog.Api) -> None:
    rng = np.random.default_rng(5)
    palette = rng.integers(0, 256, (16, 3), dtype=np.uint8)
    frames = palette[rng.integers(0, 16, (6, 12, 10))].transpose(0, 3, 1, 2)  # T C H W
    frames[3] = frames[2]  # identical consecutive frames survive the GIF writer merging them
    row = log_and_read(api, {"video": flightlog.Video(frames, fps=10)})
    ref = row["video"]
    assert (ref["_type"], ref["format"], ref["frames"], ref["fps"]) == ("video-file", "gif", 6, 10)
    assert np.array_equal(ref.load(), frames)


def test_html_and_files_as_they_are(api: flightlog.Api, tmp_path: Path) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"\x00\x00\x00 ftypisom fake")
    row = log_and_read(
        api,
        {"page": flightlog.Html("<h1>report</h1>"), "clip": flightlog.Video(tmp_path / "clip.mp4")},
    )
    assert row["page"].load() == "<h1>report</h1>"
    assert row["clip"]["format"] == "mp4"
    assert row["clip"].file().read_bytes() == (tmp_path / "clip.mp4").read_bytes()


def test_the_wide_history_and_the_summary_hold_the_reference(api: flightlog.Api) -> None:
    run = flightlog.init(project="m")
    run.log({"img": flightlog.Image(np.zeros((2, 3), np.uint8))})
    run.finish()
    stored = api.run(run.path)
    cell = json.loads(stored.history().column("img")[0].as_py())
    assert cell["_type"] == "image-file" and cell["width"] == 3
    assert stored.summary_metrics["img"]["sha256"] == cell["sha256"]


def test_history_as_pandas_gives_loadable_references(api: flightlog.Api) -> None:
    pytest.importorskip("pandas")
    run = flightlog.init(project="m")
    run.log({"img": flightlog.Image(np.full((2, 3), 9, np.uint8)), "loss": 0.5})
    run.log({"loss": 0.25})
    run.finish()
    for frame in (
        api.run(run.path).history(pandas=True),
        api.run(run.path).history(keys=["img"], samples=5, pandas=True),
    ):
        ref = frame["img"][0]
        assert isinstance(ref, MediaRef) and ref["_type"] == "image-file"
        assert (ref.load() == 9).all()
    assert frame["img"].tolist()[1:] == []  # keys=["img"]: only the rows holding it


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    hnp.arrays(
        np.uint8,
        st.tuples(st.integers(1, 24), st.integers(1, 24), st.sampled_from([1, 3, 4])),
    )
)
def test_any_uint8_image_round_trips(api: flightlog.Api, pixels: np.ndarray) -> None:
    got = log_and_read(api, {"img": flightlog.Image(pixels)})["img"].load()
    assert np.array_equal(got, pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)


_cells = st.one_of(
    st.none(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.booleans(),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.integers(1, 4).flatmap(
        lambda w: st.lists(st.lists(_cells, min_size=w, max_size=w), max_size=8)
    )
)
def test_any_table_of_plain_cells_round_trips(api: flightlog.Api, data: list[list[Any]]) -> None:
    width = len(data[0]) if data else 1
    columns = [f"c{i}" for i in range(width)]
    got = log_and_read(api, {"t": flightlog.Table(columns=columns, data=data)})["t"].load()
    assert got.columns == columns
    assert got.data == data
    for row_got, row_want in zip(got.data, data, strict=True):  # types too: 1 is not True
        assert [type(c) for c in row_got] == [type(c) for c in row_want]


def test_a_wandb_script_logs_media_through_the_alias(tmp_path: Path, api: flightlog.Api) -> None:
    from flightlog.cli import main

    from .conftest import python_script
    from .test_wandb_alias import _with

    target = tmp_path / "site"
    assert main(["wandb", "enable", "--target", str(target)]) == 0
    r = python_script(
        """
        import numpy as np, wandb
        run = wandb.init(project="alias", id="alias001")
        frames = np.zeros((4, 3, 8, 8), np.uint8)
        table = wandb.Table(columns=["x", "y"], data=[[1, 2.0], [2, 4.0]])
        wandb.log({
            "img": wandb.Image(np.ones((8, 8, 3)), caption="ones"),
            "preds": table,
            "curve": wandb.plot.line(table, "x", "y", title="y by x"),
            "clip": wandb.Audio(np.zeros(100), sample_rate=1000, caption="silence"),
            "video": wandb.Video(frames, fps=4, format="gif"),
            "page": wandb.Html("<p>hi</p>"),
        })
        wandb.finish()
        """,
        env=_with(target),
    )
    assert r.returncode == 0, r.stderr
    (row,) = list(api.run("alias/alias001").scan_history())
    assert (row["img"].load() == 255).all() and row["img"]["caption"] == "ones"
    assert row["preds"].load().data == [[1, 2.0], [2, 4.0]]
    assert row["curve"]["chart"]["title"] == "y by x"
    assert row["clip"].load().sample_rate == 1000 and row["video"].load().shape == (4, 3, 8, 8)
    assert row["page"].load() == "<p>hi</p>"


def test_segments_with_media_rows_pass_the_receiving_check_and_broken_ones_do_not(
    api: flightlog.Api,
) -> None:
    import pyarrow as pa

    from flightlog.store.schema import MEDIA, validate_history_values

    run = flightlog.init(project="m")
    run.log({"img": flightlog.Image(np.zeros((2, 2), np.uint8)), "x": 1})
    run.finish()
    tidy = api.run(run.path).tidy()
    validate_history_values(tidy)  # what a receiving server checks before it stores a segment
    texts = [
        ("not json" if k == MEDIA else t)
        for k, t in zip(
            tidy.column("kind").to_pylist(), tidy.column("text").to_pylist(), strict=True
        )
    ]
    broken = tidy.set_column(
        tidy.schema.get_field_index("text"), "text", pa.array(texts, pa.string())
    )
    with pytest.raises(ValueError, match="kind 7 text does not parse"):
        validate_history_values(broken)
