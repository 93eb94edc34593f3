"""Reading damaged stores: a corrupt file is reported and skipped, never fatal."""

from __future__ import annotations

from pathlib import Path

import pytest

import flightlog
from flightlog.store.layout import parse_segment_name

from .conftest import settled, spawn


def _two_segment_run() -> flightlog.Run:
    run = flightlog.init(project="p", settings={"segment_rows": 10})
    for i in range(10):
        run.log({"i": i})
    run._writer.flush()  # the first segment is full: it rotates (and seals) before row 10
    for i in range(10, 20):
        run.log({"i": i})
    run.finish(quiet=True)
    settled()  # the writer thread seals after finish()
    return run


def test_corrupt_sealed_segment_is_skipped_with_a_warning_naming_it(api) -> None:
    run = _two_segment_run()
    segs = sorted((Path(run.dir) / "history").glob("*.parquet"))
    assert len(segs) == 2
    segs[0].write_bytes(b"this is not parquet")
    with pytest.warns(UserWarning, match=segs[0].name):
        rows = [r["i"] for r in api.run(run.path).scan_history()]
    assert rows == list(range(10, 20))


def test_torn_ipc_tail_keeps_every_complete_batch(api, store: Path) -> None:
    proc = spawn("""
        import time, flightlog
        run = flightlog.init(project="p", id="torn", settings={"flush_interval": 0.05})
        for i in range(5):
            run.log({"i": i})
            time.sleep(0.15)  # one batch per row
        run.save()  # flushed
        print("flushed", flush=True)
        time.sleep(600)
    """)
    assert proc.stdout.readline().strip() == "flushed", proc.stderr.read()
    proc.kill()  # the process dies with its segment open
    proc.wait()
    seg = next((store / "runs" / "p" / "torn" / "history").glob("*.arrows"))
    seg.write_bytes(seg.read_bytes()[:-20])  # tear the last batch
    rows = [r["i"] for r in api.run("p/torn").scan_history()]
    assert rows == [0, 1, 2, 3, 4]  # the torn batch's row comes back from the journal


def test_unreadable_run_json_is_listed_with_its_problem(api, store: Path) -> None:
    flightlog.init(project="p").finish(quiet=True)
    bad = store / "runs" / "p" / "broken"
    bad.mkdir(parents=True)
    (bad / "run.json").write_text("{not json")
    runs = {r.id: r for r in api.runs("p")}
    assert len(runs) == 2 and "run.json is unreadable" in (runs["broken"].problem or "")


def test_sealed_names_are_content_addressed(api) -> None:
    import hashlib

    run = _two_segment_run()
    for p in (Path(run.dir) / "history").glob("*.parquet"):
        name = parse_segment_name(p.name)
        assert name is not None and name.sealed
        assert name.sha256 == hashlib.sha256(p.read_bytes()).hexdigest()


def test_api_run_lookup_errors(api) -> None:
    with pytest.raises(flightlog.Error, match="no run with id 'nope'"):
        api.run("nope")
    a = flightlog.init(project="a", id="same")
    a.finish(quiet=True)
    flightlog.init(project="b", id="same").finish(quiet=True)
    with pytest.raises(flightlog.Error, match="ambiguous: a/same, b/same"):
        api.run("same")
    assert api.run("a/same").project == "a"
    assert api.run("me/a/same").project == "a"


def test_a_segment_sealed_after_listing_is_read_from_its_twin(tmp_path: Path) -> None:
    import pyarrow as pa

    from flightlog.store.schema import HISTORY_SCHEMA
    from flightlog.store.segments import OpenSegment, list_segments, read_live_segment, seal

    seg = OpenSegment(tmp_path / "abc-000001.arrows", HISTORY_SCHEMA)
    seg.write(
        pa.RecordBatch.from_pylist(
            [{"step": 0, "time": 0, "key": "x", "value": 1.0, "kind": 0, "text": None}],
            schema=HISTORY_SCHEMA,
        )
    )
    seg.close()
    ((name, path),) = list_segments(tmp_path)  # a reader lists the open segment...
    seal(path)  # ...the writer seals it and removes the IPC file...
    assert not path.exists()
    assert read_live_segment(name, path).column("value").to_pylist() == [1.0]  # ...no hole


def test_a_chart_read_while_a_finished_runs_journal_is_sealed_misses_no_row(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """finish() after a fast loop leaves its backlog in the journal, for the agent, `sync` or
    `doctor --repair` to seal. A chart read while that happens (the index listed the journal;
    the recovered segment, sealed just after the chart read the journal, is not in the index
    yet) cut the journal by the segments on disk, not by those the chart read: the rows were
    in neither part, and the chart of a dead writer lacked them until the next refresh. The
    interleaving is made exact by recovering from inside the chart's journal read."""

    from flightlog.store.index import Index
    from flightlog.store.journal import JournalSnapshot
    from flightlog.store.layout import RunPaths
    from flightlog.store.query import downsample
    from flightlog.store.reader import StoredRun
    from flightlog.store.takeover import recover_journals, writers_by_id

    steps = 100_000  # more than finish() converts: the rest stays in the journal
    run = flightlog.init(project="p", settings={"flush_interval": 60})
    for i in range(steps):
        run.log({"i": i})
    run.finish(quiet=True)
    settled()  # finish() leaves removing its journals to a thread
    paths = RunPaths(Path(run.dir))
    assert list(paths.history.glob("*.journal"))  # the backlog, in the journal only
    read = JournalSnapshot.read
    recovered: list[Path] = []

    def read_then_recover(path: Path) -> JournalSnapshot:
        snap = read(path)
        if not recovered:  # the agent seals the backlog now (its reads are the real ones)
            monkeypatch.setattr(JournalSnapshot, "read", read)
            stored = StoredRun.load(paths)
            assert stored is not None
            recovered.extend(recover_journals(paths, writers_by_id(stored.writers)))
            monkeypatch.setattr(JournalSnapshot, "read", read_then_recover)
        return snap

    with Index(store) as idx:
        idx.catch_up()
        monkeypatch.setattr(JournalSnapshot, "read", read_then_recover)
        chart = downsample(idx, [f"p/{run.id}"], ["i"], buckets=10, texts=False)
    assert recovered  # the journal was sealed between the chart's two reads
    assert sum(chart.column("n").to_pylist()) == steps
    monkeypatch.setattr(JournalSnapshot, "read", read)
    with Index(store) as idx:  # and the next refresh, the recovered segment indexed
        idx.catch_up()
        chart = downsample(idx, [f"p/{run.id}"], ["i"], buckets=10, texts=False)
    assert sum(chart.column("n").to_pylist()) == steps
