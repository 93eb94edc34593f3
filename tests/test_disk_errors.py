"""A failing disk never crashes the training script: one warning, data kept and retried.

The child process makes segment creation and appends, and small-file writes, fail with ENOSPC
while a switch is on: the writer sees what a full disk gives it.
"""

from __future__ import annotations

import pytest

import flightlog

from .conftest import python_script

pytestmark = pytest.mark.slow

FAULTS = """
    import errno, time, flightlog
    import flightlog.store.segments as seg, flightlog.store.atomic as atomic
    failing = {"on": False, "hits": 0}

    def enospc():
        failing["hits"] += 1
        return OSError(errno.ENOSPC, "No space left on device")

    # segments: creating one and appending a batch fail like a full disk
    real_init, real_write = seg.OpenSegment.__init__, seg.OpenSegment.write
    def flaky_init(self, path, schema):
        if failing["on"]:
            raise enospc()
        real_init(self, path, schema)
    def flaky_write(self, batch):
        if failing["on"]:
            raise enospc()
        real_write(self, batch)
    seg.OpenSegment.__init__, seg.OpenSegment.write = flaky_init, flaky_write

    # run.json and writer state files: their writes fail too
    real_open = open
    class Flaky:
        def __init__(self, f):
            self.f = f
        def write(self, b):
            if failing["on"]:
                raise enospc()
            return self.f.write(b)
        def __getattr__(self, name):
            return getattr(self.f, name)
        def __enter__(self):
            return self
        def __exit__(self, *a):
            self.f.close()
    def flaky_open(path, mode="r", *args, **kw):
        f = real_open(path, mode, *args, **kw)
        return Flaky(f) if any(c in mode for c in "wxa") else f
    atomic.open = flaky_open
"""


def test_full_disk_warns_once_keeps_rows_and_recovers(api: flightlog.Api) -> None:
    res = python_script(
        FAULTS
        + """
    run = flightlog.init(project="disk", id="full")
    for i in range(100):
        run.log({"i": i})
    time.sleep(0.3)
    failing["on"] = True
    for i in range(100, 200):
        run.log({"i": i})
        time.sleep(0.005)
    deadline = time.time() + 60
    while not failing["hits"] and time.time() < deadline:
        time.sleep(0.05)  # the writer has met the full disk, however loaded the machine
    failing["on"] = False
    for i in range(200, 300):
        run.log({"i": i})
    run.finish()
    print("script survived")
    """
    )
    assert res.returncode == 0, res.stderr
    assert "script survived" in res.stdout
    assert res.stderr.count("No space left on device") == 1, res.stderr
    assert "works again" in res.stderr
    run = api.run("disk/full")
    assert run.state == "finished"
    assert [r["i"] for r in run.scan_history()] == list(range(300))
    segments = list((run.dir / "history").iterdir())
    assert all(p.suffix == ".parquet" for p in segments)
    assert len(segments) <= 3, "every failed retry left a file behind"


def test_memory_is_bounded_while_the_disk_fails(api: flightlog.Api) -> None:
    res = python_script(
        FAULTS
        + """
    run = flightlog.init(project="disk", id="bounded", settings={"max_buffered_rows": 50})
    failing["on"] = True
    for i in range(300):
        run.log({"i": i})
        if i % 20 == 19:
            time.sleep(0.15)
    failing["on"] = False
    time.sleep(0.3)
    run.finish()
    """
    )
    assert res.returncode == 0, res.stderr
    assert "were dropped" in res.stderr
    rows = [r["i"] for r in api.run("disk/bounded").scan_history()]
    assert rows and rows[-1] == 299 and len(rows) < 300  # newest kept, oldest dropped
    assert rows == sorted(rows)


def test_finish_on_a_dead_disk_still_exits_cleanly() -> None:
    res = python_script(
        FAULTS
        + """
    run = flightlog.init(project="disk", id="dead")
    failing["on"] = True
    for i in range(100):
        run.log({"i": i})
    run.finish()
    print("exited normally")
    """
    )
    assert res.returncode == 0, res.stderr
    assert "exited normally" in res.stdout
    assert "No space left on device" in res.stderr
    assert "100 values could not be written" in res.stderr  # the loss is said, not hidden
