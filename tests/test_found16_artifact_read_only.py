"""An artifact version the training user may read but not write (session 16's fault hunt):
another team's dataset in a shared store, its directory a read-only mount here. Using it is
a read: the training script goes on, and the run still records what it used."""

from __future__ import annotations

import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import flightlog


@pytest.fixture
def read_only_dataset(store: Path, tmp_path: Path) -> Iterator[Path]:
    """Artifact data/ds:v0 in the store, its directory then bind-mounted read-only (root
    only: skipped elsewhere), unmounted after the test."""
    (tmp_path / "d.txt").write_text("rows")
    maker = flightlog.init(project="data", id="maker")
    maker.log_artifact(tmp_path / "d.txt", name="ds", type="dataset")
    maker.finish()
    where = store / "artifacts" / "data" / "ds"
    for args in (["--bind", str(where), str(where)], ["-o", "remount,bind,ro", str(where)]):
        done = subprocess.run(["mount", *args], capture_output=True, text=True)
        if done.returncode:
            subprocess.run(["umount", str(where)], capture_output=True)
            pytest.skip(f"cannot make a read-only mount: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_use_artifact_of_a_version_this_user_cannot_write_goes_on(
    read_only_dataset: Path, tmp_path: Path, api: flightlog.Api
) -> None:
    """use_artifact() wrote the lineage (`used_by/`) into the version's directory and raised
    OSError (EROFS, EACCES) into the training script when it could not."""
    run = flightlog.init(project="train", id="user1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        used = run.use_artifact("data/ds:latest")
    assert used.version == "v0"
    assert (Path(used.download(tmp_path / "got")) / "d.txt").read_text() == "rows"
    assert [str(w.message) for w in caught if "lineage" in str(w.message)]
    run.log({"loss": 1.0})
    run.finish()
    assert [(a.name, a.version) for a in api.run("train/user1").used_artifacts()] == [("ds", "v0")]
