"""`flightlog import wandb PATH`: a real wandb offline run (made by the wandb package, when it
is installed) imported and compared value by value; a torn copy imports what precedes the
tear; importing twice does not duplicate. The frame reader itself needs no wandb."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import flightlog
from flightlog._wandb_records import HEADER, frames
from flightlog.cli import main

from .conftest import python_script

STEPS = 300


@pytest.fixture
def wandb_run(tmp_path: Path) -> Path:
    """A real wandb offline run directory (skipped without the real wandb package)."""
    wandb = pytest.importorskip("wandb")
    if str(getattr(wandb, "__version__", "")).endswith("+flightlog"):
        pytest.skip("wandb is the flightlog alias here, not the real package")
    work = tmp_path / "wb"
    work.mkdir()
    r = python_script(
        f"""
        import wandb
        run = wandb.init(project="imp", id="wb0run01", name="orig", group="g", tags=["t1"],
                         notes="n", config={{"lr": 0.01, "nested": {{"a": 1}}}})
        for i in range({STEPS}):
            wandb.log({{"loss": 1 / (i + 1) + 0.5, "acc": i / {STEPS}, "tag": f"s{{i}}"}})
        wandb.log({{"late": 5}}, step={STEPS + 10})
        run.summary["best"] = 0.9
        print("console line")
        run.finish()
        """,
        env={"WANDB_MODE": "offline", "WANDB_SILENT": "true"},
        cwd=work,
        timeout=180,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    [run_dir] = (work / "wandb").glob("offline-run-*")
    return run_dir


def expected_rows() -> list[tuple[int, dict]]:
    rows = [
        (i, {"loss": 1 / (i + 1) + 0.5, "acc": i / STEPS, "tag": f"s{i}"}) for i in range(STEPS)
    ]
    return [*rows, (STEPS + 10, {"late": 5})]


def _rows(run: flightlog.Api) -> list[tuple[int, dict]]:
    return [
        (r["_step"], {k: v for k, v in r.items() if not k.startswith("_")})
        for r in run.scan_history()
    ]


def test_a_wandb_offline_run_imports_value_by_value(
    wandb_run: Path, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "wandb", str(wandb_run.parent), "--root", str(store)]) == 0
    assert "imported  imp/wb0run01 (301 rows, " in capsys.readouterr().out
    run = flightlog.Api(store).run("imp/wb0run01")
    assert (run.name, run.group, run.tags, run.notes) == ("orig", "g", ["t1"], "n")
    assert run.config == {"lr": 0.01, "nested": {"a": 1}}
    assert run.state == "finished"
    got = _rows(run)
    assert [s for s, _ in got] == [s for s, _ in expected_rows()]
    for (_, have), (_, want) in zip(got, expected_rows(), strict=True):
        assert have == pytest.approx(want)
    assert run.summary["best"] == 0.9 and run.summary["late"] == 5
    assert run.summary["loss"] == pytest.approx(1 / STEPS + 0.5)
    times = [r["_timestamp"] for r in run.scan_history()]
    assert times == sorted(times) and times[0] >= run.meta["created_at"]  # wandb's clock
    assert "console line" in (run.dir / "files" / "output.log").read_text()
    system = run.history(stream="system").to_pydict()
    assert system["_step"] and any(k.startswith("system/proc.memory") for k in system)
    assert min(system["_timestamp"]) >= run.meta["created_at"]

    assert main(["import", "wandb", str(wandb_run), "--root", str(store)]) == 0  # again
    assert "skipped" in capsys.readouterr().out
    assert len(_rows(flightlog.Api(store).run("imp/wb0run01"))) == STEPS + 1


def test_a_torn_wandb_log_imports_every_record_before_the_tear(
    wandb_run: Path, store: Path, tmp_path: Path
) -> None:
    torn = tmp_path / "torn" / wandb_run.name
    shutil.copytree(wandb_run, torn)
    [log] = torn.glob("run-*.wandb")
    data = log.read_bytes()
    log.write_bytes(data[: len(data) * 2 // 3])
    assert main(["import", "wandb", str(torn), "--root", str(store)]) == 0
    run = flightlog.Api(store).run("imp/wb0run01")
    got = _rows(run)
    assert 0 < len(got) < STEPS
    for (step, have), (want_step, want) in zip(got, expected_rows(), strict=False):
        assert step == want_step and have == pytest.approx(want)
    assert run.state == "failed" and "torn off" in run.error


def test_frames_reject_other_files_and_stop_at_a_bad_checksum() -> None:
    with pytest.raises(ValueError, match="not a wandb transaction log"):
        frames(b"PAR1....")
    import struct
    import zlib

    body = b"\x08\x01"
    good = struct.pack("<IHB", zlib.crc32(body, zlib.crc32(b"\x01")), len(body), 1) + body
    bad = struct.pack("<IHB", 12345, len(body), 1) + body
    records, left = frames(HEADER + good + bad)
    assert records == [body] and left == len(bad)


def test_import_of_a_path_without_runs_says_what_to_give(tmp_path: Path, capsys) -> None:
    assert main(["import", "wandb", str(tmp_path)]) == 1
    assert "no wandb runs (run-*.wandb)" in capsys.readouterr().err
