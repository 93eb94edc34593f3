"""A stalled writer keeps its rows: only proof of death lets anyone else seal its segment, and
a writer whose segment was taken anyway goes on in a new one (store/takeover.py).

The stalled writer is a real process on "another host": it runs in its own UTS namespace
(`unshare -u` + `hostname`, as root) so that it records another host name, exactly as a
training process on a second machine of a shared store would; without root it records the
other name by setting the module constant it reads. It is stopped with SIGSTOP, and its state
file is given the heartbeat an hour-long stall leaves (it cannot write while stopped, and the
file is rewritten by the writer itself once it continues). The sealers are the real ones:
`load_local` (what `flightlog sync` and the agent call), `flightlog doctor --repair` and
`init(resume="allow")` in another process.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest

import flightlog
from flightlog.store.atomic import atomic_write_json, read_json
from flightlog.store.layout import RunPaths, claimed_segment_name, parse_segment_name
from flightlog.store.schema import HISTORY_SCHEMA
from flightlog.store.segments import OpenSegment, list_segments, read_live_segment, seal
from flightlog.store.takeover import may_seal, seal_taken, writer_gone

from .conftest import cli, python_script, settled

pytestmark = pytest.mark.slow

OTHER_HOST = "other-host"
TAKEN = "was sealed by another process"

WRITER = """
    import os, sys, time
    if os.environ.get("FAKE_HOST"):  # no root for unshare: record another host name
        import flightlog._run_writer, flightlog.store.liveness
        flightlog._run_writer.HOSTNAME = flightlog.store.liveness.HOSTNAME = os.environ["FAKE_HOST"]
    import flightlog
    stop = sys.argv[1]
    run = flightlog.init(project="p", id="w")
    print("started", flush=True)
    i = 0
    while not os.path.exists(stop):
        run.log({"i": i})
        i += 1
        if i % 10 == 0:
            time.sleep(0.001)
    run.finish()
    print("logged", i, flush=True)
