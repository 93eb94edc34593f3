"""Artifacts as wandb users log them (session 12's fault hunt): what went in comes back out."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import flightlog
from flightlog._errors import ArtifactError
from flightlog.artifacts.registry import Registry

from .conftest import spawn


def test_an_artifact_logged_again_stays_its_version_and_takes_the_new_aliases(
    store: Path, tmp_path: Path
) -> None:
    """wandb logs an artifact object a second time as the same version (its content is the
    same): a script adding an alias this way must not make `latest` name an empty version."""
    (tmp_path / "model.ckpt").write_bytes(b"weights")
    run = flightlog.init(project="p")
    art = flightlog.Artifact("net", "model")
    art.add_file(tmp_path / "model.ckpt")
    run.log_artifact(art)
    again = run.log_artifact(art, aliases=["best"])
    assert again.version == "v0"
    assert [v.version for v in Registry(store).versions("p", "net")] == [0]
    latest = run.use_artifact("net:latest")
    assert latest.version == "v0" and [f.path for f in latest.files()] == ["model.ckpt"]
    assert run.use_artifact("net:best").version == "v0"
    run.finish()


def test_add_dir_follows_symlinked_directories_as_wandb_does(store: Path, tmp_path: Path) -> None:
    """A checkpoint directory whose shards live elsewhere (an HF cache snapshot, a scratch
    volume linked in): wandb's add_dir walks with followlinks=True and keeps every file."""
    shards = tmp_path / "scratch" / "shards"
    shards.mkdir(parents=True)
    (shards / "model-00001.safetensors").write_bytes(b"shard one")
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}")
    (ckpt / "weights").symlink_to(shards, target_is_directory=True)
    run = flightlog.init(project="p")
    art = flightlog.Artifact("ckpt", "model")
    art.add_dir(ckpt)
    logged = run.log_artifact(art)
    assert [f.path for f in logged.files()] == ["config.json", "weights/model-00001.safetensors"]
    out = Path(logged.download(tmp_path / "out"))
    assert (out / "weights" / "model-00001.safetensors").read_bytes() == b"shard one"
    (ckpt / "tokenizer.json").symlink_to(tmp_path / "scratch" / "gone.json")
    with pytest.raises(ArtifactError, match=r"tokenizer\.json is a broken symlink"):
        flightlog.Artifact("ckpt", "model").add_dir(ckpt)  # said, not left out
    run.finish()


def test_api_runs_list_the_artifacts_they_logged_and_used(store: Path, tmp_path: Path) -> None:
    """A notebook finding a run's checkpoints: `api.run(path).logged_artifacts()`."""
    (tmp_path / "m.ckpt").write_bytes(b"w")
    producer = flightlog.init(project="p", reinit="create_new")
    producer.log_model(tmp_path / "m.ckpt", name="net")
    producer.finish()
    consumer = flightlog.init(project="p", reinit="create_new")
    consumer.use_artifact("net:latest")
    consumer.finish()
    api = flightlog.Api(store)
    [logged] = api.run(producer.path).logged_artifacts()
    assert (logged.name, logged.version, logged.type) == ("net", "v0", "model")
    assert [f.path for f in logged.files()] == ["m.ckpt"]
    [used] = api.run(consumer.path).used_artifacts()
    assert used.digest == logged.digest


RANK = """
import sys, flightlog
run = flightlog.init(project="p", id="shared01", mode="shared",
                     settings={{"label": "rank{rank}", "flush_interval": 60}})
open("w{rank}.bin", "w").write("{rank}")
sys.stdin.readline()  # go
run.log_model("w{rank}.bin", name="net{rank}")
print("LOGGED", flush=True)
sys.stdin.readline()  # finish
run.finish()
"""


def test_every_rank_of_a_shared_run_keeps_the_artifacts_it_logged(
    store: Path, tmp_path: Path
) -> None:
    """DDP ranks logging their checkpoint shards at the same step: both log before either
    writes run.json (a flush interval holds the writes back here)."""
    ranks = [spawn(RANK.format(rank=r), cwd=tmp_path, stdin=subprocess.PIPE) for r in (0, 1)]
    for p in ranks:
        assert p.stdin is not None and p.stdout is not None
        p.stdin.write("\n")
        p.stdin.flush()
        assert p.stdout.readline().strip() == "LOGGED", p.stderr.read() if p.stderr else ""
    for p in ranks:
        p.communicate("\n", timeout=60)
        assert p.returncode == 0
    meta = json.loads((store / "runs" / "p" / "shared01" / "run.json").read_text())
    assert sorted(a["name"] for a in meta["artifacts"]) == ["net0", "net1"]


def test_download_copies_file_references_and_names_the_ones_it_cannot_fetch(
    store: Path, tmp_path: Path
) -> None:
    """A dataset on a shared filesystem added by reference (wandb's file:// references):
    download() gives its files; an s3:// one is named, not silently missing."""
    shared = tmp_path / "nfs" / "data"
    shared.mkdir(parents=True)
    (shared / "train.csv").write_text("a,b\n1,2\n")
    (shared / "val").mkdir()
    (shared / "val" / "v.csv").write_text("a,b\n3,4\n")
    run = flightlog.init(project="p")
    art = flightlog.Artifact("data", "dataset")
    art.add_reference(f"file://{shared / 'train.csv'}")
    art.add_reference(f"file://{shared / 'val'}")
    art.add_reference("s3://bucket/extra.csv")
    run.log_artifact(art)
    with pytest.warns(RuntimeWarning, match="s3://bucket/extra.csv"):
        out = Path(run.use_artifact("data:latest").download(tmp_path / "got"))
    assert (out / "train.csv").read_text() == "a,b\n1,2\n"
    assert (out / "val" / "v.csv").read_text() == "a,b\n3,4\n"
    run.finish()


def test_add_dir_of_a_directory_holding_the_store_leaves_the_store_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project snapshot, `art.add_dir(".")`, in a directory whose ./flightlog is the store:
    the store's journals and segments change as runs write (a journal sealed into a segment
    is gone by the time the artifact is logged)."""
    monkeypatch.delenv("FLIGHTLOG_DIR")  # the default store, ./flightlog
    (tmp_path / "train.py").write_text("print('hi')\n")
    run = flightlog.init(project="p")
    run.log({"loss": 1.0})
    run.save()
    art = flightlog.Artifact("project", "code")
    with pytest.warns(RuntimeWarning, match="left out"):
        art.add_dir(tmp_path)
    run.finish()  # its journal is sealed into a segment: that file is gone
    logged = flightlog.init(project="p", reinit="create_new").log_artifact(art)
    assert [f.path for f in logged.files()] == ["train.py"]


def test_logged_artifacts_of_a_hand_edited_run_json_are_none(store: Path) -> None:
    """A run.json whose `artifacts` is not a list (edited by hand) lists no artifact; it
    raised TypeError (found by breaker5)."""
    run = flightlog.init(project="p", reinit="create_new")
    run.finish()
    meta_path = Path(run.dir) / "run.json"
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "artifacts": 3}))
    assert flightlog.Api(store).run(run.path).logged_artifacts() == []
