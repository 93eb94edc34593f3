"""kill -9 while a script logs images: every reference read back names a complete file.

A row's values are committed to the journal in log(); its media are encoded by the writer
thread, stored (temp, rename), and only then committed as the same step's values. So at
whatever moment the process dies, every row whose log() returned is read back, a reference
points to a file whose sha256 and size are the reference's, and only the last rows (logged
after the writer's last look) may lack their media. Real child processes, killed with SIGKILL
at random moments, repeated.
"""

from __future__ import annotations

import hashlib
import random
import signal
import time

import numpy as np
import pytest

import flightlog

from .conftest import spawn

pytestmark = pytest.mark.slow

VICTIM = """
    import time, numpy as np, flightlog
    run = flightlog.init(project="k9", id=RUN_ID, settings={"console": "off", "stats_interval": 0})
    rng = np.random.default_rng(SEED)
    print("started", flush=True)
    for i in range(100_000):
        size = (16, 16, 3) if i % 3 else (128, 128, 3)
        run.log({"img": flightlog.Image(rng.integers(0, 256, size, dtype=np.uint8)),
                 "batch": [flightlog.Image(np.full((8, 8), i % 8, np.uint8))], "i": i})
        time.sleep(0.02)  # a training step
"""


def test_kill_9_while_logging_images_leaves_no_dangling_reference(api: flightlog.Api) -> None:
    rng = random.Random(99)
    total = 0
    for trial in range(6):
        run_id = f"img{trial}"
        code = VICTIM.replace("RUN_ID", repr(run_id)).replace("SEED", str(trial))
        proc = spawn(code)
        assert proc.stdout.readline().strip() == "started", proc.stderr.read()
        time.sleep(rng.uniform(1.0, 3.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        rows = list(api.run(f"k9/{run_id}").scan_history())
        assert [r["i"] for r in rows] == list(range(len(rows)))
        with_media = [r for r in rows if "img" in r]
        assert rows[: len(with_media)] == with_media, "media missing before the last rows"
        assert len(rows) - len(with_media) < 200  # a few ticks of the writer at most
        for r in with_media:
            for ref in (r["img"], *r["batch"].refs()):
                assert not ref.dropped
                data = ref.file().read_bytes()
                assert len(data) == ref["size"]
                assert hashlib.sha256(data).hexdigest() == ref["sha256"]
            assert np.asarray(r["batch"].load()[0] == r["i"] % 8).all()
        total += len(rows)
        print(f"trial {trial}: {len(rows)} rows read back after kill -9")
    assert total > 0  # some rows reached the disk before the kills
