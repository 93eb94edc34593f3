"""kill -9 loses no row whose log() returned: randomized, hot loops and paced ones.

The child appends the index of each row to a file right after its log() call returns; the
page cache keeps that file and the run's journal alike when the process is killed. Every
row the file names must be read back, in order, exactly once (at most the one row whose
index was not written yet may come on top). Half the trials use tiny journals, so the kill
also lands while journals rotate and are removed, and small segments, so it lands while
they are sealed.
"""

from __future__ import annotations

import os
import random
import signal
import time
import warnings
from pathlib import Path

import pytest

import flightlog
from flightlog.store import journal, rowlog
from flightlog.store.doctor import check, repair

from .conftest import python_script, settled, spawn
from .history_state import commit_lags, describe, missing

pytestmark = pytest.mark.slow

CHILD = """
    import os, time, flightlog
    import flightlog.store.rowlog as rowlog
    if {tiny}:
        rowlog.ROWS_CAP, rowlog.WORDS_CAP = 300, 1500
    run = flightlog.init(project="z", id={run_id!r},
                         settings={{"segment_rows": 4000, "console": "off", "stats_interval": 0}})
    fd = os.open({returned!r}, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    print("started", flush=True)
    i = 0
    while True:
        row = {{"i": i, "x": i / 4, "flag": i % 2 == 0}}
        if i % 7 == 0:
            row["note"] = "n" * (i % 5)  # a row that takes the generic path
        if i % 11 == 0:
            row["extra"] = {{"deep": i}}  # another signature, nested
        run.log(row)
        os.write(fd, b"%d\\n" % i)
        i += 1
        if {paced} and i % 20 == 0:
            {at_pause}  # (tests/benchmarks/stress_zero_loss.py kills the child here)
            time.sleep(0.002)
"""


def child(at_pause: str = "pass", **fields: object) -> str:
    """CHILD with its `fields`; `at_pause`: one statement run at each pause (paced)."""
    return CHILD.format(at_pause=at_pause, **fields)


def _returned(path: Path) -> int:
    """How many rows' log() returned, by the child's own count."""
    lines = path.read_bytes().split(b"\n")
    done = [int(x) for x in lines[:-1]]  # the last line may be cut by the kill
    assert done == list(range(len(done)))
    return len(done)


