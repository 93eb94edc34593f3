"""`run.save(path)` with wandb's default policy "live" (session 16's fault hunt): the file is
copied when it changes, not when it is read. The copy's own read of the checkpoint (and the
script's, loading it to evaluate) made watchdog events that queued the next copy: a 1 MB
checkpoint saved once an epoch was copied 753 times in 10 epochs and 10,466 times by the
end of finish(), which waited for every copy (a multi-GB checkpoint: hours)."""

from __future__ import annotations

from pathlib import Path

import flightlog

from .conftest import python_script

SCRIPT = """
import os, time, flightlog
from flightlog import _files
copies = []
real_copy = _files.atomic_copy
def counted(src, dst):  # the real copy, counted
    copies.append(src)
    return real_copy(src, dst)
_files.atomic_copy = counted

def copied(content):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if open(os.path.join(run.dir, "files", "model.pt"), "rb").read() == content:
                return
        except OSError:
            pass
        time.sleep(0.01)
    raise SystemExit("the saved copy never caught up")

os.makedirs("ck", exist_ok=True)
run = flightlog.init(project="s", id="saved")
for epoch in range(3):
    content = os.urandom(1 << 20)
    with open("ck/model.pt", "wb") as f:  # torch.save(model, "ck/model.pt")
        f.write(content)
    run.save("ck/model.pt")  # as wandb scripts do after each checkpoint
    copied(content)
    for _ in range(3):  # evaluate: torch.load("ck/model.pt")
        open("ck/model.pt", "rb").read()
run.finish()
print("COPIES", len(copies))
"""


def test_a_live_saved_checkpoint_is_copied_when_it_changes_not_when_read(
    tmp_path: Path, api: flightlog.Api
) -> None:
    res = python_script(SCRIPT, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    copies = int(res.stdout.split("COPIES")[1])
    # per epoch: save()'s copy, at most two for the write's events; one more at finish
    assert copies <= 3 * 3 + 1, copies
    api.run("s/saved").file("model.pt").download(root=str(tmp_path / "got"))
    assert (tmp_path / "got" / "model.pt").read_bytes() == (tmp_path / "ck/model.pt").read_bytes()
