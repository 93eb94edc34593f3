"""What the command line says on a damaged or mistyped store: one readable line and exit 1
for an error, warnings without Python's source lines, and no claim that contradicts the
store. Found by the breaker session; the fixes belong in flightlog/cli/ (owned elsewhere),
so each test is an expected failure until then."""

from __future__ import annotations

from pathlib import Path

import flightlog
from flightlog.store.threads import join_unwaited

from .conftest import cli


def a_run(name: str, rows: int = 5) -> Path:
    run = flightlog.init(project="p", name=name, reinit=True)
    for i in range(rows):
        run.log({"loss": 1.0 / (i + 1)})
    run.finish(quiet=True)
    join_unwaited()  # sealed, as after the script's exit (finish() returns before the seal)
    return Path(run.dir)


def test_export_of_a_run_whose_run_json_is_torn(store: Path) -> None:
    run_dir = a_run("torn")
    (run_dir / "run.json").write_text('{"id": "x", "name": ')  # a write cut short
    res = cli("export", run_dir.name, "--root", str(store))
    assert "AssertionError" not in res.stderr
    # the history is intact: export it, as `show` and the Api read it, or name the problem
    assert res.returncode == 0 or "run.json" in res.stderr, res.stderr


def test_a_damaged_segment_is_one_warning_line_without_source_code(store: Path) -> None:
    run_dir = a_run("damaged", rows=50)
    (segment,) = (run_dir / "history").glob("*.parquet")
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF
    segment.write_bytes(bytes(data))
    res = cli("show", "damaged", "--root", str(store))
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert lines and all(ln.startswith("flightlog: ") for ln in lines), lines
    assert ".py:" not in res.stderr, res.stderr


def test_alerts_of_a_missing_store_is_an_error(tmp_path: Path) -> None:
    res = cli("alerts", "--root", str(tmp_path / "typo"))
    assert res.returncode == 1, res.stdout
    assert "no flightlog store" in res.stderr


def test_runs_limit_out_of_range(store: Path) -> None:
    a_run("only")
    zero = cli("runs", "--limit", "0", "--root", str(store))
    assert "yet" not in zero.stdout + zero.stderr, zero.stdout
    negative = cli("runs", "--limit", "-1", "--root", str(store))
    assert negative.returncode != 0
    assert "Binder Error" not in negative.stderr, negative.stderr


def test_runs_limit_lists_the_newest_runs(store: Path) -> None:
    """`runs --limit N` lists the newest runs, as the listing's first N lines (it listed
    the N oldest, so a store of months of runs showed last winter's)."""
    for name in ("first", "second", "third", "fourth"):
        a_run(name)
    every = cli("runs", "--root", str(store)).stdout.splitlines()
    limited = cli("runs", "--limit", "2", "--root", str(store))
    assert limited.returncode == 0, limited.stderr
    names = [line.split()[1] for line in limited.stdout.splitlines()[1:]]
    assert names == ["fourth", "third"]
    assert limited.stdout.splitlines() == every[:3]
    # with an order asked for, the first N in it
    by_name = cli("runs", "--sort", "name", "--limit", "2", "--root", str(store)).stdout
    assert [line.split()[1] for line in by_name.splitlines()[1:]] == ["first", "fourth"]


def test_a_state_or_group_filter_matching_nothing_is_no_match(store: Path) -> None:
    """`runs --state failed` on a store of finished runs said "no runs in STORE yet — log
    one with ...", as if the store were empty (found by breaker5)."""
    a_run("ok")
    for flag in (("--state", "failed"), ("--group", "nope")):
        res = cli("runs", *flag, "--root", str(store))
        assert res.returncode == 0, res.stderr
        assert "no runs match" in res.stdout and "yet" not in res.stdout, res.stdout
