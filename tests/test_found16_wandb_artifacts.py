"""Artifacts as wandb code reads them (session 16's fault hunt)."""

from __future__ import annotations

from pathlib import Path

import flightlog


def test_artifact_files_have_wandbs_name(store: Path, tmp_path: Path) -> None:
    """wandb's `Artifact.files()` gives File objects named by `.name` (the entry's path):
    `[f.name for f in art.files()]` raised AttributeError."""
    (tmp_path / "model.pt").write_bytes(b"weights")
    run = flightlog.init(project="w")
    art = flightlog.Artifact("ds", type="dataset")
    art.add_file(tmp_path / "model.pt", name="sub/model.pt")
    run.log_artifact(art)
    run.finish()
    files = flightlog.Api().artifact("w/ds:latest").files()
    assert [(f.name, f.size) for f in files] == [("sub/model.pt", 7)]
    assert Path(files[0].download(tmp_path / "out")).read_bytes() == b"weights"