"""


def _wait(cond: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Writer:
    """The writer process on another host, and what the test does to it."""

    def __init__(self, store: Path, tmp_path: Path, env: dict[str, str] | None = None) -> None:
        self.stop_file = tmp_path / "stop"
        self.paths = RunPaths.of(store, "p", "w")
        self._state_file: Path | None = None
        code = textwrap.dedent(WRITER)
        child_env = {**os.environ, **(env or {})}
        if os.geteuid() == 0 and shutil.which("unshare"):
            argv = ["unshare", "-u", "sh", "-c", 'hostname "$0" && exec "$1" -c "$2" "$3"']
            argv += [OTHER_HOST, sys.executable, code, str(self.stop_file)]
        else:
            argv = [sys.executable, "-c", code, str(self.stop_file)]
            child_env["FAKE_HOST"] = OTHER_HOST
        self.proc = subprocess.Popen(
            argv, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        assert "started" in self.proc.stdout.readline(), self.proc.stderr
        _wait(lambda: self.rows() >= 2000, "the first rows")

    def state_file(self) -> Path:
        """Its state file: the first in the run (a resume adds another)."""
        _wait(lambda: self.paths.writers.is_dir() and any(self.paths.writers.iterdir()), "init")
        if self._state_file is None:
            (self._state_file,) = self.paths.writers.glob("*.json")
        return self._state_file

    def state(self) -> dict:
        return read_json(self.state_file()) or {}

    def rows(self) -> int:
        return int(self.state().get("rows", 0))

    def pause(self, silent_for: float | None = None) -> None:
        """SIGSTOP, then the heartbeat a stall of `silent_for` seconds leaves (None: the
        heartbeat the writer wrote last)."""
        self.proc.send_signal(signal.SIGSTOP)
        _wait(self._stopped, "the writer to stop")
        state = self.state()
        assert state["host"] == OTHER_HOST
        if silent_for is not None:
            beat = time.time() - silent_for
            atomic_write_json(self.state_file(), {**state, "heartbeat_at": beat})

    def _stopped(self) -> bool:
        with open(f"/proc/{self.proc.pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rfind(b")") + 2 :].split()[0] == b"T"

    def resume_and_finish(self) -> tuple[int, str]:
        """SIGCONT, let it write some more, stop it; (rows it logged, its stderr)."""
        before = self.rows()
        self.proc.send_signal(signal.SIGCONT)
        _wait(lambda: self.rows() >= before + 2000, f"rows after SIGCONT ({self._status()})")
        self.stop_file.touch()
        out, err = self.proc.communicate(timeout=120)
        assert self.proc.returncode == 0, err
        return int(out.split("logged")[1]), err

    def _status(self) -> str:
        with open(f"/proc/{self.proc.pid}/status") as f:
            return f"rows {self.rows()}, " + " ".join(f.read().split("\n")[1:3])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()

    def open_segments(self) -> list[str]:
        return sorted(p.name for p in self.paths.history.glob("*.arrows"))

    def sealed_segments(self) -> list[str]:
        return sorted(p.name for p in self.paths.history.glob("*.parquet"))


@pytest.fixture
def writer(store: Path, tmp_path: Path) -> Iterator[Writer]:
    w = Writer(store, tmp_path, env={"FLIGHTLOG_STATS_INTERVAL": "0.1"})  # both streams
    yield w
    w.kill()


def _logged_values(api: flightlog.Api) -> Counter:
    return Counter(int(v) for v in api.run("p/w").tidy(["i"]).column("value").to_pylist())


def _seal_by_sync(w: Writer) -> None:
    from flightlog.sync.uploader import load_local

    local = load_local(w.paths)
    assert local is not None and local.sealed["history"]


def _seal_by_doctor(w: Writer) -> None:
    res = cli("doctor", "--repair", "--root", str(w.paths.dir.parents[2]))
    assert "sealed runs/p/w/history/" in res.stdout, res.stdout + res.stderr


def _seal_by_resume(w: Writer) -> None:
    res = python_script("""
        import flightlog
        run = flightlog.init(project="p", id="w", resume="allow")
        run.log({"r": 1})
        run.finish()
    """)
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize(
    "sealer", [_seal_by_sync, _seal_by_doctor, _seal_by_resume], ids=["sync", "doctor", "resume"]
)
def test_a_writer_back_from_an_hour_long_stall_loses_no_row(
    writer: Writer, api: flightlog.Api, sealer: Callable[[Writer], None]
) -> None:
    writer.pause(silent_for=2 * 3600)  # long enough to count as dead: its segment is taken
    (first,) = writer.open_segments()
    sealer(writer)
    _assert_taken_and_nothing_lost(writer, api, first)


def test_a_stopped_writer_is_taken_after_a_short_stale_setting_and_loses_no_row(
    writer: Writer, api: flightlog.Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLIGHTLOG_STALE_SECONDS", "2")  # for the sealer: doctor --repair
    writer.pause()
    _wait(lambda: time.time() - writer.state()["heartbeat_at"] > 2.5, "2.5 s of silence")
    (first,) = writer.open_segments()
    _seal_by_doctor(writer)
    _assert_taken_and_nothing_lost(writer, api, first)


def _assert_taken_and_nothing_lost(writer: Writer, api: flightlog.Api, first: str) -> None:
    assert first not in writer.open_segments()
    assert list(writer.paths.system.glob("*.parquet"))  # the system stream was taken too
    assert not list(writer.paths.system.glob("*.arrows"))
    assert any(s.startswith(first.split(".")[0]) for s in writer.sealed_segments())
    logged, err = writer.resume_and_finish()
    values = _logged_values(api)
    missing = set(range(logged)) - set(values)
    assert not missing, f"{len(missing)} of {logged} logged rows are gone"
    assert sorted(values.elements()) == list(range(logged)), "no row stored twice"
    assert err.count(TAKEN) == 1, err  # one warning, for history and system metrics alike
    assert first in err and "new segment" in err
    assert writer.state()["state"] == "finished"
    assert api.run("p/w").state == "finished"
    assert not writer.open_segments()
    system = api.run("p/w").tidy(["system/cpu_percent"], "system")
    samples = Counter(system.column("step").to_pylist())
    assert sorted(samples.elements()) == list(range(len(samples))), "a system sample lost"
    assert len(samples) > 10


def test_a_writer_silent_for_minutes_keeps_its_segment(writer: Writer, api: flightlog.Api) -> None:
    writer.pause(silent_for=120)  # shown as crashed, not proven dead: nothing is sealed
    (first,) = writer.open_segments()
    assert api.run("p/w").state == "crashed"
    res = cli("doctor", "--root", str(writer.paths.dir.parents[2]))
    assert "stalled-writer" in res.stdout and "no heartbeat from host 'other-host'" in res.stdout
    assert "unsealed-segment" not in res.stdout and "dead-writer" not in res.stdout
    cli("doctor", "--repair", "--root", str(writer.paths.dir.parents[2]))
    _seal_by_resume(writer)
    from flightlog.sync.uploader import load_local

    assert load_local(writer.paths) is not None
    assert first in writer.open_segments() and not any(
        s.startswith(first.split(".")[0]) for s in writer.sealed_segments()
    )
    logged, err = writer.resume_and_finish()
    assert sorted(_logged_values(api).elements()) == list(range(logged))
    assert TAKEN not in err


def test_a_claim_left_by_a_dead_sealer_is_read_and_then_sealed_by_doctor(
    writer: Writer, api: flightlog.Api
) -> None:
    writer.kill()  # the other host is gone for good
    before = _logged_values(api)
    (first,) = writer.open_segments()
    name = parse_segment_name(first)
    assert name is not None
    claimed = writer.paths.history / claimed_segment_name(name.writer, name.seq)
    os.rename(writer.paths.history / first, claimed)  # what a sealer does before it dies
    assert _logged_values(api) == before  # readers still see every row
    _wait(lambda: time.time() - claimed.stat().st_ctime > 1.5, "the claim to age")
    res = subprocess.run(
        [sys.executable, "-m", "flightlog.cli", "doctor", "--repair"],
        env={**os.environ, "FLIGHTLOG_STALE_SECONDS": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert f"sealed runs/p/w/history/{claimed.name}" in res.stdout, res.stdout + res.stderr
    assert not writer.open_segments()
    assert _logged_values(api) == before
    assert "quarantine" not in res.stdout


def _row(step: int) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist(
        [{"step": step, "time": 0, "key": "x", "value": float(step), "kind": 0, "text": None}],
        schema=HISTORY_SCHEMA,
    )


def test_a_reader_follows_a_segment_claimed_and_sealed_after_it_listed_it(tmp_path: Path) -> None:
    seg = OpenSegment(tmp_path / "abc-000001.arrows", HISTORY_SCHEMA)
    seg.write(_row(7))
    seg.close()
    ((name, path),) = list_segments(tmp_path)  # a reader lists the open segment...
    claimed = tmp_path / claimed_segment_name("abc", 1)
    os.rename(path, claimed)  # ...a foreign sealer claims it...
    assert read_live_segment(name, path).column("value").to_pylist() == [7.0]
    seal(claimed)  # ...and seals it
    assert read_live_segment(name, path).column("value").to_pylist() == [7.0]
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".arrows"] == []


def _state(**kw: object) -> dict:
    """A writer state; `heartbeat_at` as an age in seconds, made a time when the test runs
    (a time taken at collection was an hour and a half old by then in a loaded suite)."""
    return {"writer": "w1", "state": "running", "heartbeat_at": 0.0, **kw}


@pytest.mark.parametrize(
    ("state", "env", "gone"),
    [
        (_state(state="finished"), None, True),
        (_state(host=os.uname().nodename, pid=os.getpid()), None, False),  # alive, stalled
        (_state(host=os.uname().nodename, pid=2**22 + 1), None, True),  # pid gone
        (_state(host=OTHER_HOST, heartbeat_at=120), None, False),
        (_state(host=OTHER_HOST, heartbeat_at=7200), None, True),
        (_state(host=OTHER_HOST, heartbeat_at=120), "100", True),
        (_state(host=OTHER_HOST, state="crashed", heartbeat_at=120), None, False),
    ],
)
def test_only_proof_of_death_lets_another_process_seal(
    monkeypatch: pytest.MonkeyPatch, state: dict, env: str | None, gone: bool
) -> None:
    if env:
        monkeypatch.setenv("FLIGHTLOG_STALE_SECONDS", env)
    state = {**state, "heartbeat_at": time.time() - state["heartbeat_at"]}
    assert writer_gone(state) is gone
    name = parse_segment_name("w1-000001.arrows")
    assert name is not None
    assert may_seal(name, Path("w1-000001.arrows"), {"w1": state}) is gone


def test_a_bad_stale_seconds_setting_warns_and_keeps_the_hour(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flightlog.store.takeover import seal_after

    monkeypatch.setenv("FLIGHTLOG_STALE_SECONDS", "soon")
    with pytest.warns(RuntimeWarning, match="FLIGHTLOG_STALE_SECONDS='soon'"):
        assert seal_after() == 3600


@pytest.mark.parametrize("local", [True, False], ids=["local-disk", "network-fs"])
def test_segments_claimed_while_their_writer_writes_lose_no_row(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    api: flightlog.Api,
    local: bool,
) -> None:
    """A sealer that misjudged a live writer (the worst case): claims race real writes."""
    if not local:  # as on NFS/Lustre: a batch counts as captured only after an fsync
        monkeypatch.setattr("flightlog.store.takeover.is_local_filesystem", lambda path: False)
    run = flightlog.init(
        project="p", id="w", settings={"flush_interval": 0.01, "fsync_interval": 0.05}
    )
    history = Path(run.dir) / "history"
    claimed = 0
    for i in range(20_000):
        run.log({"i": i})
        if i % 100 == 99:
            time.sleep(0.002)
        if i % 2000 == 1999:
            for name, path in list_segments(history):
                if not name.sealed and not name.claimed and seal_taken(name, path):
                    claimed += 1
    run.finish()
    settled()  # the writer thread writes its last rows and seals after finish()
    values = _logged_values(api)
    assert set(values) == set(range(20_000)), f"{20_000 - len(values)} rows lost"
    assert claimed >= 5  # the writer went on in a new segment each time
    # only batches caught in the instant of a claim (local) or since the last fsync
    # (network) may be stored twice
    assert sum(values.values()) - 20_000 < 2000 * claimed
    assert capsys.readouterr().err.count(TAKEN) == 1
    assert not list(history.glob("*.arrows"))


def test_the_system_metrics_stream_goes_on_in_a_new_segment_when_taken(tmp_path: Path) -> None:
    from flightlog.store.samples import SampleWriter
    from flightlog.store.segments import read_segments

    warned: list[str] = []
    samples = SampleWriter(tmp_path / "system", "wid", "host:1", warned.append)
    for i in range(5):
        samples.write(float(i), {"system/cpu_percent": float(i)})
    ((name, path),) = list_segments(tmp_path / "system")
    assert seal_taken(name, path) is not None  # a resume sealed it while we were paused
    for i in range(5, 10):
        samples.write(float(i), {"system/cpu_percent": float(i)})
    samples.close()
    steps = [s for _, t in read_segments(tmp_path / "system") for s in t.column("step").to_pylist()]
    assert sorted(steps) == list(range(10))
    assert len(warned) == 1 and TAKEN in warned[0]
    assert not list((tmp_path / "system").glob("*.arrows"))


@pytest.mark.parametrize("local", [True, False], ids=["local-disk", "network-fs"])
def test_a_writer_that_sees_the_claim_before_the_seal_writes_no_row_twice(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, local: bool
) -> None:
    """A claimer renames the segment, then seals it. A writer that notices the claim in
    between found no sealed twin yet and wrote every batch it could not prove again: the
    sealer's file held them too. Under a loaded machine's slow seals this compounded claim
    after claim (rows stored 5 times in a full suite: the test above failed its bound)."""
    from flightlog.store import takeover
    from flightlog.store.takeover import HeldSegment

    if not local:
        monkeypatch.setattr("flightlog.store.takeover.is_local_filesystem", lambda path: False)
    held = HeldSegment(OpenSegment(tmp_path / "abc-000001.arrows", HISTORY_SCHEMA))
    for step in range(3):
        held.write(_row(step))
    claimed = tmp_path / claimed_segment_name("abc", 1)
    os.rename(held.path, claimed)  # claimed; sealed a moment later (a loaded machine):
    real_twin = takeover.sealed_twin

    def sealed_after_the_writers_first_look(directory: Path, name: object) -> Path | None:
        found = real_twin(directory, name)
        if found is None and claimed.exists():
            seal(claimed)
        return found

    monkeypatch.setattr(takeover, "sealed_twin", sealed_after_the_writers_first_look)
    assert not held.check()
    again = held.hand_over()
    assert [b.column("step").to_pylist() for b, _ in again] == []  # the sealed file has them
