"""kill -9 at random points: while logging, while a segment rotates and seals, inside finish().

Whatever the moment, the store stays readable, the rows read back are exactly the first N
logged (no hole, no torn or wrong row), doctor finds nothing corrupt, and a resume seals what
the dead writer left open and continues after its last row.
"""

from __future__ import annotations

import random
import signal
import time

import pytest

import flightlog
from flightlog.store.doctor import check

from .conftest import python_script, spawn

pytestmark = pytest.mark.slow

#: small segments so rotation and sealing happen all the time; finish() at a random step
VICTIM = """
    import sys, flightlog
    n = int(sys.argv[1])
    run = flightlog.init(project="k9", id=sys.argv[2],
                         settings={"segment_rows": 3000, "console": "off",
                                   "stats_interval": 0.1})
    print("started", flush=True)
    for i in range(n):
        run.log({"i": i, "twice": 2 * i, "s": "x" * (i % 3)})
    run.finish()
    print("finished", flush=True)
"""


def _check_prefix(run: flightlog.Api) -> int:
    rows = list(run.scan_history())
    assert [r["i"] for r in rows] == list(range(len(rows))), "a hole or a repeated row"
    for r in rows:
        assert r["twice"] == 2 * r["i"] and r["s"] == "x" * (r["i"] % 3), r
    return len(rows)


def test_kill_9_at_random_points_never_corrupts_and_resume_continues(api, store) -> None:
    rng = random.Random(1234)
    for trial in range(10):
        run_id = f"t{trial}"
        n = rng.choice([2_000, 20_000, 200_000])
        code = VICTIM.replace("sys.argv[1]", str(n)).replace("sys.argv[2]", repr(run_id))
        proc = spawn(code)
        assert proc.stdout.readline().strip() == "started", proc.stderr.read()
        time.sleep(rng.uniform(0.0, 0.8))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        run = api.run(f"k9/{run_id}")
        kept = _check_prefix(run)
        assert kept <= n
        corrupt = [p for p in check(store) if p.kind in ("corrupt-segment", "bad-run")]
        assert not corrupt, [p.line(store) for p in corrupt]
        res = python_script(f"""
            import flightlog
            run = flightlog.init(project="k9", id={run_id!r}, resume="allow",
                                 settings={{"console": "off"}})
            assert run.step == {kept}, run.step
            for i in range({kept}, {kept} + 100):
                run.log({{"i": i, "twice": 2 * i, "s": "x" * (i % 3)}})
            run.finish()
        """)
        assert res.returncode == 0, res.stderr
        run = api.run(f"k9/{run_id}")
        assert run.state == "finished"
        assert _check_prefix(run) == kept + 100
        for stream in ("history", "system"):
            assert not list((run.dir / stream).glob("*.arrows")), f"{stream} left open"


def test_kill_9_between_sealing_and_removing_the_open_segment(api, store) -> None:
    """A writer killed after its sealed file was renamed into place but before its IPC file
    was removed: the resume removes the leftover (the sealed twin holds every row)."""
    res = python_script("""
        import os, signal, flightlog
        real_replace = os.replace
        def replace_then_die(src, dst):
            real_replace(src, dst)
            if str(dst).endswith(".parquet"):
                os.kill(os.getpid(), signal.SIGKILL)
        os.replace = replace_then_die
        run = flightlog.init(project="k9", id="twin",
                             settings={"segment_rows": 300, "console": "off",
                                       "stats_interval": 0})
        for i in range(1_000_000):
            run.log({"i": i, "twice": 2 * i, "s": "x" * (i % 3)})
    """)
    assert res.returncode == -signal.SIGKILL, res.stderr
    history = store / "runs" / "k9" / "twin" / "history"
    assert list(history.glob("*.parquet")) and list(history.glob("*.arrows"))
    kept = _check_prefix(api.run("k9/twin"))
    res = python_script(f"""
        import flightlog
        run = flightlog.init(project="k9", id="twin", resume="allow", settings={{"console": "off"}})
        assert run.step == {kept}, run.step
        run.finish()
    """)
    assert res.returncode == 0, res.stderr
    assert _check_prefix(api.run("k9/twin")) == kept
    assert not list(history.glob("*.arrows")), "the sealed segment's IPC file was left"
