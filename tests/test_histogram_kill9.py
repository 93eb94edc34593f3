"""kill -9 at random points of a loop logging histogram rows (the journal's PACKED rows).

Every row whose log() returned is read back exactly once, in order, its histograms' text as
log() would have printed it (NaN, infinities, -0.0, counts past 2**53), whether the dead
writer's rows are still in its journals or in segments; doctor finds nothing corrupt, and a
resume seals what the dead writer left and continues after its last row.
"""

from __future__ import annotations

import json
import random
import signal
import time
from typing import Any

import numpy as np
import pytest

import flightlog
from flightlog import Histogram
from flightlog.store.doctor import check

from .conftest import python_script, spawn

pytestmark = pytest.mark.slow

#: the row logged at step i (the victim and the checks share it)
ROW = """
def row(i):
    r = {"i": i, "w": np.arange(100, dtype=np.float32) + i, "s": "x" * (i % 3),
         "h": flightlog.Histogram(np_histogram=([i, 2**62, 0],
                                                [-0.0, float(i), 1e300, float("inf")]))}
    if i % 5 == 0:
        r["n"] = flightlog.Histogram(np_histogram=([1], [float("nan"), -float("inf")]))
    return r
"""

VICTIM = (
    """
import os, sys, numpy as np, flightlog
"""
    + ROW
    + """
run = flightlog.init(project="hk9", id=RUN_ID,
                     settings={"segment_rows": 3000, "console": "off",
                               "stats_interval": 0.1, "flush_interval": FLUSH})
out = os.open(REPORT, os.O_WRONLY | os.O_CREAT | os.O_APPEND)  # the page cache keeps it
print("started", flush=True)
for i in range(200_000):
    run.log(row(i))
    os.write(out, b"%d\\n" % i)  # log() returned: this row must survive
"""
)

_ns: dict[str, Any] = {"np": np, "flightlog": flightlog}
exec(ROW, _ns)
row = _ns["row"]


def _text(v: Any) -> str:
    return json.dumps(v.to_json()) if isinstance(v, Histogram) else json.dumps(v)


def _check(api: flightlog.Api, run_id: str, returned: int) -> int:
    """The rows read back are 0..n-1 with n >= `returned` (at most one more: killed between
    log() returning and its report), each as logged; returns n."""
    rows = list(api.run(f"hk9/{run_id}").scan_history())
    assert [r["i"] for r in rows] == list(range(len(rows))), "a hole, a repeat or disorder"
    assert returned <= len(rows) <= returned + 1, (returned, len(rows))
    for r in rows:
        want = row(r["i"])
        want["w"] = Histogram(want["w"].tolist())
        got = {k: v for k, v in r.items() if not k.startswith("_")}
        assert {k: _text(v) for k, v in got.items()} == {k: _text(v) for k, v in want.items()}
    return len(rows)


def test_kill_9_while_logging_histograms_loses_no_returned_row(api, store, tmp_path) -> None:
    rng = random.Random(99)
    for trial in range(20):
        run_id = f"t{trial}"
        flush = rng.choice([60, 1])  # rows left in journals, or mostly in segments
        report = tmp_path / f"{run_id}.returned"
        code = VICTIM.replace("RUN_ID", repr(run_id)).replace("FLUSH", str(flush))
        code = code.replace("REPORT", repr(str(report)))
        proc = spawn(code)
        assert proc.stdout.readline().strip() == "started", proc.stderr.read()
        time.sleep(rng.uniform(0.0, 1.5))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL, err
        returned = len(report.read_bytes().split())  # whole lines: each one small write
        kept = _check(api, run_id, returned)
        corrupt = [p for p in check(store) if p.kind in ("corrupt-segment", "bad-run")]
        assert not corrupt, [p.line(store) for p in corrupt]
        res = python_script(
            "import numpy as np, flightlog\n"
            + ROW
            + f"""
run = flightlog.init(project="hk9", id={run_id!r}, resume="allow", settings={{"console": "off"}})
assert run.step == {kept}, run.step
for i in range({kept}, {kept} + 20):
    run.log(row(i))
run.finish()
"""
        )
        assert res.returncode == 0, res.stderr
        assert _check(api, run_id, kept + 20) == kept + 20
        history = store / "runs" / "hk9" / run_id / "history"
        assert not list(history.glob("*.journal")), "the dead writer's journals were left"
