"""A killed writer's caught-up summary is worked out once per process while its files stay as
they are (store/summary_tail.py `_identity`): an Api listing's index and then each listed
run's `summary` read it once. When the files change (here: the segment and journal holding
the rows after the beat moved aside, as `doctor` moves a damaged file), the next read
follows them, as a fresh process's does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from flightlog.store import RunPaths, StoredRun

from .conftest import python_script

KILLED = """
import os, signal, time
import flightlog
run = flightlog.init(project="p", id="memo",
                     settings={"heartbeat_interval": 30.0, "flush_interval": 0.05})
run.log({"loss": 1.0, "acc": 0.5})
run._writer.flush()  # written, and the state with them: the beat
for i in range(50):
    run.log({"loss": float(i)})
deadline = time.monotonic() + 30
while run._writer.rows_written < 2 + 50 and time.monotonic() < deadline:
    time.sleep(0.01)
os.kill(os.getpid(), signal.SIGKILL)
"""

READ = """
import json, sys
from pathlib import Path
from flightlog.store import RunPaths, StoredRun
print(json.dumps(StoredRun.load(RunPaths(Path(sys.argv[1]))).summary))
"""


def _summary(paths: RunPaths) -> dict[str, object]:
    stored = StoredRun.load(paths)
    assert stored is not None and stored.state == "crashed"
    return stored.summary


def test_a_caught_up_summary_follows_its_files(store: Path, tmp_path: Path) -> None:
    assert python_script(KILLED).returncode == -9
    paths = RunPaths(store / "runs" / "p" / "memo")
    first = _summary(paths)
    assert (first["loss"], first["acc"], first["_step"]) == (49.0, 0.5, 50)
    first["loss"] = "changed by its reader"
    assert _summary(paths)["loss"] == 49.0

    aside = tmp_path / "aside"
    aside.mkdir()
    for f in paths.history.iterdir():
        shutil.move(f, aside / f.name)
    fresh = python_script(READ.replace("sys.argv[1]", repr(str(paths.dir))))
    assert fresh.returncode == 0, fresh.stderr
    now = _summary(paths)
    assert now == json.loads(fresh.stdout) and now["loss"] == 1.0
