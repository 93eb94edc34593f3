"""A journal holding PACKED rows (histograms as words) is refused, and kept, by the version
before them (c3a9f72), and recovered whole by this one.

c3a9f72 skips journal rows of a kind it does not know while its mark covers them: its
`doctor --repair`, resume or sync agent taking over a killed new writer's journal would seal
it without the histogram rows and remove it. The NEEDS_PACKED row (store/packed_rows.py) makes
it refuse the journal as damaged instead. Here the real old code (a `git archive` of c3a9f72,
run from source in a child interpreter) meets a real journal of a writer killed with -9.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

import flightlog
from flightlog import Histogram
from flightlog.cli import main
from flightlog.store.journal import DEFINE, GENERIC, PACKED, REC_DTYPE, JournalSnapshot
from flightlog.store.packed_rows import NEEDS_PACKED
from flightlog.store.rowlog import RowLog
from flightlog.store.rows import journal_tail

from .conftest import python_script, spawn

OLD = "c3a9f72"
REPO = Path(__file__).resolve().parents[1]
ROWS = 50

VICTIM = """
import flightlog
run = flightlog.init(project="old", id="r", settings={"console": "off", "flush_interval": 60})
for i in range(ROWS):
    run.log({"loss": 1.0 / (i + 1)})  # scalars, then histograms past them
    run.log({"h": flightlog.Histogram(np_histogram=([i, 1], [0.0, 0.5, float(i) + 1]))})
print("logged", flush=True)
import time; time.sleep(600)
""".replace("ROWS", str(ROWS))

#: a child's first lines: import flightlog from the old tree, not this checkout's editable
#: install (whose import hooks come first on sys.meta_path)
OLD_PRELUDE = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path if "flightlog" not in getattr(f, "__module__", "")]
sys.path_hooks[:] = [h for h in sys.path_hooks if "flightlog" not in getattr(h, "__module__", "")]
sys.path_importer_cache.clear()
sys.path.insert(0, OLD_TREE)
import flightlog, flightlog.store.rows
assert flightlog.store.rows.__file__.startswith(OLD_TREE), flightlog.store.rows.__file__
"""


