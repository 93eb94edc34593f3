"""What the server does per run it receives, cut down without weakening a check: a segment
file checked from its bytes is refused exactly as from the file, a run's system/ directory
is made by its first system segment (durably), and the file lists of a batch of runs are
recorded together, every one of them - for real, on the store's files and a live server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flightlog.sync import new_dirs, receive, segment_check
from flightlog.sync.limits import SegmentLimits
from flightlog.sync.refused import Refused

from .conftest import cli, python_script
from .servers import LiveServer, place_uploaded, segment_file, tidy_table


def _refusal(source: Path | bytes, limits: SegmentLimits) -> tuple[str, str] | None:
    try:
        segment_check.check_segment_file(source, "w1", limits)
    except Refused as e:
        return e.code, str(e)
    return None


@pytest.mark.parametrize(
    "damage",
    ["none", "truncated", "flipped page", "flipped footer", "too many rows", "other writer"],
)
def test_a_segment_file_is_checked_from_its_bytes_with_the_same_answer(
    tmp_path: Path, damage: str, monkeypatch: pytest.MonkeyPatch
):
    """A file up to IN_MEMORY is read whole and checked from memory: every segment, whole or
    damaged, gets the answer the file-based check gives (the same refusal, word for word)."""
    seg = segment_file(tmp_path / "a", tidy_table(2000, ("a", "b")), writer="w1", seq=1)
    data = bytearray(seg.read_bytes())
    limits = SegmentLimits()
    if damage == "truncated":
        data = data[: len(data) // 2] + data[-8:]
    elif damage == "flipped page":
        data[len(data) // 3] ^= 0xFF
    elif damage == "flipped footer":
        data[-40] ^= 0xFF
    elif damage == "too many rows":
        limits = SegmentLimits(rows=1000)
    elif damage == "other writer":
        seg = segment_file(tmp_path / "b", tidy_table(2000, ("a",), writer="w2"), writer="w2")
        data = bytearray(seg.read_bytes())
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(data)
    from_memory = _refusal(damaged, limits)
    monkeypatch.setattr(segment_check, "IN_MEMORY", 0)  # the file-based check, as before
    assert _refusal(damaged, limits) == from_memory == _refusal(bytes(data), limits)
    if damage == "none":
        assert from_memory is None
    elif not damage.startswith("flipped"):  # a flipped byte may land where nothing reads it
        assert from_memory is not None


def test_a_run_gets_its_system_directory_with_its_first_system_segment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Most runs synced have no system samples: their run.json does not make system/ (a
    mkdir, and an entry for the run directory's fsync, per run). The first system segment
    makes it, durable in the run's directory before the upload is answered (fsynced out of
    the lock every upload takes: sync/new_dirs.py), and reads back."""
    synced: list[Path] = []
    real = receive.fsync_dir
    for module in (receive, new_dirs):
        monkeypatch.setattr(module, "fsync_dir", lambda d: (synced.append(d), real(d)))
    store = receive.ReceivingStore(tmp_path / "server")
    store.put_run("alice", "p", "r1", {"id": "r1"}, [])
    paths = store.paths("alice", "p", "r1")
    assert paths.history.is_dir() and not paths.system.exists()
    assert store.segments("alice", "p", "r1") == {"history": [], "system": []}

    seg = segment_file(tmp_path / "up", tidy_table(10, ("cpu",)), seq=1)
    synced.clear()
    assert place_uploaded(store, paths, "system", seg) is True
    assert paths.dir in synced and paths.system in synced  # the mkdir and the rename
    assert store.segments("alice", "p", "r1") == {"history": [], "system": [seg.name]}
    assert place_uploaded(store, paths, "system", seg) is False


def test_a_refused_system_segment_makes_no_directory(tmp_path: Path):
    store = receive.ReceivingStore(tmp_path / "server")
    store.put_run("alice", "p", "r1", {"id": "r1"}, [])
    paths = store.paths("alice", "p", "r1")
    seg = segment_file(tmp_path / "up", tidy_table(10, ("cpu",)), seq=1)
    parsed = receive.check_segment_name("system", seg.name)
    tmp = store.uploads / "up.tmp"
    tmp.write_bytes(b"PAR1" + b"\0" * 100 + b"PAR1")
    with pytest.raises(Refused) as e:
        store.place_segment(paths, "system", parsed, tmp, parsed.sha256)
    assert e.value.code == "not_parquet" and not paths.system.exists()


RUNS = """
import flightlog
for i in range({runs}):
    run = flightlog.init(project="p", mode="offline", settings={{"segment_rows": 50}})
    for s in range(60):
        run.log({{"i": s}})
    run.finish()
    print(run.id, flush=True)
"""


@pytest.mark.slow
def test_every_run_of_a_batch_has_its_file_list_and_system_samples_on_the_server(
    server: LiveServer, key: str
):
    """Runs synced several to a request (their file lists recorded in one transaction at the
    end of the request): each run's files are listed on the server, and a run's system
    samples are there too, though no run.json made system/."""
    import httpx

    r = python_script(RUNS.format(runs=6), timeout=300)
    assert r.returncode == 0, r.stderr
    ids = r.stdout.split()
    local = Path(os.environ["FLIGHTLOG_DIR"]) / "runs/p"
    system = segment_file(local / ids[0] / "system", tidy_table(5, ("cpu",)), seq=1)
    done = cli("sync", "--all", timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    log = (server.root / "server.log").read_text(errors="replace")
    assert "POST /api/v1/sync/alice/p " in log  # several runs to a request
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=60) as h:
        for run_id in ids:
            files = h.get(f"{server.url}/api/v1/runs/alice/p/{run_id}/files").json()["files"]
            assert "output.log" in {f["name"] for f in files}, (run_id, files)
            segs = h.get(f"{server.url}/api/v1/runs/alice/p/{run_id}/segments").json()
            assert segs["segments"]["history"], run_id
        segs = h.get(f"{server.url}/api/v1/runs/alice/p/{ids[0]}/segments").json()
        assert segs["segments"]["system"] == [system.name]
    assert not (server.root / "runs/@alice/p" / ids[1] / "system").exists()
