"""Many writer processes on one store, and several processes appending to one run."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import flightlog

pytestmark = pytest.mark.slow


def _start(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _join(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err


def test_eight_processes_write_eight_runs_into_one_store(api: flightlog.Api) -> None:
    code = """
        import sys, time, flightlog
        rank = int(sys.argv[1])
        run = flightlog.init(project="many", group="sweep", config={"rank": rank},
                             settings={"segment_rows": 1000})
        for i in range(3000):
            run.log({"loss": 1.0 / (i + 1), "rank": rank, "i": i})
            if i % 500 == 499:
                time.sleep(0.15)  # span several flushes (1,000-row segments rotate anyway:
                                  # at load 40 every row of a run once came in one flush)
        run.finish()
    """
    _join([_start(code, str(r)) for r in range(8)])
    runs = api.runs("many")
    assert len(runs) == 8
    assert sorted(r.config["rank"] for r in runs) == list(range(8))
    for r in runs:
        assert r.state == "finished" and r.group == "sweep"
        t = r.history()
        assert t.num_rows == 3000
        assert t.column("i").to_pylist() == list(range(3000))
        assert set(t.column("rank").to_pylist()) == {r.config["rank"]}
        assert len(list((r.dir / "history").glob("*.parquet"))) >= 2  # rotated and sealed


def test_four_processes_append_to_one_shared_run(api: flightlog.Api) -> None:
    first = flightlog.init(project="shared", id="ddp", settings={"label": "rank0"})
    code = """
        import sys, flightlog
        rank = sys.argv[1]
        run = flightlog.init(project="shared", id="ddp", mode="shared",
                             settings={"label": f"rank{rank}"})
        for i in range(500):
            run.log({"loss": float(i), "rank": int(rank)})
        run.finish()
    """
    procs = [_start(code, str(r)) for r in (1, 2, 3)]
    for i in range(500):
        first.log({"loss": float(i), "rank": 0})
    _join(procs)
    assert api.run("shared/ddp").state == "running"  # rank0 still has it open
    first.finish(quiet=True)
    run = api.run("shared/ddp")
    assert run.state == "finished"  # finished when its last writer finished
    t = run.history()
    assert t.num_rows == 4 * 500
    by_writer = {}
    for row in run.scan_history():
        by_writer.setdefault(row["_writer"], []).append((row["_step"], row["rank"]))
    assert sorted(by_writer) == ["rank0", "rank1", "rank2", "rank3"]
    for label, rows in by_writer.items():
        assert rows == [(i, int(label[-1])) for i in range(500)]  # each keeps its own _step


def test_four_shared_ranks_started_at_once_all_join_and_their_metadata_merges(
    api: flightlog.Api, tmp_path
) -> None:
    """torchrun starts every rank together: all four init(id=SAME, mode="shared") calls
    succeed, and what each rank sets in config, notes or tags after the others joined is
    kept, whichever rank finishes last."""
    go = tmp_path / "go"
    code = f"""
        import os, sys, time, flightlog
        rank = int(sys.argv[1])
        print("ready", flush=True)
        while not os.path.exists({str(go)!r}):
            time.sleep(0.001)
        run = flightlog.init(project="ddp", id="together", mode="shared",
                             config={{"world": 4}}, settings={{"label": f"rank{{rank}}"}})
        open(os.path.join({str(tmp_path)!r}, f"joined{{rank}}"), "w").close()
        deadline = time.time() + 60  # the other ranks joined (or failed to)
        while sum(os.path.exists(os.path.join({str(tmp_path)!r}, f"joined{{r}}"))
                  for r in range(4)) < 4 and time.time() < deadline:
            time.sleep(0.01)
        for i in range(300):
            run.log({{"loss": 1.0 / (i + 1), "rank": rank}})
        run.config[f"rank{{rank}}_seed"] = 1000 + rank
        if rank == 0:
            run.notes = "set by rank 0"
        if rank == 1:
            run.tags = ["ddp", "from-rank-1"]
        run.save()
        time.sleep(0.2 * (3 - rank))  # rank 0 finishes last
        run.finish()
    """
    for _trial in range(3):
        for p in tmp_path.glob("joined*"):
            p.unlink()
        go.unlink(missing_ok=True)
        procs = [_start(code, str(r)) for r in range(4)]
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        go.touch()
        _join(procs)
        run = api.run("ddp/together")
        assert run.state == "finished"
        assert {k: run.config[k] for k in run.config if k.startswith("rank")} == {
            f"rank{r}_seed": 1000 + r for r in range(4)
        }
        assert run.config["world"] == 4
        assert run.notes == "set by rank 0"
        assert run.tags == ["ddp", "from-rank-1"]
        labels = {row["_writer"] for row in run.scan_history()}
        assert {f"rank{r}" for r in range(4)} <= labels
        import shutil

        shutil.rmtree(run.dir)
