"""Run numbers (the N of adjective-noun-N): unique per project, found in O(1).

Each number is claimed by creating the empty file `<project>/.numbers/<N>` with O_EXCL, so
two processes never get the same one, on a local or a shared filesystem alike. A hint file,
`.numbers/next`, says where to start looking: it is rewritten after each claim and never
trusted beyond that (a stale hint costs one failed create per run created meanwhile). A
project that predates the markers starts after the number of its runs (directories that
hold a run.json), counted once.
"""

from __future__ import annotations

import os
from pathlib import Path

NUMBERS_DIR = ".numbers"
_HINT = "next"


def claim_run_number(project_dir: Path, run_id: str) -> int:
    """The next free number of the project in `project_dir` (whose run `run_id` exists)."""
    numbers = project_dir / NUMBERS_DIR
    try:
        n = int((numbers / _HINT).read_text())
    except (OSError, ValueError):
        n = 0
    if n <= 0:  # the project's first number, or a project older than the markers
        numbers.mkdir(exist_ok=True)
        n = 1 + sum(1 for e in os.scandir(project_dir) if _made_before(e, run_id))
    while True:
        try:
            fd = os.open(numbers / str(n), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            n += 1
            continue
        os.write(fd, run_id.encode())
        os.close(fd)
        break
    tmp = numbers / f".{_HINT}.{os.getpid()}"
    try:
        tmp.write_text(str(n + 1))
        os.replace(tmp, numbers / _HINT)
    except OSError:
        pass  # a hint only: the next run looks a little further
    return n


def _made_before(entry: os.DirEntry[str], run_id: str) -> bool:
    """A run of the project that had its run.json when we looked: the runs of a store older
    than the markers. Not the directories of runs being created by processes that started
    with this one (ranks starting together): counted, they made the first number 2 or 3."""
    return (
        entry.name != run_id
        and not entry.name.startswith(".")
        and entry.is_dir()
        and os.path.exists(os.path.join(entry.path, "run.json"))
    )
