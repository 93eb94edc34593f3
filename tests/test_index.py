"""index.duckdb: incremental catch-up, rebuild, concurrency, queries, the filter language."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import flightlog
from flightlog.store.catalog import select_runs
from flightlog.store.filters import FilterError, compile_filter
from flightlog.store.index import INDEX_FILE, Index, rebuild
from flightlog.store.query import downsample, metric_summaries

from .conftest import cli, settled, spawn


def _make_runs(n: int, project: str = "p", steps: int = 50) -> list[flightlog.Run]:
    runs = []
    for i in range(n):
        run = flightlog.init(
            project=project,
            config={"lr": 10.0**-i, "i": i},
            reinit=True,
            tags=["even" if i % 2 == 0 else "odd"],
        )
        for s in range(steps):
            run.log({"loss": (i + 1) / (s + 1), "acc": s / steps})
        run.finish(quiet=True)
        runs.append(run)
    settled()  # finish() leaves removing its journals to a thread
    return runs


def test_catch_up_is_incremental(store: Path) -> None:
    _make_runs(5)
    with Index(store) as idx:
        assert (idx.last.runs_indexed, idx.last.source) == (5, "file")
    with Index(store) as idx:
        assert idx.last.runs_indexed == 0  # nothing changed: nothing re-read
    _make_runs(1, project="q")
    with Index(store) as idx:
        assert idx.last.runs_indexed == 1 and idx.last.runs_seen == 6
        assert len(select_runs(idx)) == 6


def test_an_index_holding_its_file_catches_up_again(store: Path) -> None:
    """catch_up() on an open index writes into the file's tables: it wrote into the in-memory
    schema's views of them and failed ("Can only delete from base table") whenever it had a
    run to add, remove or restamp (a full suite under load met it in test_reader)."""
    _make_runs(2)
    with Index(store) as idx:
        assert idx.schema == "idx"  # it holds the file
        _make_runs(1, project="q")
        assert idx.catch_up().runs_indexed == 1
        assert len(select_runs(idx)) == 3
    with Index(store) as idx:
        assert idx.last.runs_indexed == 0  # the file kept it


def test_removed_runs_leave_the_index(store: Path) -> None:
    import shutil

    runs = _make_runs(3)
    Index(store).close()
    shutil.rmtree(runs[0].dir)
    with Index(store) as idx:
        assert idx.last.runs_removed == 1
        assert {r["id"] for r in select_runs(idx)} == {runs[1].id, runs[2].id}


def test_deleting_the_index_loses_nothing(store: Path) -> None:
    _make_runs(4)
    with Index(store) as idx:
        before = select_runs(idx, sort="config.lr")
    (store / INDEX_FILE).unlink()
    with Index(store) as idx:
        after = select_runs(idx, sort="config.lr")
    assert [r["run_key"] for r in before] == [r["run_key"] for r in after]
    assert rebuild(store).runs_indexed == 4


def test_index_holds_run_metadata_segments_and_keys(store: Path) -> None:
    _make_runs(1, steps=30)
    with Index(store) as idx:
        row = idx.con.execute(
            'SELECT state, steps, "values", tags, created_at <= last_time FROM runs'
        ).fetchone()
        assert row == ("finished", 30, 60, ["even"], True)
        segs = idx.con.execute(
            'SELECT sealed, "rows", step_min, step_max, length(sha256) FROM segments'
        ).fetchall()
        assert segs == [(True, 60, 0, 29, 64)]
        keys = idx.con.execute("SELECT DISTINCT key FROM segment_keys ORDER BY key").fetchall()
        assert keys == [("acc",), ("loss",)]


def test_a_reader_never_fails_when_another_process_holds_the_index(store: Path) -> None:
    _make_runs(3)
    Index(store).close()
    holder = spawn(
        f"""
        import duckdb, sys
        con = duckdb.connect({str(store / INDEX_FILE)!r})
        print("holding", flush=True)
        sys.stdin.read()  # until the test has read: however slow the machine
    """,
        stdin=subprocess.PIPE,
    )
    assert holder.stdout.readline().strip() == "holding"
    try:
        _make_runs(1, project="late")  # a writer keeps going: it never opens the index
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "flightlog.cli", "runs", "--json", "--root", str(store)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=60) for p in procs]  # a reader waiting for the lock hangs
        assert holder.poll() is None, "the index was not held all along"
        for p, (out, err) in zip(procs, outs, strict=True):
            assert p.returncode == 0, err
            assert out.count('"id"') == 4  # the new run too: caught up in memory
        with Index(store) as idx:
            assert idx.last.source in ("read-only", "memory")
            assert len(select_runs(idx)) == 4
    finally:
        holder.kill()
        holder.communicate()


def test_a_reader_waits_for_another_process_s_read_instead_of_rebuilding_in_memory(
    store: Path,
) -> None:
    """Another process reading (it holds the file for its read): a second reader waits for
    it and reads the file, instead of catching the whole store up in memory (seconds on a
    large store) after 1 s."""
    _make_runs(2)
    Index(store).close()
    holder = spawn(
        f"""
        import time
        from flightlog.store.index import Index
        with Index({str(store)!r}):
            print("holding", flush=True)
            time.sleep(3)  # a long read
        """
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        with Index(store) as idx:
            assert idx.last.source == "file"
            assert len(select_runs(idx)) == 2
    finally:
        holder.kill()
        holder.communicate()


def test_running_run_state_follows_its_process(store: Path) -> None:
    proc = spawn("""
        import flightlog, time
        run = flightlog.init(project="live", id="live1")
        run.log({"x": 1})
        print("started", flush=True)
        time.sleep(60)
    """)
    assert proc.stdout.readline().strip() == "started"
    with Index(store) as idx:
        assert select_runs(idx)[0]["state"] == "running"
    proc.kill()
    proc.wait()
    with Index(store) as idx:  # no file changed, but the process is gone
        assert select_runs(idx)[0]["state"] == "crashed"


def test_corrupt_segment_is_flagged_and_the_rest_lists(store: Path) -> None:
    runs = _make_runs(2)
    seg = next((Path(runs[0].dir) / "history").glob("*.parquet"))
    seg.write_bytes(b"garbage")
    with Index(store) as idx:
        rows = {r["id"]: r for r in select_runs(idx)}
    assert rows[runs[0].id]["warnings"] and "unreadable segment" in rows[runs[0].id]["warnings"]
    assert rows[runs[1].id]["warnings"] is None
    res = cli("runs", "--root", str(store))
    assert res.returncode == 0 and "✓!" in res.stdout  # the warning marker


def test_downsample_matches_numpy(store: Path) -> None:
    run = flightlog.init(project="ds", settings={"segment_rows": 3000})
    rng = np.random.default_rng(1)
    vals = rng.normal(size=10_000)
    vals[1234] = 50.0  # a spike must survive downsampling
    for i, v in enumerate(vals):
        run.log({"y": float(v)})
        if i == 5000:
            time.sleep(0.3)  # some sealed, some open segments
    run._writer.flush()  # everything logged is on disk (the writer would within 100 ms)
    with Index(store) as idx:
        key = select_runs(idx)[0]["run_key"]
        t = downsample(idx, [key], "y", buckets=100).to_pylist()
    assert len(t) == 100
    assert sum(b["n"] for b in t) == 10_000
    assert max(b["vmax"] for b in t) == 50.0
    b7 = t[7]
    chunk = vals[b7["x_min"] : b7["x_max"] + 1]
    assert (b7["vmin"], b7["vmax"], b7["vlast"]) == (chunk.min(), chunk.max(), chunk[-1])
    run.finish(quiet=True)


def test_metric_summaries_from_one_scan(store: Path) -> None:
    (run,) = _make_runs(1, steps=10)
    with Index(store) as idx:
        table = downsample(idx, [f"p/{run.id}"], None, buckets=4)
    stats = {s["key"]: s for s in metric_summaries(table)}
    assert stats["loss"]["min"] == 0.1 and stats["loss"]["max"] == 1.0
    assert stats["acc"]["last"] == 0.9 and stats["acc"]["n"] == 10
    assert stats["loss"]["spark"][0] == "█" and stats["acc"]["spark"][0] == "▁"


def test_api_runs_filters_through_the_index(store: Path) -> None:
    _make_runs(6)
    api = flightlog.Api(store)
    assert [r.config["i"] for r in api.runs(filters="config.lr < 0.01", order="-config.i")] == [
        5,
        4,
        3,
    ]
    assert len(api.runs(tags=("odd",))) == 3
    assert api.runs(project="nope") == []


@pytest.mark.parametrize(
    ("expr", "ids"),
    [
        ("config.i >= 4", {4, 5}),
        ("config.i < 2 or config.i = 5", {0, 1, 5}),
        ("not config.i > 0", {0}),
        ("(config.i = 1 or config.i = 2) and tag = even", {2}),
        ("tag != even", {1, 3, 5}),
        ("tag ~ '^od' and config.i < 4", {1, 3}),
        ("summary.loss <= 0.1 and config.lr > 1e-3", {0, 1, 2}),
        ("name ~ '-[0-9]+$' and config.i = 3", {3}),
        ("config.missing = null and config.i = 0", {0}),
        ("steps > 49", {0, 1, 2, 3, 4, 5}),
        ("state = finished and project = p and config.i=1", {1}),
    ],
)
def test_filter_language(store: Path, expr: str, ids: set[int]) -> None:
    _make_runs(6)
    got = {r.config["i"] for r in flightlog.Api(store).runs(filters=expr)}
    assert got == ids


@pytest.mark.parametrize(
    ("expr", "message", "at"),
    [
        ("", "empty filter", 0),
        ("config.lr", "expected an operator", 9),
        ("config.lr >", "expected a value", 11),
        ("bogus = 1", "unknown field 'bogus'", 0),
        ("config.lr = 1 and", "expected a field", 17),
        ("(config.lr = 1", r"missing '\)'", 14),
        ("config.lr = 1 )", r"or the end, got '\)'", 14),
        ("steps > many", "steps is a number", 8),
        ("name ~ 3", "~ matches text", 7),
        ("config. = 3", "config. needs a key", 0),
        ("config.lr = 1 ; drop", "unexpected character ';'", 14),
        ("config.lr = 1 and 'x", 'unexpected character "\'"', 18),
    ],
)
def test_filter_errors_point_at_the_token(expr: str, message: str, at: int) -> None:
    with pytest.raises(FilterError, match=message) as e:
        compile_filter(expr)
    assert e.value.pos == at
    assert str(e.value).splitlines()[-1] == "  " + " " * at + "^"


def test_filter_values_are_parameters_not_sql() -> None:
    c = compile_filter('name = "x\'; DROP TABLE runs; --"')
    assert "DROP" not in c.sql and c.params == ["x'; DROP TABLE runs; --"]


def test_two_cli_commands_and_a_writer_at_once(store: Path) -> None:
    _make_runs(2)
    writer = spawn(
        textwrap.dedent("""
        import flightlog, time
        run = flightlog.init(project="busy")
        for i in range(200):
            run.log({"x": i}); time.sleep(0.01)
        run.finish()
    """)
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "flightlog.cli", cmd, "--root", str(store)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cmd in ("runs", "index", "runs", "index")
    ]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    assert writer.wait(60) == 0


def test_an_index_from_another_version_is_rebuilt(store: Path) -> None:
    import duckdb

    _make_runs(2)
    Index(store).close()
    con = duckdb.connect(str(store / INDEX_FILE))
    con.execute("ALTER TABLE runs DROP COLUMN warnings")  # as an older flightlog left it
    con.execute("UPDATE info SET value = 'older' WHERE name = 'schema'")
    con.close()
    with Index(store) as idx:
        assert idx.last.runs_indexed == 2 and len(select_runs(idx)) == 2
    con = duckdb.connect(str(store / INDEX_FILE))
    con.execute("DELETE FROM info")  # an upgrade interrupted before its hash was written
    con.close()
    with Index(store) as idx:
        assert idx.last.runs_indexed == 2


def test_an_unchanged_finished_run_costs_two_stats_and_no_listing(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catch-up of a store whose runs are all finished looks at each run's directory and
    its history/ (its stamp), never lists them, and reads no file: 10,000 runs cost 20,000
    stats."""
    import os

    _make_runs(4)
    for d in (store / "runs").rglob("*"):  # settled: written more than 2 s ago
        if d.is_dir():
            os.utime(d, ns=(d.stat().st_atime_ns, d.stat().st_mtime_ns - 10**10))
    Index(store).close()
    looked: list[str] = []
    runs_dir = str(store / "runs")
    for name in ("stat", "scandir", "listdir"):
        real = getattr(os, name)

        def spy(path: object = ".", *a: object, _real=real, _name=name, **k: object) -> object:
            if str(path).startswith(runs_dir) and str(path).count("/") > runs_dir.count("/") + 1:
                looked.append(f"{_name} {path}")
            return _real(path, *a, **k)

        monkeypatch.setattr(os, name, spy)
    with Index(store) as idx:
        assert idx.last.runs_indexed == 0 and idx.last.runs_seen == 4
    assert len(looked) == 8 and all(s.startswith("stat ") for s in looked), looked


