"""Artifacts in the local store: versions, aliases, dedup by content, lineage, round trips."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flightlog
from flightlog._errors import ArtifactError, ArtifactNotFoundError
from flightlog.artifacts.registry import Registry


def _blob_files(store: Path) -> list[Path]:
    return [p for p in (store / "blobs").rglob("*") if p.is_file()]


def _checkpoint(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def test_versions_count_up_per_name_and_latest_moves(store: Path, tmp_path: Path) -> None:
    run = flightlog.init(project="p")
    ck = tmp_path / "model.ckpt"
    a = run.log_model(_checkpoint(ck, b"epoch 1"), name="net", aliases=["best"])
    b = run.log_model(_checkpoint(ck, b"epoch 2"), name="net")
    other = run.log_model(_checkpoint(ck, b"epoch 3"), name="other-net")
    assert (a.version, b.version, other.version) == ("v0", "v1", "v0")
    assert a.aliases == ["latest", "best"] and b.aliases == ["latest"]
    assert run.use_artifact("net:latest").version == "v1"
    assert run.use_artifact("net").version == "v1"
    assert run.use_artifact("net:best").version == "v0"
    c = run.log_model(_checkpoint(ck, b"epoch 4"), name="net", aliases=["best"])
    assert run.use_artifact("net:best").version == c.version == "v2"
    assert Registry(store).aliases("p", "net") == {2: ["latest", "best"]}


def test_the_same_content_is_the_same_version_and_takes_the_new_aliases(
    store: Path, tmp_path: Path
) -> None:
    run = flightlog.init(project="p")
    ck = tmp_path / "model.ckpt"
    run.log_model(_checkpoint(ck, b"A"), name="net")
    run.log_model(_checkpoint(ck, b"B"), name="net")
    again = run.log_model(_checkpoint(ck, b"A"), name="net", aliases=["prod"])
    assert again.version == "v0"
    assert [v.version for v in Registry(store).versions("p", "net")] == [0, 1]
    assert run.use_artifact("net:prod").version == "v0"
    assert run.use_artifact("net:latest").version == "v0"  # latest: the one logged last
    assert len(_blob_files(store)) == 2


def test_a_checkpoint_logged_by_ten_runs_is_stored_once(store: Path, tmp_path: Path) -> None:
    ck = _checkpoint(tmp_path / "shared.ckpt", os.urandom(200_000))
    ids = []
    for _ in range(10):
        run = flightlog.init(project="p", reinit="finish_previous")
        assert run.log_model(ck, name="base").version == "v0"
        ids.append(run.id)
        run.finish()
    assert [p.stat().st_size for p in _blob_files(store)] == [200_000]
    [v] = Registry(store).versions("p", "base")
    assert v.manifest["logged_by"] == {"project": "p", "id": ids[0]}
    for run_id in ids:  # each run says what it logged
        meta = json.loads((store / "runs" / "p" / run_id / "run.json").read_text())
        assert [(a["name"], a["version"]) for a in meta["artifacts"]] == [("base", "v0")]


def test_lineage_says_which_run_logged_and_which_used_each_version(
    store: Path, tmp_path: Path
) -> None:
    producer = flightlog.init(project="p", reinit="create_new")
    producer.log_artifact(
        str(_checkpoint(tmp_path / "d.csv", b"a,b\n")), name="data", type="dataset"
    )
    users = [flightlog.init(project="q", reinit="create_new") for _ in range(2)]
    for u in users:
        art = u.use_artifact("p/data:latest", type="dataset")
    assert art.logged_by() == {"project": "p", "id": producer.id}
    assert [(x["project"], x["id"]) for x in art.used_by()] == [("q", u.id) for u in users]
    for u in users:
        u.finish()
        meta = json.loads((Path(u.dir) / "run.json").read_text())
        assert meta["used_artifacts"] == [
            {
                "name": "data",
                "project": "p",
                "version": "v0",
                "digest": art.digest,
                "type": "dataset",
            }
        ]


def test_every_way_of_naming_a_version_finds_it(store: Path, tmp_path: Path) -> None:
    run = flightlog.init(project="p", entity="me")
    logged = run.log_model(_checkpoint(tmp_path / "m.bin", b"w"), name="net", aliases=["best"])
    for ref in ("net", "net:v0", "net:latest", "net:best", "p/net:best", "me/p/net:v0", logged):
        assert run.use_artifact(ref).digest == logged.digest
    assert flightlog.Api(store).artifact("p/net:best", type="model").digest == logged.digest
    unlogged = flightlog.Artifact("fresh", "dataset")
    unlogged.add_reference("s3://bucket/data/")
    assert run.use_artifact(unlogged).version == "v0"  # logged on first use, as wandb does


def test_add_dir_new_file_and_references_come_back_as_they_went_in(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    (src / "top.txt").write_text("top")
    (src / "sub" / "deeper" / "w.bin").write_bytes(b"\x00\x01")
    run = flightlog.init(project="p")
    art = flightlog.Artifact("bundle", "dataset", description="d", metadata={"rows": 3})
    art.add_dir(src, name="tree")
    art.add_dir(src)
    with art.new_file("notes/readme.md") as f:
        f.write("# hi")
    with art.new_file("raw.bin", mode="wb") as f:
        f.write(b"\xff")
    art.add_reference("https://example.com/big.tar", name="remote/big.tar")
    art.add_reference("s3://bucket/key")
    run.log_artifact(art)
    got = run.use_artifact("bundle:v0")
    assert sorted(e.path for e in got.files()) == [
        "key",
        "notes/readme.md",
        "raw.bin",
        "remote/big.tar",
        "sub/deeper/w.bin",
        "top.txt",
        "tree/sub/deeper/w.bin",
        "tree/top.txt",
    ]
    with pytest.warns(RuntimeWarning, match="2 reference.* kept, not fetched"):
        out = Path(got.download())
    assert out == Path("artifacts") / "bundle:v0"
    assert (out / "tree" / "sub" / "deeper" / "w.bin").read_bytes() == b"\x00\x01"
    assert (out / "notes" / "readme.md").read_text() == "# hi"
    assert (out / "raw.bin").read_bytes() == b"\xff"
    assert not (out / "key").exists()  # references are kept, not fetched
    assert got.get_entry("remote/big.tar").ref == "https://example.com/big.tar"
    assert got.get_entry("top.txt").size == 3
    assert (got.description, got.metadata, got.type) == ("d", {"rows": 3}, "dataset")
    with pytest.raises(ArtifactNotFoundError, match="no entry 'nope'"):
        got.get_entry("nope")


_names = st.text("abcXYZ019_-", min_size=1, max_size=8)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    tree=st.dictionaries(
        st.lists(_names, min_size=1, max_size=3).map(tuple),
        st.binary(max_size=300),
        min_size=1,
        max_size=6,
    )
)
def test_any_directory_tree_round_trips_through_an_artifact(tree: dict, store: Path) -> None:
    with tempfile.TemporaryDirectory() as d:
        src, files = Path(d) / "src", {}
        for parts, data in tree.items():
            path = src.joinpath(*parts)
            if any(p.is_file() for p in [*path.parents, path]) or path.is_dir():
                continue  # a name used as both a file and a directory
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            files["/".join(parts)] = data
        run = flightlog.init(project="h", reinit="finish_previous")
        art = flightlog.Artifact("tree", "dataset")
        art.add_dir(src)
        run.log_artifact(art)
        out = Path(run.use_artifact(f"tree:{art.version}").download(Path(d) / "out"))
        got = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        assert got == files


def test_log_model_and_use_model_give_back_the_file(tmp_path: Path) -> None:
    run = flightlog.init(project="p")
    art = run.log_model(_checkpoint(tmp_path / "w.pt", b"weights"))
    assert art.name == f"run-{run.id}-w.pt" and art.type == "model"
    path = Path(flightlog.use_model(f"{art.name}:latest"))
    assert path.name == "w.pt" and path.read_bytes() == b"weights"
    assert Path(run.use_artifact(art.name).file()).read_bytes() == b"weights"


def test_bad_input_is_a_clear_error_before_anything_is_written(store: Path, tmp_path: Path) -> None:
    run = flightlog.init(project="p")
    art = flightlog.Artifact("net", "model")
    with pytest.raises(ArtifactError, match="no such file"):
        art.add_file(tmp_path / "missing.ckpt")
    with pytest.raises(ArtifactError, match="no such directory"):
        art.add_dir(tmp_path / "missing")
    with pytest.raises(ArtifactError, match=r"without '\.\.'"):
        art.add_reference("s3://b/k", name="../escape")
    with pytest.raises(ArtifactError, match="invalid artifact name"):
        flightlog.Artifact("a/b", "model")
    with pytest.raises(ArtifactError, match="non-empty string"):
        flightlog.Artifact("ok", "")
    ck = _checkpoint(tmp_path / "a.ckpt", b"a")
    art.add_file(ck, name="w.ckpt")
    with pytest.raises(ArtifactError, match=r"has an entry 'w\.ckpt' already"):
        art.add_file(_checkpoint(tmp_path / "b.ckpt", b"b"), name="w.ckpt")
    for alias in ("v3", "a/b", ""):
        with pytest.raises(ArtifactError, match="alias"):
            run.log_artifact(art, aliases=[alias])
    ck.unlink()
    with pytest.raises(ArtifactError, match="gone since it was added; nothing was logged"):
        run.log_artifact(art)
    with pytest.raises(ArtifactError, match="no such file"):
        run.log_artifact(str(tmp_path / "nothing-here"), name="x", type="model")
    assert not (store / "artifacts").exists() and _blob_files(store) == []
    with pytest.raises(ArtifactNotFoundError, match="flightlog artifact ls"):
        run.use_artifact("net:latest")
    logged = run.log_model(_checkpoint(tmp_path / "c.ckpt", b"c"), name="net")
    with pytest.raises(ArtifactNotFoundError, match="no artifact p/net:v7"):
        run.use_artifact("net:v7")
    with pytest.raises(ArtifactError, match="has type 'model', not 'dataset'"):
        run.use_artifact("net:v0", type="dataset")
    with pytest.raises(ArtifactError, match="logged already"):
        logged.add_file(tmp_path / "c.ckpt", name="more.ckpt")
    with pytest.raises(ArtifactError, match="log it first"):
        _ = flightlog.Artifact("later", "model").version