def _check(api: flightlog.Api, run_id: str, returned: int) -> None:
    run = api.run(f"z/{run_id}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a row left out with a warning is still lost
        rows = list(run.scan_history())
    got = [r["i"] for r in rows]
    assert got[:returned] == list(range(returned)), (
        f"a returned row is missing or repeated: {len(got)} read, {returned} returned, "
        f"missing {missing(got, returned)}\n{describe(run.paths.history)}"
    )
    assert len(got) - returned in (0, 1), f"{len(got)} rows read, {returned} returned"
    for r in rows:
        i = r["i"]
        assert (r["x"], r["flag"]) == (i / 4, i % 2 == 0), r
        assert r.get("note") == ("n" * (i % 5) if i % 7 == 0 else None), r
        assert r.get("extra.deep") == (i if i % 11 == 0 else None), r


@pytest.mark.parametrize("paced", [False, True], ids=["hot", "paced"])
def test_kill_9_loses_no_row_whose_log_returned(
    api: flightlog.Api, store: Path, tmp_path: Path, paced: bool
) -> None:
    rng = random.Random(16 + paced)
    for trial in range(26):
        run_id = f"t{trial}"
        returned = tmp_path / f"{run_id}.returned"
        tiny = trial % 2 == 1
        proc = spawn(child(tiny=tiny, run_id=run_id, returned=str(returned), paced=paced))
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "started", proc.stderr and proc.stderr.read()
        time.sleep(rng.uniform(0.02, 0.7))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        n = _returned(returned)
        _check(api, run_id, n)  # readers recover the journal without writing
        # rows past a lost commit store are read all the same: said, to learn its cause
        if lags := commit_lags(store / "runs" / "z" / run_id / "history"):
            warnings.warn(f"commit stores lost in {run_id}: {'; '.join(lags)}", stacklevel=1)
    problems = check(store)
    assert not [p for p in problems if p.kind in ("corrupt-segment", "bad-run")]
    assert any(p.kind == "unsealed-journal" for p in problems)
    counts = {f"t{t}": _returned(tmp_path / f"t{t}.returned") for t in range(26)}
    repair(store, problems)  # journals into sealed segments: the same rows, once
    for run_id, n in counts.items():
        _check(api, run_id, n)
        history = store / "runs" / "z" / run_id / "history"
        assert not list(history.glob("*.journal")) and not list(history.glob("*.arrows"))


LAST_BATCH_CHILD = """
    import os, flightlog
    import flightlog.store.rowlog as rowlog
    rowlog.ROWS_CAP, rowlog.WORDS_CAP = 300, 1500
    run = flightlog.init(project="z", id={run_id!r}, settings={{
        "segment_rows": 4000, "console": "off", "stats_interval": 0, "flush_interval": 60}})
    for i in range(1380):
        if i == {save_at}:
            run.save()  # the writer thread writes what came before; then it waits 60 s
        row = {{"i": i, "x": i / 4, "flag": i % 2 == 0}}
        if i % 7 == 0:
            row["note"] = "n" * (i % 5)
        if i % 11 == 0:
            row["extra"] = {{"deep": i}}
        run.log(row)
    os.kill(os.getpid(), 9)
"""


@pytest.mark.parametrize("save_at", [1150, 1200, 1360])
def test_the_rows_after_the_last_write_are_read_from_the_journals(
    api: flightlog.Api, store: Path, save_at: int
) -> None:
    """The state a kill -9 at load 30 once left when the last 20 rows (1360..1379) were
    reported lost: the open segment 000001 and its sealed twin being written, and journals
    j000004 and j000005 (save_at=1150: the segment holds rows 0..1149, j000004 was log()'s
    journal at the write). The writer thread's last write comes at a chosen row, then the
    process kills itself: every row after it must be read from the journals."""
    res = python_script(LAST_BATCH_CHILD.format(run_id=f"w{save_at}", save_at=save_at))
    assert res.returncode == -signal.SIGKILL, res.stderr
    history = store / "runs" / "z" / f"w{save_at}" / "history"
    if save_at == 1150:
        names = sorted(p.name.split("-", 1)[1] for p in history.iterdir())
        # (with the sealed twin being written, 000001.<hash>.parquet.tmp, when the writer
        # thread started sealing before the kill: the incident's very state). Its random
        # hash sorts it before or after 000001.arrows: it is told by its name, not its place
        twins = [n for n in names if n.endswith(".parquet.tmp")]
        assert all(n.startswith("000001.") for n in twins) and len(twins) <= 1, names
        kept = [n for n in names if n not in twins]
        # (and j000006, the spare journal a rotation has the writer make at once, when it
        # made it before the kill: under load it may not have)
        state = ["000001.arrows", "j000004.journal", "j000005.journal"]
        assert kept in (state, [*state, "j000006.journal"]), names
    _check(api, f"w{save_at}", 1380)


def test_a_reader_that_cannot_tell_the_boot_still_reads_every_row(
    api: flightlog.Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader whose read of the boot id fails once (too many open files, a /proc without
    it) must not take the journal for one written before a reboot: that hid every row not
    yet msynced, for the rest of the reader's life."""
    returned = tmp_path / "b.returned"
    proc = spawn(child(tiny=False, run_id="b", returned=str(returned), paced=False))
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started", proc.stderr and proc.stderr.read()
    time.sleep(0.05)  # long before the first msync (every second)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    real_open = open

    def open_without_boot_id(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if "boot_id" in str(file):
            raise OSError(24, "Too many open files")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(journal, "_boot", None)
    monkeypatch.setattr("builtins.open", open_without_boot_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no row may be left out, not even with a warning
        _check(api, "b", _returned(returned))
    monkeypatch.setattr("builtins.open", real_open)
    _check(api, "b", _returned(returned))


def test_finish_leaves_a_backlog_in_the_journal_where_readers_see_it(
    api: flightlog.Api, store: Path
) -> None:
    """A loop that outran the writer thread: finish() does not wait to convert the backlog.
    The rows stay in the journals, every reader sees them at once, the run reads as
    finished, and `doctor --repair` (as `flightlog sync`, the agent and a resume do) seals
    them."""
    res = python_script("""
        import flightlog
        run = flightlog.init(project="z", id="late", settings={
            "flush_interval": 60, "console": "off", "stats_interval": 0})
        for i in range(30_000):  # ~95,000 values: more than the writer converts at finish
            row = {"i": i, "x": i / 4, "flag": i % 2 == 0}
            if i % 7 == 0:
                row["note"] = "n" * (i % 5)
            if i % 11 == 0:
                row["extra"] = {"deep": i}
            run.log(row)
        run.finish()
    """)
    assert res.returncode == 0, res.stderr
    history = store / "runs" / "z" / "late" / "history"
    assert list(history.glob("*.journal")), "the backlog was converted at finish()"
    assert api.run("z/late").state == "finished"
    _check(api, "late", 30_000)
    problems = check(store)
    assert [p.kind for p in problems if p.kind != "stale-index"] == ["unsealed-journal"]
    repair(store, problems)
    _check(api, "late", 30_000)
    assert not list(history.glob("*.journal")) and not list(history.glob("*.arrows"))


def test_a_large_last_batch_cut_short_is_a_torn_write_not_damage(tmp_path: Path) -> None:
    """A writer killed while it appends a batch larger than the ones before it (a backlog
    caught up with) leaves a torn tail longer than any whole batch: readers stop there
    quietly (the journal holds those rows). Bytes after the last batch that are no batch
    are still damage, named in a warning."""
    import pyarrow as pa

    from flightlog.store.schema import HISTORY_SCHEMA
    from flightlog.store.segments import OpenSegment, read_segment_checked

    def batch(n: int) -> pa.RecordBatch:
        rows = [
            {"step": i, "time": i, "key": "x", "value": 1.0, "kind": 0, "text": None}
            for i in range(n)
        ]
        return pa.RecordBatch.from_pylist(rows, schema=HISTORY_SCHEMA)

    path = tmp_path / "abc-000001.arrows"
    seg = OpenSegment(path, HISTORY_SCHEMA)
    seg.write(batch(10))
    whole = path.stat().st_size
    seg.write(batch(5000))
    seg.close()
    data = path.read_bytes()
    path.write_bytes(data[: whole + (len(data) - whole) // 2])  # killed mid-write
    table, note = read_segment_checked(path)
    assert (table.num_rows, note) == (10, None)
    path.write_bytes(data[:whole] + b"\x07" * 4000)  # not a batch
    table, note = read_segment_checked(path)
    assert table.num_rows == 10 and note is not None and "cannot be read" in note


def _small_journals_run(monkeypatch: pytest.MonkeyPatch, run_id: str) -> flightlog.Run:
    """A run in this process whose journals rotate every ~300 rows and whose writer thread
    converts only when asked (flush_interval 60 s)."""
    monkeypatch.setattr(rowlog, "ROWS_CAP", 300)
    monkeypatch.setattr(rowlog, "WORDS_CAP", 1500)
    settings = {"flush_interval": 60, "console": "off", "stats_interval": 0}
    return flightlog.init(project="z", id=run_id, settings=settings)


def test_a_reader_sees_no_gap_when_log_goes_on_in_the_next_journal_meanwhile(
    api: flightlog.Api, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader reads a running writer's journals one by one. While it does, log() may fill
    the journal read first and go on in the next one (the spare the writer thread keeps
    ready, so already listed): read oldest first, the reader then held the next journal's
    rows without the last ones of the journal before, a gap in the middle of a running
    run's history (once seen as 602 rows missing from scan_history). The interleaving is
    forced by logging from inside the reader's first journal read."""
    run = _small_journals_run(monkeypatch, "gap")
    logged = 0

    def log(n: int) -> None:
        nonlocal logged
        for _ in range(n):
            run.log({"i": logged})
            logged += 1

    log(10)
    run.save()  # the writer thread writes them and gets the next journal ready
    history = store / "runs" / "z" / "gap" / "history"
    assert len(list(history.glob("*.journal"))) == 2
    log(10)  # in the journal only: the writer thread waits for its next tick
    read = journal.JournalSnapshot.read
    reads = []

    def read_while_logging(cls: type, path: Path) -> journal.JournalSnapshot:
        snap = read(path)
        if not reads:  # the first journal is read: log() fills it and goes on in the next
            log(400)
        reads.append(path)
        return snap

    monkeypatch.setattr(journal.JournalSnapshot, "read", classmethod(read_while_logging))
    got = [r["i"] for r in api.run("z/gap").scan_history()]
    monkeypatch.undo()
    assert len(reads) == 2 and logged == 420
    assert got == list(range(len(got))), f"rows missing from a running run: {len(got)} read"
    assert len(got) >= 20  # every row committed before the read began
    run.finish()
    assert [r["i"] for r in api.run("z/gap").scan_history()] == list(range(420))


def test_rows_converted_before_a_damaged_journal_are_still_written(
    api: flightlog.Api, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer thread converts a full journal and then one whose rows do not hold
    together (damaged under it): the damaged rows are lost, with a warning, but the rows
    converted before them in the same pass are written. Dropped with them, the full journal
    was retired and removed once a later batch was written, and readers, told by that
    batch's mark that segments hold everything before it, lost a whole journal silently."""
    run = _small_journals_run(monkeypatch, "dmg")
    for i in range(400):  # the first journal full, the next one holds the last ~100
        run.log({"i": i})
    history = store / "runs" / "z" / "dmg" / "history"
    second = sorted(history.glob("*.journal"))[1]
    with open(second, "r+b") as f:  # a row record whose data ends before its start
        f.seek(journal.HEADER + 32 * 5 + 24)
        f.write((0).to_bytes(8, "little"))
    run.save()  # the writer thread converts both journals
    for i in range(400, 410):
        run.log({"i": i})
    run.finish()
    # what the writer wrote: a reader stops at the damaged rows while the last rows are
    # still in the journal after them, which the seal after finish() ends (ms later)
    settled()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = [r["i"] for r in api.run("z/dmg").scan_history()]
    assert got[:200] == list(range(200)), f"rows of the first journal lost: {got[:5]}..."
    assert got[-10:] == list(range(400, 410))


def test_a_commit_cut_short_is_made_when_log_goes_on_in_the_next_journal(
    api: flightlog.Api, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KeyboardInterrupt between a row's record and its commit store leaves the row whole
    but uncounted in the journal's header; the next commit counts it. If the next row goes
    into a new journal instead, readers of the running run saw that journal's rows and not
    the row before them (and a kill -9 lost it) until the writer thread converted it."""
    run = _small_journals_run(monkeypatch, "cut")
    history = store / "runs" / "z" / "cut" / "history"
    for i in range(100):
        run.log({"i": i})
    run.save()  # written, and the next journal made ready
    first, _ = sorted(history.glob("*.journal"))
    full = rowlog.ROWS_CAP - 1  # records a journal takes (it keeps room for one more)
    i = 100
    while journal.JournalSnapshot.read(first).rows < full:
        run.log({"i": i})
        i += 1
    with open(first, "r+b") as f:  # the last commit store undone, as a KeyboardInterrupt
        f.seek(8)  # just before it leaves it
        f.write((full - 1).to_bytes(8, "little"))
    run.log({"i": i})  # does not fit: the first row of the next journal
    got = [r["i"] for r in api.run("z/cut").scan_history()]
    assert got[-1] == i  # the next journal's row is read
    assert got == list(range(i + 1)), f"a row missing before the next journal's: {len(got)}"
    run.finish()


def test_rows_that_cannot_be_converted_are_said_to_be_skipped_not_retried(
    api: flightlog.Api, store: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A row the writer thread cannot convert (its journal record names a signature never
    defined) is skipped, never retried: the warning says so and how many rows, and does
    not claim a disk problem that flightlog retries (nor, later, that writing "works
    again"). The rows logged before and after are kept."""
    run = flightlog.init(project="z", id="conv", settings={"console": "off"})
    run.log({"a": 0.0})
    run.save()  # converted and written
    path = min((store / "runs" / "z" / "conv" / "history").glob("*.journal"))  # log()'s
    with run._lock:  # the writer thread reads no new row until the damage is done
        for i in (1, 2, 3):
            run.log({"a": float(i)})
        with open(path, "r+b") as f:
            committed = int.from_bytes(os.pread(f.fileno(), 8, 8), "little")
            # the middle row's signature id (its record's third field): never defined
            os.pwrite(
                f.fileno(), (999).to_bytes(8, "little"), journal.HEADER + 32 * (committed - 2) + 16
            )
    run.save()
    run.log({"a": 4.0})
    run.finish(quiet=True)
    settled()  # the writer thread writes the last row after finish() (a reader of this
    # damaged journal would stop at the rows it cannot read)
    said = capfd.readouterr().err
    assert "3 logged rows in" in said and "could not be converted" in said, said
    assert "skipped" in said, said
    assert "retries" not in said and "works again" not in said, said
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert [r["a"] for r in api.run("z/conv").scan_history()] == [0.0, 4.0]
