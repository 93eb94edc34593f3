"""A full disk for several seconds while log() goes on: the writer keeps log()'s rows in
memory and tries a journal file again every second (store/rowlog.py `_file_again`). It says
so once, not once a try: before, every second of the outage printed the same line on the
training script's stderr (a disk full for an hour: 3,600 lines)."""

from __future__ import annotations

import signal
from pathlib import Path

from .conftest import spawn
from .test_found15_full_disk_journal import FILLED, small_disk  # noqa: F401 (a fixture)
from .test_signals import _ended

SCRIPT = (
    FILLED
    + """    end = time.monotonic() + 4.5  # four tries of a journal file or more
    while time.monotonic() < end:
        for _ in range(300):  # a rotation: no journal can be made
            run.log({{"i": i}}); i += 1
        time.sleep(0.05)
    os.kill(os.getpid(), 9)
"""
)


def test_a_full_disk_is_said_once_while_journal_files_are_tried_again(
    small_disk: Path,  # noqa: F811
) -> None:
    store = small_disk / "store"
    proc = spawn(SCRIPT.format(store=str(store), filler=str(small_disk / "filler")))
    assert _ended(proc) == -signal.SIGKILL
    said = proc.stderr.read()
    said = said.decode() if isinstance(said, bytes) else said
    assert said.count("cannot create a journal") == 1, said