def test_an_interrupted_cold_build_keeps_what_it_indexed(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during a long first build (10,000 runs: tens of seconds) loses at most one
    batch: the next open goes on from there."""
    from flightlog.store import catch_up

    _make_runs(5)
    monkeypatch.setattr(catch_up, "BATCH", 2)

    def stop_at_third(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Index(store, progress=stop_at_third)
    with Index(store) as idx:
        assert idx.last.runs_indexed == 3  # runs 1 and 2 were kept
        assert len(select_runs(idx)) == 5


def test_a_change_in_the_same_mtime_tick_as_a_catch_up_is_seen(store: Path) -> None:
    """Directory mtimes are coarse (a jiffy on Linux, seconds on some network filesystems):
    a segment removed (or sealed in) just after a catch-up listed history/ can leave its
    mtime as the catch-up recorded it. Such a recent mtime tells nothing, so the run is
    listed again on the next catch-up, however much later it comes."""
    import os

    _make_runs(1)
    history = next((store / "runs").rglob("history"))
    recent = time.time_ns() - 10**9  # changed 1 s before the catch-up: within its settle window
    for d in (history.parent, history.parent / "writers", history):
        os.utime(d, ns=(recent, recent))
    with Index(store) as idx:
        assert idx.con.execute("SELECT count(*) FROM segments").fetchone()[0] > 0
    for seg in history.iterdir():  # in the same mtime tick as that listing
        seg.unlink()
    os.utime(history, ns=(recent, recent))
    while time.time_ns() - recent < 3 * 10**9:  # the recorded mtime is now an old one
        time.sleep(0.1)
    with Index(store) as idx:
        assert idx.con.execute("SELECT count(*) FROM segments").fetchone()[0] == 0


def test_a_run_listed_again_for_its_recent_mtimes_is_stamped_once_settled(store: Path) -> None:
    """The run listed again because its directories had just changed gets a stamp once they
    settled, though its files did not change: later catch-ups (and the runs screen's
    refresh) look at it by stats alone instead of listing it every time."""
    import os

    from flightlog.store.scan import unchanged_since

    _make_runs(1)
    run_dir = next((store / "runs").rglob("history")).parent
    recent = time.time_ns() - 10**9
    for d in (run_dir, run_dir / "writers", run_dir / "history"):
        os.utime(d, ns=(recent, recent))
    with Index(store) as idx:
        assert not unchanged_since(store, idx.stamps)  # too recent to be trusted
    while time.time_ns() - recent < 3 * 10**9:
        time.sleep(0.1)
    with Index(store) as idx:
        assert idx.last.runs_indexed == 0
        assert unchanged_since(store, idx.stamps)
    with Index(store) as idx:
        assert unchanged_since(store, idx.stamps)
