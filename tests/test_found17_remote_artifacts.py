"""`Api(host=URL).run(path).logged_artifacts()` and `used_artifacts()` (session 17): the
versions a synced run logged or used, read from a real server, each downloaded through its
artifact and blob routes - as the local Api's are from the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import flightlog
from flightlog._errors import NotFoundError

from .conftest import python_script, settled
from .servers import LiveServer
from .test_blob_sync import _sync as synced

pytestmark = pytest.mark.slow


def _sync(srv: LiveServer, key: str, run_dir: str) -> None:
    settled()
    assert synced(srv, key, run_dir).complete


def _logger(tmp_path: Path, contents: list[bytes], run_id: str) -> flightlog.Run:
    """Run alice/p/`run_id`, finished, that logged each of `contents` as a version of net
    (file model.ckpt), the last one also as `best`."""
    run = flightlog.init(project="p", entity="alice", id=run_id)
    ckpt = tmp_path / "model.ckpt"
    for i, content in enumerate(contents):
        ckpt.write_bytes(content)
        run.log_artifact(ckpt, name="net", type="model", aliases=["best"] * (i == 1))
    run.finish()
    return run


def test_the_versions_a_run_logged_and_used_download_through_api_host(
    server: LiveServer, tmp_path: Path
) -> None:
    key = server.user("alice")
    logger = _logger(tmp_path, [b"epoch 1", b"epoch 2"], "logger")
    user = flightlog.init(project="p", entity="alice", id="user", reinit="create_new")
    user.use_artifact("net:v0")
    user.finish()
    _sync(server, key, logger.dir)
    _sync(server, key, user.dir)
    api = flightlog.Api(host=server.url, api_key=key)
    logged = api.run("alice/p/logger").logged_artifacts()
    assert [(a.name, a.version, a.type) for a in logged] == [
        ("net", "v0", "model"),
        ("net", "v1", "model"),
    ]
    assert logged[1].aliases == ["latest", "best"]
    assert logged[1].logged_by()["id"] == "logger"
    assert [e.name for e in logged[0].files()] == ["model.ckpt"]
    for art, content in zip(logged, [b"epoch 1", b"epoch 2"], strict=True):
        got = Path(art.download(tmp_path / "out" / art.version))
        assert (got / "model.ckpt").read_bytes() == content
    (used,) = api.run("alice/p/user").used_artifacts()
    assert (used.name, used.version) == ("net", "v0")
    assert Path(used.file(tmp_path / "used")).read_bytes() == b"epoch 1"


def test_a_run_whose_versions_have_other_numbers_on_the_server_finds_them_by_content(
    server: LiveServer, tmp_path: Path
) -> None:
    """Another machine pushed net first: the server numbers the versions as they arrived,
    so this run's net:v0 and v1 are the server's v1 and v2, found by their digests."""
    key = server.user("alice")
    other = python_script(
        """
        import flightlog
        open("m.ckpt", "wb").write(b"the other machine's")
        run = flightlog.init(project="p", entity="alice", id="other")
        run.log_artifact("m.ckpt", name="net", type="model")
        run.finish()
        print(run.dir)
        """,
        env={"FLIGHTLOG_DIR": str(tmp_path / "elsewhere")},
        cwd=tmp_path,
    )
    assert other.returncode == 0, other.stderr
    _sync(server, key, other.stdout.strip())
    logger = _logger(tmp_path, [b"epoch 1", b"epoch 2"], "logger")
    _sync(server, key, logger.dir)
    api = flightlog.Api(host=server.url, api_key=key)
    logged = api.run("alice/p/logger").logged_artifacts()
    assert [a.version for a in logged] == ["v1", "v2"]
    for art, content in zip(logged, [b"epoch 1", b"epoch 2"], strict=True):
        got = Path(art.download(tmp_path / "out" / art.version))
        assert (got / "model.ckpt").read_bytes() == content


def test_a_used_version_the_server_lacks_is_named_when_it_is_wanted(
    server: LiveServer, tmp_path: Path
) -> None:
    """The run that logged net was never synced: the run that used it lists it, and
    reading it says which version the server lacks and what to do."""
    key = server.user("alice")
    _logger(tmp_path, [b"epoch 1"], "logger")
    user = flightlog.init(project="p", entity="alice", id="user", reinit="create_new")
    user.use_artifact("net:v0")
    user.finish()
    _sync(server, key, user.dir)
    (used,) = flightlog.Api(host=server.url, api_key=key).run("alice/p/user").used_artifacts()
    assert (used.name, used.type) == ("net", "model")
    with pytest.raises(NotFoundError, match=r"alice/p/net:v0 .*not on .*flightlog sync"):
        used.download(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_local_run_uses_a_version_read_from_the_server_fetched_into_its_store(
    server: LiveServer, tmp_path: Path
) -> None:
    """`run.use_artifact(api_run.logged_artifacts()[0])` on another machine: the version
    comes into that store (its files too), the run lists it as used, and it reads back
    with the server gone."""
    key = server.user("alice")
    _sync(server, key, _logger(tmp_path, [b"epoch 1"], "logger").dir)
    (remote,) = flightlog.Api(host=server.url, api_key=key).run("alice/p/logger").logged_artifacts()
    elsewhere = tmp_path / "elsewhere"
    run = flightlog.init(project="p", dir=str(elsewhere), reinit="create_new")
    assert Path(run.dir).is_relative_to(elsewhere)
    art = run.use_artifact(remote)
    run.finish()
    server.stop()
    assert Path(art.file(tmp_path / "used")).read_bytes() == b"epoch 1"
    (used,) = flightlog.Api(str(elsewhere)).run(f"p/{run.id}").used_artifacts()
    assert (used.name, used.digest) == ("net", remote.digest)
    logger = flightlog.init(project="p", reinit="create_new")
    with pytest.raises(flightlog.Error, match="fetch it into this store first"):
        logger.log_artifact(remote)


def test_a_version_recorded_without_its_digest_says_how_to_fetch_it(
    server: LiveServer, tmp_path: Path
) -> None:
    """run.json of an older flightlog named a version without its digest: nothing tells it
    apart on the server, so it is listed, and reading it says how to fetch it by number."""
    key = server.user("alice")
    run = _logger(tmp_path, [b"epoch 1"], "logger")
    run_json = Path(run.dir) / "run.json"
    meta = json.loads(run_json.read_text())
    for entry in meta["artifacts"]:
        del entry["digest"]
    run_json.write_text(json.dumps(meta))
    _sync(server, key, run.dir)
    (art,) = flightlog.Api(host=server.url, api_key=key).run("alice/p/logger").logged_artifacts()
    assert (art.name, art.type) == ("net", "model")
    with pytest.raises(NotFoundError, match=r"alice/p/net:v0 .*without its digest.*artifact get"):
        art.files()
