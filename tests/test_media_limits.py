"""Media stay bounded and bad media never cost a row: dedup, the per-run budget, bad objects."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

import flightlog
from flightlog.media import MediaSink, _sink, prepare

from .conftest import settled


def media_files(run: flightlog.Run) -> list[Path]:
    return sorted(p for p in (Path(run.dir) / "media").glob("??/*"))


def rows(api: flightlog.Api, run: flightlog.Run) -> list[dict]:
    return list(api.run(run.path).scan_history())


def test_the_same_image_logged_twice_is_stored_once(api: flightlog.Api) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    run = flightlog.init(project="m")
    for _ in range(3):
        run.log({"img": flightlog.Image(pixels), "same": [flightlog.Image(pixels)] * 2})
    run.log({"img": flightlog.Image(pixels[::-1])})
    run.finish()
    assert len(media_files(run)) == 2
    refs = [r["img"] for r in rows(api, run)]
    assert len({r["sha256"] for r in refs[:3]}) == 1 and refs[3]["sha256"] != refs[0]["sha256"]


@pytest.mark.parametrize("how", ["settings", "environment"])
def test_past_the_media_budget_rows_are_kept_and_media_are_marked_dropped(
    api: flightlog.Api, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], how: str
) -> None:
    monkeypatch.delenv("FLIGHTLOG_SILENT")
    if how == "environment":
        monkeypatch.setenv("FLIGHTLOG_MEDIA_MAX_FILES", "2")
        run = flightlog.init(project="m")
    else:
        run = flightlog.init(project="m", settings={"media_max_files": 2})
    for i in range(5):
        run.log({"img": flightlog.Image(np.full((4, 4), i, np.uint8)), "i": i})
    run.finish()
    got = rows(api, run)
    assert [r["i"] for r in got] == [0, 1, 2, 3, 4]
    assert [r["img"].dropped for r in got] == [None, None] + ["media budget spent"] * 3
    assert len(media_files(run)) == 2
    with pytest.raises(FileNotFoundError, match="not stored: media budget spent"):
        got[4]["img"].load()
    err = capfd.readouterr().err
    assert err.count("media budget is spent") == 1 and "FLIGHTLOG_MEDIA_MAX_FILES" in err


def test_the_byte_budget_counts_stored_bytes(api: flightlog.Api) -> None:
    run = flightlog.init(project="m", settings={"media_max_bytes": 1})
    run.log({"page": flightlog.Html("<p>too big for one byte</p>")})
    run.finish()
    (row,) = rows(api, run)
    assert row["page"].dropped == "media budget spent" and media_files(run) == []


def test_a_bad_media_budget_setting_is_refused_by_init() -> None:
    with pytest.raises(flightlog.UsageError, match="media_max_files"):
        flightlog.init(project="m", settings={"media_max_files": -1})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (lambda: flightlog.Image(np.zeros((5, 5, 7))), "shape \\(5, 5, 7\\) is not HW, HWC or CHW"),
        (lambda: flightlog.Image(np.zeros((2, 5, 5, 7))), "nor a batch of them"),
        (lambda: flightlog.Image(np.full((4, 4), np.nan)), "NaN or infinite"),
        (lambda: flightlog.Image(object()), "expected numbers"),
        (lambda: flightlog.Image("missing.png"), "cannot read image file 'missing.png'"),
        (lambda: flightlog.Image(np.zeros((0, 4))), "empty"),
        (lambda: flightlog.Audio(np.zeros(10)), "needs sample_rate="),
        (lambda: flightlog.Audio(np.full(10, 3.0), sample_rate=8000), "must lie in \\[-1, 1\\]"),
        (lambda: flightlog.Video(np.zeros((4, 4, 4))), "T×C×H×W"),
        (lambda: flightlog.Table(columns=["a", "b"], data=[[1]]), "1 cells for 2 columns"),
        (lambda: flightlog.Html(42), "Html takes a string"),
        (lambda: flightlog.Object3D(np.zeros((3, 3))), "does not store Object3D"),
        (lambda: [flightlog.Image(np.zeros((2, 2))), 3], "a list of media holds a int"),
        (
            lambda: flightlog.plot.line(flightlog.Table(columns=["x"], data=[[1]]), "x", "y"),
            "no column 'y'",
        ),
    ],
)
def test_a_bad_media_object_is_one_warning_naming_the_key_and_the_row_is_kept(
    api: flightlog.Api, value, message: str
) -> None:
    run = flightlog.init(project="m")
    with pytest.warns(RuntimeWarning, match=f"'samples.bad' is left out: .*{message}"):
        run.log({"samples": {"bad": value()}, "loss": 0.5})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per key
        run.log({"samples": {"bad": value()}, "loss": 0.25})
    run.finish()
    got = rows(api, run)
    assert [r["loss"] for r in got] == [0.5, 0.25]
    assert all("samples/bad" not in r and "samples.bad" not in r for r in got)


def test_an_unknown_value_type_is_still_a_type_error_naming_the_key() -> None:
    run = flightlog.init(project="m")
    with pytest.raises(TypeError, match="'thing' has type object"):
        run.log({"thing": object()})


def test_media_encoded_on_the_writer_side_are_in_the_summary(api: flightlog.Api) -> None:
    run = flightlog.init(project="m")
    run.log({"img": flightlog.Image(np.zeros((3, 5), np.uint8))})
    run.finish()
    ref = api.run(run.path).summary_metrics["img"]
    assert ref["_type"] == "image-file" and (ref["width"], ref["height"]) == (5, 3)
    assert (Path(run.dir) / ref["path"]).is_file()  # the summary is a plain dict


def test_every_media_file_is_fsynced_before_the_row_naming_it_is_made_durable(
    api: flightlog.Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power loss takes a row with its blob or neither: a blob's fsync comes before the
    first fsync/msync/seal after its row was written."""
    from flightlog.media import _sink
    from flightlog.store.rowlog import RowLog
    from flightlog.store.takeover import HeldSegment
    from flightlog.store.writer import RunWriter

    events: list[tuple[str, str]] = []
    fsync, write = _sink._fsync_file, HeldSegment.write

    def fsync_spy(path: Path) -> None:
        fsync(path)
        events.append(("fsync", path.name))

    def write_spy(self: HeldSegment, batch, *args, **kwargs):
        for text in batch.column("text").to_pylist():
            if text and '"sha256"' in text:
                events.append(("write", text))
        return write(self, batch, *args, **kwargs)

    def durable(cls: type, name: str) -> None:
        original = getattr(cls, name)

        def spy(self, *args, **kwargs):
            events.append(("durable", name))
            return original(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, spy)

    monkeypatch.setattr(_sink, "_fsync_file", fsync_spy)
    monkeypatch.setattr(HeldSegment, "write", write_spy)
    durable(HeldSegment, "fsync")
    durable(RowLog, "sync")
    durable(RunWriter, "_close_segment")
    run = flightlog.init(project="m")
    run._wait_context(60.0)  # its writer thread runs: the seal comes after finish() returned
    for i in range(20):
        run.log({"img": flightlog.Image(np.full((4, 4), i, np.uint8)), "i": i})
    run.finish()
    settled()  # the whole sequence of fsyncs and seals, not the part before finish() returned
    refs = [r["img"] for r in rows(api, run)]
    assert len(refs) == 20
    for ref in refs:
        synced = events.index(("fsync", ref["sha256"]))
        written = next(
            i for i, (what, text) in enumerate(events) if what == "write" and ref["sha256"] in text
        )
        made_durable = next(
            i for i, (what, _) in enumerate(events) if what == "durable" and i > written
        )
        assert synced < made_durable


@pytest.mark.parametrize(
    "image",
    [
        lambda: flightlog.Image(np.zeros((200, 200, 3), np.uint8)),
        lambda: flightlog.Image(PILImage.fromarray(np.zeros((200, 200, 3), np.uint8))),
    ],
    ids=["array", "PIL"],
)
def test_media_waiting_to_be_encoded_are_bounded_and_then_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, image
) -> None:
    """The writer encodes what log() copied; past MAX_HELD_BYTES waiting, a value is a
    reference marked dropped, and once encoded the room is given back."""
    monkeypatch.setattr(_sink, "MAX_HELD_BYTES", 150_000)  # one 200×200 RGB image
    said: list[str] = []
    sink = MediaSink(tmp_path, said.append)
    first = prepare("img", image(), sink)
    second = prepare("img", image(), sink)
    assert second is not None and second.reference() == {
        "_type": "image-file",
        "dropped": "media backlog full",
    }
    assert len(said) == 1 and "further media are dropped" in said[0]
    assert first is not None and "path" in first.reference()
    third = prepare("img", image(), sink)
    assert third is not None and "path" in third.reference()
