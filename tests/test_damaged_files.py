"""Damaged segments and run.json: every reader warns naming the file, skips what is damaged,
never returns a wrong value, and never loses a run from the listing."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flightlog
from flightlog.store.index import Index
from flightlog.store.layout import CREATE_WAIT
from flightlog.store.schema import HISTORY_SCHEMA
from flightlog.store.segments import OpenSegment, read_segment_checked
from flightlog.tui import FlightlogApp
from flightlog.tui.run_screen import RunScreen

from .conftest import cli, settled, spawn
from .test_tui import SIZE, rows, settle


def _sealed_run(run_id: str, segments: int = 3, per: int = 100) -> Path:
    """A finished run whose rows `v = step / 2` lie in `segments` sealed files."""
    run = flightlog.init(project="p", id=run_id, settings={"segment_rows": per}, reinit=True)
    for i in range(segments * per):
        run.log({"v": i / 2})
        if i % per == per - 1:
            run._writer.flush()  # the writer rotates and seals the full segment
    run.finish(quiet=True)
    settled()  # the writer thread seals after finish()
    segs = sorted((Path(run.dir) / "history").glob("*.parquet"))
    assert len(segs) == segments
    return Path(run.dir)


def _killed_writer(store: Path, run_id: str, batches: int = 6, per: int = 200) -> Path:
    """The open segment a kill -9 leaves behind: `batches` record batches of `v = step / 2`."""
    proc = spawn(f"""
        import time, flightlog
        run = flightlog.init(project="p", id="{run_id}", settings={{"flush_interval": 0.01}})
        for b in range({batches}):
            for i in range({per}):
                run.log({{"v": (b * {per} + i) / 2}})
            time.sleep(0.3)  # one flush, one batch
        print("ready", flush=True)
        time.sleep(120)
    """)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n", proc.stderr
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    history = store / "runs" / "p" / run_id / "history"
    for journal in history.glob("*.journal"):
        # damage to the segment alone: the journal would give its rows back (test_zero_loss)
        journal.unlink()
    (seg,) = history.glob("*.arrows")
    return seg


def _batch_bodies(seg: Path) -> list[tuple[int, int]]:
    """(start, end) byte offsets of each record batch's body in an IPC stream."""
    src = pa.BufferReader(pa.py_buffer(seg.read_bytes()))
    reader = ipc.MessageReader.open_stream(src)
    out = []
    while True:
        try:
            msg = reader.read_next_message()
        except StopIteration:
            return out
        if msg.type == "record batch":
            out.append((src.tell() - msg.body.size, src.tell()))


def _flip(path: Path, at: int, n: int = 64) -> None:
    data = bytearray(path.read_bytes())
    for i in range(at, at + n):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _assert_values_right(api: flightlog.Api, run_id: str, expected_rows: int) -> None:
    got = list(api.run(f"p/{run_id}").scan_history())
    assert [r["v"] for r in got] == [r["_step"] / 2 for r in got]  # no wrong value
    assert len(got) == expected_rows


def test_truncated_sealed_segment_show_and_runs_warn_and_skip_it(api, store: Path) -> None:
    run_dir = _sealed_run("trunc")
    bad = sorted((run_dir / "history").glob("*.parquet"))[1]
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    r = cli("show", "p/trunc", "--json")
    assert r.returncode == 0, r.stderr
    assert bad.name in r.stderr
    (metric,) = json.loads(r.stdout)["metrics"]
    assert metric["n"] == 200  # the two intact segments
    r = cli("show", "p/trunc")
    assert r.returncode == 0 and bad.name in r.stdout  # the run's warning line
    r = cli("runs")
    assert r.returncode == 0 and "✓!" in r.stdout
    with pytest.warns(UserWarning, match=bad.name):
        _assert_values_right(api, "trunc", 200)