@pytest.fixture
def old_tree(tmp_path: Path) -> Path:
    """c3a9f72's source, laid out as its build backend maps it (store/ -> flightlog.store...)."""
    git = ["git", "-C", str(REPO)]
    if (
        shutil.which("git") is None
        or subprocess.run(
            [*git, "cat-file", "-e", f"{OLD}^{{commit}}"], capture_output=True
        ).returncode
    ):
        pytest.skip(f"commit {OLD} (the version before PACKED rows) is not in this clone")
    tree = tmp_path / "old"
    tree.mkdir()
    archive = subprocess.run([*git, "archive", OLD], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    for sub in ("store", "sync", "tui"):
        (tree / "flightlog" / sub).symlink_to(tree / sub)
    return tree


def old_python(
    tree: Path, code: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    prelude = OLD_PRELUDE.replace("OLD_TREE", repr(str(tree)))
    return python_script(prelude + code, env=env, timeout=120)


def _killed_writer(history: Path) -> list[Path]:
    """Log ROWS scalar rows and ROWS histogram rows in a child, kill it -9; its journals."""
    proc = spawn(VICTIM)
    try:
        assert proc.stdout.readline().strip() == "logged", proc.stderr.read()
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    journals = sorted(history.glob("*.journal"))
    assert journals, "the writer left no journal"
    return journals


def _scan(api: flightlog.Api) -> list[dict]:
    return [
        {k: v for k, v in r.items() if not k.startswith("_")}
        for r in api.run("old/r").scan_history()
    ]


def _want() -> list[dict]:
    out: list[dict] = []
    for i in range(ROWS):
        out.append({"loss": 1.0 / (i + 1)})
        out.append({"h": Histogram(np_histogram=([i, 1], [0.0, 0.5, float(i) + 1]))})
    return out


def test_every_journal_marks_its_own_first_packed_row(tmp_path: Path) -> None:
    """The mark goes into each journal once, also after a rotation (a journal is recovered
    on its own)."""
    log = RowLog(tmp_path, "w", "", threading.RLock(), warn=print)
    h = Histogram(np_histogram=([1], [0.0, 1.0]))
    for step in range(3):
        if step == 2:
            log.rotate()
        log.append(step, 1.0, {"h": h, "x": "s"}, -1)
    log.append(3, 1.0, {"x": "s"}, -1)
    got = [
        np.frombuffer(JournalSnapshot.read(p).records, REC_DTYPE)["sid"].tolist()
        for p in sorted(tmp_path.glob("*.journal"))
    ]
    log.close(None)
    assert got == [[DEFINE, PACKED, PACKED], [DEFINE, PACKED, GENERIC]]


@pytest.mark.slow
def test_a_journal_marks_packed_rows_before_the_first_one(store: Path) -> None:
    """What the old version fails on: a DEFINE row whose "sid" is not a number."""
    snaps = [
        JournalSnapshot.read(p) for p in _killed_writer(store / "runs" / "old" / "r" / "history")
    ]
    (snap,) = [s for s in snaps if s.rows]  # (and the spare, empty)
    records = np.frombuffer(snap.records, REC_DTYPE)
    sids, ends = records["sid"].tolist(), records["end"].tolist()
    first = sids.index(PACKED)
    assert sids[first - 1] == DEFINE and sids.count(PACKED) == ROWS
    assert bytes(snap.data[8 * ends[first - 2] : 8 * ends[first - 1]]).rstrip() == NEEDS_PACKED
    assert journal_tail(snap, None).num_rows == 2 * ROWS  # this version reads every row


@pytest.mark.slow
def test_old_version_refuses_and_keeps_the_journal_new_one_recovers_it(
    store: Path, api: flightlog.Api, old_tree: Path
) -> None:
    run_dir = store / "runs" / "old" / "r"
    journals = _killed_writer(run_dir / "history")
    before = {p: p.read_bytes() for p in journals}

    doctor = old_python(
        old_tree,
        "from flightlog.cli import main\n"
        f"sys.exit(main(['doctor', '--repair', '--root', {str(store)!r}]))",
    )
    out = doctor.stdout + doctor.stderr
    assert doctor.returncode == 1 and "flightlog: error: journal" in doctor.stderr, out
    assert "is damaged" in out and "only a newer flightlog reads" in out, out

    agent = old_python(  # the sync agent: it meets the journal before any request
        old_tree,
        "from flightlog.cli import main\nsys.exit(main(['sync', '--watch', '--idle-exit', '5']))",
        env={"FLIGHTLOG_API_KEY": "k", "FLIGHTLOG_BASE_URL": "http://127.0.0.1:9"},
    )
    assert agent.returncode == 1 and "only a newer flightlog reads" in agent.stderr, agent.stderr

    resume = old_python(
        old_tree,
        "run = flightlog.init(project='old', id='r', resume='allow', settings={'console': 'off'})\n"
        "run.log({'loss': 0.0}); run.finish()",
    )
    assert resume.returncode != 0 and "only a newer flightlog reads" in resume.stderr, (
        resume.stdout + resume.stderr
    )
    reader = old_python(
        old_tree, f"print(len(list(flightlog.Api({str(store)!r}).run('old/r').scan_history())))"
    )
    assert reader.returncode == 0 and "only a newer flightlog reads" in reader.stderr, reader.stderr
    for p, data in before.items():
        assert p.read_bytes() == data, f"the old version touched {p.name}"

    assert main(["doctor", "--repair", "--root", str(store)]) == 0
    assert not list((run_dir / "history").glob("*.journal"))
    assert _scan(api) == _want()
    for what, res in (("doctor", doctor), ("agent", agent), ("resume", resume), ("reader", reader)):
        said = [ln for ln in (res.stdout + res.stderr).splitlines() if "newer flightlog" in ln]
        print(f"old {what} said:", said[-1])
