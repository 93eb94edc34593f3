"""Artifacts as wandb users log them (session 12's fault hunt): what went in comes back out."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog
from flightlog._errors import ArtifactError
from flightlog.artifacts.registry import Registry


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


@pytest.mark.xfail(
    strict=True,
    reason="Api runs have no logged_artifacts()/used_artifacts() (wandb's Api Run has both): "
    "AttributeError; the fix belongs in flightlog/_api_run.py (owned elsewhere)",
)
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
