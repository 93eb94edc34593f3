"""`run.upload_file()` from several threads of one process at once (a notebook uploading
a model's files in a thread pool): each file is kept whole, under its own name, and no
partial copy is left beside the run's files."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import flightlog

from .conftest import python_script

SCRIPT = """
import flightlog
run = flightlog.init(project="p", id="r1", mode="offline")
run.log({"loss": 0.5})
run.finish()
"""


def test_files_uploaded_from_threads_at_once_each_keep_their_bytes(tmp_path: Path) -> None:
    done = python_script(SCRIPT, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    src = tmp_path / "out"
    src.mkdir()
    bodies = {f"f{i}.bin": bytes([i]) * (4 << 20) for i in range(8)}
    for name, body in bodies.items():
        (src / name).write_bytes(body)
    run = flightlog.Api().run("p/r1")

    def upload(name: str) -> str:
        try:
            run.upload_file(str(src / name), root=str(src))
        except OSError as e:  # (before: one thread's copy renamed away under another)
            return f"{name}: {e}"
        return ""

    with ThreadPoolExecutor(8) as pool:
        errors = [e for e in pool.map(upload, bodies) if e]
    assert errors == []
    again = flightlog.Api().run("p/r1")
    for name, body in bodies.items():
        got = again.file(name).download(str(tmp_path / "dl"))
        assert got.read_bytes() == body, name
    assert not [p for p in run.paths.dir.iterdir() if p.name.endswith(".part")]
