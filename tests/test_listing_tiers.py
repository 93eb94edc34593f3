"""A listing's first build in two tiers: run.json and state for every run, segments only for
the runs shown (store/catch_up.py). What it shows and what its filters answer must be what
a full description gives: a field not yet described is never shown, filtered or sorted on."""

from __future__ import annotations

import io
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flightlog
from flightlog.cli import main as cli_main
from flightlog.store import catch_up
from flightlog.store.catalog import count_runs, select_runs
from flightlog.store.index import INDEX_FILE, Index
from flightlog.store.threads import join_unwaited

RUNS = 24


def _write_runs(n: int) -> None:
    """Runs of different lengths, groups, tags, configs and summaries (and one failed)."""
    for i in range(n):
        run = flightlog.init(
            project=f"p{i % 2}",
            group=f"g{i % 3}",
            config={"lr": 10.0 ** -(i % 5), "i": i},
            reinit=True,
            tags=["even" if i % 2 == 0 else "odd"],
        )
        for s in range(3 + (i * 7) % 11):
            run.log({"loss": (i + 1) / (s + 1)})
        run.finish(exit_code=1 if i == 5 else 0, quiet=True)
    join_unwaited()  # finish() leaves removing its journals to a thread


@pytest.fixture
def stores(store: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(a store with no index yet, a copy of it indexed in full as before)."""
    _write_runs(RUNS)
    full = tmp_path / "full"
    shutil.copytree(store, full)
    Index(full).close()
    return store, full


def _drop_index(store: Path) -> None:
    for name in (INDEX_FILE, INDEX_FILE + ".wal"):
        (store / name).unlink(missing_ok=True)


def _shown(rows: list[dict]) -> list[tuple]:
    keep = ("run_key", "name", "state", "steps", "values", "last_time", "warnings", "sync")
    return [tuple(r[k] for k in keep) for r in rows]


def test_a_cold_listing_prints_what_a_full_build_prints(
    stores: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`flightlog runs --limit 5` on a store with no index: the right runs in the right
    order, with their steps and durations, while most runs are left partial."""
    cold, full = stores
    monkeypatch.setattr(catch_up, "LAZY_OVER", 2)  # as a first build of 10,000 runs

    def listing(root: Path, *more: str) -> str:
        out = io.StringIO()
        with redirect_stdout(out):
            assert cli_main(["runs", "--limit", "5", "--root", str(root), *more]) == 0
        return out.getvalue()

    assert listing(cold) == listing(full)
    with Index(cold, fresh=False, lazy=True) as idx:
        assert idx.partial == RUNS - 5  # only the runs printed were read beyond run.json
    _drop_index(cold)
    assert listing(cold, "--sort", "steps", "--desc") == listing(full, "--sort", "steps", "--desc")
    with Index(cold) as idx:  # any other reader describes every run
        assert idx.partial == 0
        whole = _shown(select_runs(idx))
    with Index(full) as idx:
        assert whole == _shown(select_runs(idx))


FILTERS = st.sampled_from(
    [
        None,
        "steps > 8",
        "steps <= 5",
        "duration >= 0",
        "config.lr < 0.01",
        "summary.loss >= 0.5",
        "group:g1",
        "tag:odd",
        "state:failed",
        "-state:finished",
        "steps > 6 and tag:even",
        "steps < 4 or group:g2",
        "not (steps >= 9)",
        "name ~ '.'",
    ]
)
SORTS = st.sampled_from(
    [None, "steps", "-steps", "duration", "-duration", "summary.loss", "-created_at", "name"]
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(where=FILTERS, sort=SORTS, limit=st.integers(1, RUNS + 2))
def test_filters_and_sorts_on_a_cold_listing_answer_as_a_full_build(
    stores: tuple[Path, Path], where: str | None, sort: str | None, limit: int
) -> None:
    """Whatever the filter and sort read, a listing's first build answers with the runs,
    the order, the count and the fields of a full build."""
    cold, full = stores
    _drop_index(cold)
    before = catch_up.LAZY_OVER
    catch_up.LAZY_OVER = 2  # as a first build of 10,000 runs
    try:
        with Index(cold, lazy=True) as idx:
            got = _shown(select_runs(idx, where=where, sort=sort, limit=limit))
            got_count = count_runs(idx, where=where)
    finally:
        catch_up.LAZY_OVER = before
    with Index(full) as idx:
        want = _shown(select_runs(idx, where=where, sort=sort, limit=limit))
        want_count = count_runs(idx, where=where)
    assert (got, got_count) == (want, want_count)


def test_a_first_paint_shows_not_known_for_what_is_not_described_yet(
    stores: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runs screen's first paint (the index as last seen, nothing described on the way):
    a partial run's steps show as not known, never as a guess, and a sort by what partial
    runs lack waits for the catch-up instead of painting a wrong order."""
    from flightlog.tui.runs_data import load_last_look

    cold, full = stores
    monkeypatch.setattr(catch_up, "LAZY_OVER", 2)
    with Index(cold, lazy=True) as idx:
        select_runs(idx, limit=3)  # `flightlog runs --limit 3`: 3 runs described
    with Index(full) as idx:
        want = {r["run_key"]: r for r in select_runs(idx)}
    first = load_last_look(cold, None, None)
    assert first is not None and len(first.rows) == RUNS
    assert sum(r["steps"] is None for r in first.rows) == RUNS - 3
    for r in first.rows:
        w = want[r["run_key"]]
        assert r["steps"] in (None, w["steps"])
        assert r["duration"] is None or abs(r["duration"] - w["duration"]) < 1e-6
    assert load_last_look(cold, None, "-steps") is None
    assert load_last_look(cold, "steps > 3", None) is None