def test_bit_flipped_sealed_segment_is_skipped_never_read_wrong(api, store: Path) -> None:
    run_dir = _sealed_run("flip")
    bad = sorted((run_dir / "history").glob("*.parquet"))[1]
    _flip(bad, bad.stat().st_size // 2 - 32)
    r = cli("show", "p/flip", "--json")
    assert r.returncode == 0, r.stderr
    assert bad.name in r.stderr
    (metric,) = json.loads(r.stdout)["metrics"]
    assert (metric["n"], metric["min"], metric["max"]) == (200, 0.0, 149.5)
    with pytest.warns(UserWarning, match=bad.name):
        _assert_values_right(api, "flip", 200)


def test_bit_flipped_batch_of_an_open_segment_is_skipped_alone(api, store: Path) -> None:
    seg = _killed_writer(store, "openflip")
    bodies = _batch_bodies(seg)
    rows_before = read_segment_checked(seg)[0].num_rows
    i = max(range(1, len(bodies) - 1), key=lambda i: bodies[i][1] - bodies[i][0])
    start, end = bodies[i]  # the largest batch but the first and last: 64 bytes inside it
    assert end - start > 128
    _flip(seg, (start + end) // 2 - 32)
    table, damage = read_segment_checked(seg)
    assert damage is not None and seg.name in damage and f"(number {i + 1})" in damage
    assert 0 < table.num_rows < rows_before  # only that batch's rows are gone
    with pytest.warns(UserWarning, match=seg.name):
        _assert_values_right(api, "openflip", table.num_rows)
    r = cli("show", "p/openflip", "--json")
    assert r.returncode == 0 and seg.name in r.stderr
    assert json.loads(r.stdout)["metrics"][0]["n"] == table.num_rows


def test_truncated_open_segment_keeps_its_complete_batches(api, store: Path) -> None:
    seg = _killed_writer(store, "opentrunc")
    start, end = _batch_bodies(seg)[3]
    seg.write_bytes(seg.read_bytes()[: (start + end) // 2])  # cut inside the 4th batch
    complete = read_segment_checked(seg)[0].num_rows
    assert complete > 0
    _assert_values_right(api, "opentrunc", complete)
    r = cli("show", "p/opentrunc", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["metrics"][0]["n"] == complete


async def test_tui_opens_a_run_with_a_damaged_segment(store: Path) -> None:
    run_dir = _sealed_run("tuidamage")
    bad = sorted((run_dir / "history").glob("*.parquet"))[0]
    bad.write_bytes(bad.read_bytes()[:100])
    app = FlightlogApp(store)
    with pytest.warns(UserWarning, match=bad.name):
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, lambda: len(rows(app)) == 1)
            assert rows(app)[0][1] == "✓!"
            await pilot.press("enter")
            await settle(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.detail)
            assert app.screen.detail.metrics[0]["n"] == 200


def test_a_run_with_an_unreadable_run_json_is_listed_and_synced(api, store: Path, tmp_path):
    from .servers import LiveServer

    run_dir = _sealed_run("lost", segments=2)
    flightlog.init(project="p", id="fine", reinit=True).finish(quiet=True)
    (run_dir / "run.json").write_text("{not json")
    r = cli("runs")
    assert r.returncode == 0, r.stderr
    lost = next(line for line in r.stdout.splitlines() if "lost" in line)
    assert lost.lstrip().startswith("✓!")
    listed = {run.id: run for run in api.runs()}
    assert set(listed) == {"lost", "fine"}
    assert "run.json is unreadable" in (listed["lost"].problem or "")
    assert len(listed["lost"].history()) == len(api.run("p/lost").history()) == 200
    server = LiveServer(tmp_path / "server").start()
    try:
        env = server.env(server.user("alice"))
        r = cli_env(env, "sync", str(run_dir))
        assert r.returncode == 0, r.stderr + r.stdout
        shipped = sorted((server.root / "runs").glob("@alice/p/lost/history/*.parquet"))
        assert [p.name for p in shipped] == sorted(
            p.name for p in (run_dir / "history").glob("*.parquet")
        )
    finally:
        server.stop()


def cli_env(env: dict[str, str], *args: str):
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "flightlog.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def _odd_run_json(store: Path, run_id: str, **fields: object) -> None:
    path = store / "runs" / "p" / run_id / "run.json"
    meta = json.loads(path.read_text())
    meta.update(fields)
    path.write_text(json.dumps(meta))


async def test_odd_run_json_values_never_break_the_listing(api, store: Path) -> None:
    for i in range(5):  # enough runs for the index's bulk (Arrow) insert
        flightlog.init(project="p", id=f"run{i}", reinit=True).finish(quiet=True)
    _odd_run_json(store, "run1", name=42, tags="x", config=[1, 2])
    _odd_run_json(store, "run2", tags=[1, None], created_at="yesterday", git="main")
    _odd_run_json(store, "run3", notes={"a": 1}, metrics=["loss"], command="python x.py")
    r = cli("runs", "--json")
    assert r.returncode == 0, r.stderr
    by_id = {run["id"]: run for run in json.loads(r.stdout)}
    assert sorted(by_id) == [f"run{i}" for i in range(5)]
    assert by_id["run1"]["name"] == "42" and by_id["run1"]["tags"] == ["x"]
    assert by_id["run2"]["tags"] == ["1", "null"]
    r = cli("runs")
    marked = [line.split()[0] for line in r.stdout.splitlines()[1:]]
    assert sorted(marked) == ["✓", "✓", "✓!", "✓!", "✓!"]
    assert len(api.runs()) == 5
    assert api.run("p/run1").tags == ["x"] and api.run("p/run1").config == {}
    app = FlightlogApp(store)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(rows(app)) == 5)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
_FIELDS = ["id", "name", "tags", "config", "created_at", "git", "command", "metrics", "notes"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(meta=st.dictionaries(st.sampled_from(_FIELDS) | st.text(max_size=5), _json))
def test_any_run_json_object_is_listed_with_the_others(store: Path, meta: dict) -> None:
    if not (store / "runs" / "p" / "good").exists():
        for i in range(4):
            flightlog.init(project="p", id=("good", "odd", "x", "y")[i], reinit=True).finish(
                quiet=True
            )
    (store / "runs" / "p" / "odd" / "run.json").write_text(json.dumps(meta))
    with Index(store, persist=False) as idx:
        listed = idx.con.execute("SELECT run_key FROM runs ORDER BY run_key").fetchall()
    assert [k for (k,) in listed] == ["p/good", "p/odd", "p/x", "p/y"]


_row = st.fixed_dictionaries(
    {
        "step": st.integers(0, 2**62),
        "time": st.integers(0, 2**50),
        "key": st.text(max_size=8),
        "value": st.none() | st.floats(allow_nan=False),
        "kind": st.integers(0, 6),
        "text": st.none() | st.text(max_size=8),
    }
)


@settings(max_examples=40, deadline=None)
@given(batches=st.lists(st.tuples(st.lists(_row, max_size=20), st.integers(0, 5)), max_size=5))
def test_batch_checksums_survive_the_round_trip(tmp_path_factory, batches) -> None:
    path = tmp_path_factory.mktemp("seg") / "abc-000001.arrows"
    seg = OpenSegment(path, HISTORY_SCHEMA)
    written = []
    for rows_, skip in batches:
        batch = pa.RecordBatch.from_pylist(rows_, schema=HISTORY_SCHEMA)
        batch = batch.slice(min(skip, len(rows_)))  # the writer may hand over slices
        seg.write(batch)
        written.extend(batch.to_pylist())
    seg.close()
    table, damage = read_segment_checked(path)
    assert damage is None
    assert table.to_pylist() == written


def test_a_run_that_cannot_be_described_is_still_listed_marked(store: Path) -> None:
    for run_id in ("ok", "odd"):
        flightlog.init(project="p", id=run_id, reinit=True).finish(quiet=True)
        settled()  # the writer thread seals after finish()
    (state,) = (store / "runs" / "p" / "odd" / "writers").glob("*.json")
    state.write_text(json.dumps({"generation": "first", "state": 5}))
    with Index(store, persist=False) as idx:
        listed = dict(idx.con.execute("SELECT id, warnings FROM runs").fetchall())
    assert listed["ok"] is None
    assert "cannot index this run" in listed["odd"]
    r = cli("runs")
    assert r.returncode == 0 and r.stdout.count("!") == 1


#: init() held between its writer's state file and its run.json, until `go` exists
CREATING = """
    import os, time, flightlog
    import flightlog._run_writer as rw
    write = rw.atomic_write_json

    def held(path, *args, **kw):
        if path.name == "run.json" and not os.path.exists(GO):
            print("creating", flush=True)
            while not os.path.exists(GO):
                time.sleep(0.01)
        return write(path, *args, **kw)

    rw.atomic_write_json = held
    flightlog.init(project="p", id="new", settings={"console": "off"}).finish(quiet=True)
"""


def test_a_run_being_created_is_not_listed_as_a_crashed_run(store: Path, tmp_path: Path) -> None:
    """Between a new run's writers/ and history/ and its run.json (ranks starting together
    on a slow filesystem: up to seconds), listings showed it as a run with no name
    (and the server answered 404 for a run it listed). Now it is not listed until its
    run.json is there; a run.json lost long ago still lists the run's data."""
    flightlog.init(project="p", id="fine", reinit=True).finish(quiet=True)
    go = tmp_path / "go"
    proc = spawn(f"GO = {str(go)!r}\n" + textwrap.dedent(CREATING))
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "creating"
        run_dir = store / "runs" / "p" / "new"
        assert (run_dir / "writers").is_dir() and (run_dir / "history").is_dir()
        assert _listed() == {"fine": "finished"}
        assert [run.id for run in flightlog.Api().runs()] == ["fine"]
    finally:
        go.touch()
        assert proc.wait(timeout=120) == 0, proc.stderr and proc.stderr.read()
    settled()
    assert sorted(run.id for run in flightlog.Api().runs()) == ["fine", "new"]
    (run_dir / "run.json").unlink()  # lost: not listed while young, then listed as data
    assert _listed() == {"fine": "finished"}
    lost = time.time() - 2 * CREATE_WAIT
    for d in (run_dir, run_dir / "writers", run_dir / "history"):
        os.utime(d, (lost, lost))
    assert _listed() == {"fine": "finished", "new": "finished"}
    listed = {run.id: run for run in flightlog.Api().runs()}
    assert "run.json is missing" in (listed["new"].problem or "")


def _listed() -> dict[str, str]:
    r = cli("runs", "--json")
    assert r.returncode == 0, r.stderr
    return {run["id"]: run["state"] for run in json.loads(r.stdout)}
