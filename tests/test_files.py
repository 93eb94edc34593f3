"""run.save(): copies of files kept with the run, for each policy."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

import flightlog


def _files(run: flightlog.Run) -> Path:
    return Path(run.dir) / "files"


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_now_copies_the_file_as_it_is_at_the_call(tmp_path: Path, api) -> None:
    src = tmp_path / "config.yaml"
    src.write_text("lr: 0.1\n")
    run = flightlog.init()
    assert run.save(str(src), policy="now") == ["config.yaml"]
    _wait_for(lambda: (_files(run) / "config.yaml").exists())
    src.write_text("lr: 0.2\n")  # changed after: the copy keeps what it was
    run.finish(quiet=True)
    assert (_files(run) / "config.yaml").read_text() == "lr: 0.1\n"
    saved = api.run(run.path).meta["saved_files"]
    assert saved["config.yaml"] == hashlib.sha256(b"lr: 0.1\n").hexdigest()


def test_end_copies_at_finish(tmp_path: Path) -> None:
    src = tmp_path / "final.txt"
    src.write_text("draft")
    run = flightlog.init()
    run.save(str(src), policy="end")
    time.sleep(0.2)
    assert not (_files(run) / "final.txt").exists()
    src.write_text("final")
    run.finish(quiet=True)
    assert (_files(run) / "final.txt").read_text() == "final"


def test_live_recopies_a_file_changed_twice(tmp_path: Path, api) -> None:
    src = tmp_path / "model.ckpt"
    src.write_bytes(b"v1")
    run = flightlog.init()
    run.save(str(src))  # live is the default
    copy = _files(run) / "model.ckpt"
    _wait_for(lambda: copy.exists() and copy.read_bytes() == b"v1")
    for version in (b"v2", b"v3-last"):
        time.sleep(0.2)
        src.write_bytes(version)
        _wait_for(lambda v=version: copy.read_bytes() == v)
    run.finish(quiet=True)
    assert (
        api.run(run.path).meta["saved_files"]["model.ckpt"]
        == hashlib.sha256(b"v3-last").hexdigest()
    )


def test_glob_with_base_path_keeps_structure_and_copies_symlinks(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "ckpt").mkdir(parents=True)
    (out / "ckpt" / "a.pt").write_text("a")
    (out / "ckpt" / "b.pt").write_text("b")
    (out / "ckpt" / "latest.pt").symlink_to(out / "ckpt" / "b.pt")
    run = flightlog.init()
    names = flightlog.save(str(out / "ckpt" / "*.pt"), base_path=str(out), policy="now")
    assert names == ["ckpt/a.pt", "ckpt/b.pt", "ckpt/latest.pt"]
    run.finish(quiet=True)
    latest = _files(run) / "ckpt" / "latest.pt"
    assert latest.read_text() == "b" and not latest.is_symlink()  # a copy, not a link


def test_bad_save_calls(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("x")
    run = flightlog.init()
    assert run.save(str(tmp_path / "nothing*.bin")) == []  # said on stderr (test_found13)
    with pytest.raises(flightlog.UsageError, match="unknown policy 'sometimes'"):
        run.save(str(tmp_path / "x.txt"), policy="sometimes")
    with pytest.raises(flightlog.UsageError, match="is not under base_path"):
        run.save(str(tmp_path / "x.txt"), base_path="/nonexistent", policy="now")
    assert run.save() == []  # no argument: persist metadata, as before
