"""A writer killed with kill -9 after logging a histogram, an image or a table that no
heartbeat recorded in its summary: readers catching its summary up with its last rows put a
`Histogram` object in it (not the JSON a finished run's summary holds: json.dumps of
`Api().run(...).summary` raised), and
left the image and the table out (`_values` skipped media)."""

from __future__ import annotations

import json

import flightlog

from .conftest import python_script

LOGGED = """
import os, signal, sys, time
import numpy as np
import flightlog
kill = sys.argv[1] == "kill"
run = flightlog.init(project="p", id=sys.argv[1], settings={"heartbeat_interval": 30})
run.log({
    "img": flightlog.Image(np.zeros((4, 4, 3), dtype=np.uint8)),
    "tbl": flightlog.Table(columns=["a"], data=[[1]]),
})
deadline = time.monotonic() + 60  # the writer thread stores media references (a kill loses them)
while time.monotonic() < deadline and not any(
    r.get("img") and r.get("tbl") for r in flightlog.Api().run(f"p/{sys.argv[1]}").scan_history()
):
    time.sleep(0.05)
run.log({"h": flightlog.Histogram([1, 2, 3, 4])})
if kill:
    os.kill(os.getpid(), signal.SIGKILL)
run.finish()
"""

MEDIA = ("h", "img", "tbl")


def _runs() -> None:
    for how, code in (("kill", -9), ("finish", 0)):
        res = python_script(LOGGED.replace("sys.argv[1]", repr(how)))
        assert res.returncode == code, res.stderr


def _same_media(killed: dict, finished: dict) -> None:
    json.dumps(killed)  # what a finished run's summary is: JSON
    for k in MEDIA:
        assert killed.get(k) == finished[k], (k, killed.get(k), finished[k])


def test_a_killed_runs_summary_holds_its_last_media_as_json(api: flightlog.Api) -> None:
    _runs()
    assert api.run("p/kill").state == "crashed"
    _same_media(dict(api.run("p/kill").summary), dict(api.run("p/finish").summary))
