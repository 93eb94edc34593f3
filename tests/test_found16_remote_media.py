"""Media read back from a team server (session 16's fault hunt): an image, a table and its
image cells, audio, video and HTML, synced by `flightlog sync`, then read through
`flightlog.Api(host=URL)`, which the README says gives "the same objects as on a local
store": each blob fetched once from the server, checked, into a bounded cache
(sync/remote_blobs.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import flightlog
from flightlog._errors import NotFoundError, SyncError
from flightlog.sync.remote_blobs import BlobCache

from .conftest import settled
from .servers import LiveServer
from .test_blob_sync import _sync as synced

pytestmark = pytest.mark.slow


def test_an_image_and_a_table_synced_to_a_server_load_through_api_host(
    server: LiveServer, tmp_path: Path, api: flightlog.Api
) -> None:
    key = server.user("alice")
    run = flightlog.init(project="p", entity="alice", id="m1")
    run.log({"img": flightlog.Image(np.full((4, 4, 3), 7, np.uint8))})
    cell = flightlog.Image(np.full((3, 3, 3), 9, np.uint8))
    run.log({"t": flightlog.Table(columns=["a", "img"], data=[[1, cell]])})
    run.finish()
    settled()
    assert synced(server, key, run.dir).complete
    local = list(api.run("alice/p/m1").scan_history())
    remote = list(flightlog.Api(host=server.url, api_key=key).run("alice/p/m1").scan_history())
    assert [sorted(r) for r in remote] == [sorted(r) for r in local]
    assert np.array_equal(remote[0]["img"].load(), local[0]["img"].load())
    table = remote[1]["t"].load()
    assert table.get_column("a") == [1]
    assert np.array_equal(table.data[0][1].load(), np.full((3, 3, 3), 9, np.uint8))
    # each blob was fetched once into the cache: with the server gone they still load
    cached = sorted(p.name for p in (Path(os.environ["FLIGHTLOG_CACHE_DIR"]) / "blobs").rglob("*"))
    shas = [remote[0]["img"]["sha256"], remote[1]["t"]["sha256"], table.data[0][1]["sha256"]]
    assert [s for s in cached if len(s) == 64] == sorted(shas)
    server.stop()
    assert np.array_equal(remote[0]["img"].load(), local[0]["img"].load())
    assert remote[1]["t"].load().get_column("a") == [1]


def _logged(run_id: str, values: dict[str, Any]) -> Any:
    """A finished run alice/p/`run_id` that logged `values` at step 0."""
    run = flightlog.init(project="p", entity="alice", id=run_id)
    run.log(values)
    run.finish()
    settled()
    return run


def test_audio_video_and_html_of_a_server_run_load_as_locally(
    server: LiveServer, api: flightlog.Api
) -> None:
    key = server.user("alice")
    clip = (np.sin(np.arange(1600) / 5) * 1000).astype(np.int16)
    frames = np.stack([np.full((3, 4, 4), i * 40, np.uint8) for i in range(3)])
    noise = np.random.default_rng(0).integers(0, 256, (800, 800, 3), np.uint8)
    run = _logged(
        "m2",
        {
            "clip": flightlog.Audio(clip, sample_rate=16000),
            "video": flightlog.Video(frames, fps=4),
            "page": flightlog.Html("<p>naïve 日本</p>"),
            "pair": [flightlog.Image(np.full((2, 2, 3), v, np.uint8)) for v in (5, 6)],
            "noise": flightlog.Image(noise),  # a PNG of ~1.9 MB: streamed in chunks
        },
    )
    assert synced(server, key, run.dir).complete
    (local,) = api.run("alice/p/m2").scan_history()
    on_server = flightlog.Api(host=server.url, api_key=key).run("alice/p/m2")
    (remote,) = on_server.scan_history()
    assert [a[0, 0, 0] for a in remote["pair"].load()] == [5, 6]
    assert remote["noise"]["size"] > 1 << 20  # more than one CHUNK of the download
    assert np.array_equal(remote["noise"].load(), noise)
    assert on_server.history(pandas=True)["page"][0].load() == "<p>naïve 日本</p>"
    audio = remote["clip"].load()
    assert (audio.sample_rate, audio.samples.tolist()) == (16000, clip.tolist())
    assert np.array_equal(remote["video"].load(), local["video"].load())
    assert remote["page"].load() == "<p>naïve 日本</p>"


def test_a_blob_the_server_lacks_or_garbles_is_an_error_naming_run_key_and_blob(
    server: LiveServer,
) -> None:
    """A reference whose blob never reached the server (its file was gone from the store
    that synced it) is a NotFoundError naming the run, key and blob; content that is not
    what its sha256 says is refused and not cached."""
    key = server.user("alice")
    run = _logged(
        "m3",
        {
            "gone": flightlog.Image(np.full((4, 4, 3), 1, np.uint8)),
            "bad": flightlog.Image(np.full((4, 4, 3), 2, np.uint8)),
        },
    )
    row = next(flightlog.Api().run("alice/p/m3").scan_history())
    gone, bad = row["gone"]["sha256"], row["bad"]["sha256"]
    (Path(run.dir) / row["gone"]["path"]).unlink()
    assert synced(server, key, run.dir).complete
    (held,) = (server.root / "blobs").rglob(bad)
    held.write_bytes(b"not the image")
    (remote,) = flightlog.Api(host=server.url, api_key=key).run("alice/p/m3").scan_history()
    with pytest.raises(NotFoundError) as e:
        remote["gone"].load()
    assert all(s in str(e.value) for s in ("alice/p/m3", "'gone'", gone, "image-file"))
    with pytest.raises(SyncError, match=f"blob {bad}.*nothing was stored"):
        remote["bad"].load()
    assert not list((Path(os.environ["FLIGHTLOG_CACHE_DIR"]) / "blobs").rglob(bad))


def test_a_reader_who_may_no_longer_read_the_project_gets_the_usual_refusal(
    server: LiveServer,
) -> None:
    """bob read alice's open project; made private, its media are refused him as its runs
    are (a private project is not there for non-members: the server's 404, not a 403)."""
    key = server.user("alice")
    bob = server.user("bob")
    run = _logged("m4", {"img": flightlog.Image(np.zeros((4, 4, 3), np.uint8))})
    assert synced(server, key, run.dir).complete
    server.accounts.set_visibility("alice", "p", "open")
    (row,) = flightlog.Api(host=server.url, api_key=bob).run("alice/p/m4").scan_history()
    server.accounts.set_visibility("alice", "p", "private")
    with pytest.raises(NotFoundError, match="private to its members") as e:
        row["img"].load()
    assert "alice/p/m4" in str(e.value) and row["img"]["sha256"] in str(e.value)
    server.accounts.set_visibility("alice", "p", "open")
    assert row["img"].load().shape == (4, 4, 3)


def test_the_blob_cache_keeps_its_limit_dropping_the_least_recently_used(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "blobs", limit=250)

    def put(data: bytes) -> Path:
        return cache.add(lambda store: store.put_bytes(data, durable=False))

    a, b = put(b"a" * 100), put(b"b" * 100)
    os.utime(a, (1, 1))
    os.utime(b, (2, 2))
    assert cache.get(a.name) == a  # a hit: `a` is now the most recently used
    c = put(b"c" * 100)
    assert (a.exists(), b.exists(), c.exists()) == (True, False, True)
    big = put(b"d" * 1000)  # bigger than the limit: kept alone
    assert [p for p in (a, c, big) if p.exists()] == [big]
    assert cache.get(b.name) is None
