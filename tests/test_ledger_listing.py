"""A cold listing that knows its runs' starts from their projects' ledgers (store/run_ledger.py)
reads only the runs it prints; everything it and every later query answers must be what a
full build of the index answers: the directories are the truth, the ledger only a cache."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

import flightlog
from flightlog.cli import main as cli_main
from flightlog.store import catch_up
from flightlog.store.catalog import count_runs, select_runs
from flightlog.store.index import INDEX_FILE, Index
from flightlog.store.layout import RunPaths, project_dir
from flightlog.store.reader import StoredRun
from flightlog.store.run_ledger import append_created, ledger_path
from flightlog.store.threads import join_unwaited

RUNS = 24


@pytest.fixture
def stores(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(a store with no index yet, written by init(): with ledgers; where `_full_copy` puts
    its copy indexed by a full build)."""
    for i in range(RUNS):
        run = flightlog.init(
            project=f"p{i % 2}",
            group=f"g{i % 3}",
            config={"i": i},
            reinit="create_new",
            tags=["even" if i % 2 == 0 else "odd"],
        )
        for s in range(1 + i % 4):
            run.log({"loss": (i + 1) / (s + 1)})
        run.finish(exit_code=1 if i == 7 else 0, quiet=True)
    join_unwaited()
    monkeypatch.setattr(catch_up, "LAZY_OVER", 2)  # as a first build of 10,000 runs
    return store, tmp_path / "full"


def _full_copy(cold: Path, full: Path) -> Path:
    """The store as it is now, indexed by a full build (no ledger used)."""
    shutil.rmtree(full, ignore_errors=True)
    shutil.copytree(cold, full, ignore=shutil.ignore_patterns(INDEX_FILE + "*"))
    Index(full).close()
    return full


def _runs(root: Path, *more: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli_main(["runs", "--root", str(root), *more]) == 0
    return out.getvalue()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The run directories whose files are read (StoredRun.load_any: run.json and state)."""
    seen: list[str] = []
    load = StoredRun.load_any.__func__  # type: ignore[attr-defined]

    def counted(cls: type[StoredRun], paths: RunPaths, *a: Any, **kw: Any) -> StoredRun:
        seen.append(paths.dir.name)
        return load(cls, paths, *a, **kw)

    monkeypatch.setattr(StoredRun, "load_any", classmethod(counted))
    return seen


def _ids(listing: str) -> list[str]:
    return [line.split()[2] for line in listing.splitlines()[1:]]


def test_a_cold_listing_reads_only_the_runs_it_prints(
    stores: tuple[Path, Path], reads: list[str]
) -> None:
    cold, full = stores
    want = _runs(_full_copy(cold, full), "--limit", "5")
    reads.clear()
    assert _runs(cold, "--limit", "5") == want
    assert sorted(set(reads)) == sorted(_ids(want))  # before: every run's files, 24
    reads.clear()
    assert _runs(cold, "--limit", "5") == want  # and again: the stubs stay stubs
    assert not reads


@pytest.mark.parametrize(
    "query",
    [
        ("--where", "config.i >= 20"),
        ("--sort", "name"),
        ("--sort", "steps", "--desc"),
        ("--state", "failed"),
        ("--project", "p1", "--limit", "4"),
        ("--tag", "odd", "--limit", "3"),
        ("--sort", "created_at", "--desc", "--limit", "4"),
        (),
    ],
)
def test_a_filter_or_another_order_after_a_cold_listing_answers_as_a_full_build(
    stores: tuple[Path, Path], query: tuple[str, ...]
) -> None:
    cold, full = stores
    _full_copy(cold, full)
    _runs(cold, "--limit", "5")  # (the rest left as stubs)
    assert _runs(cold, *query) == _runs(full, *query)
    where = query[1] if query[:1] == ("--where",) else None
    with Index(cold, lazy=True) as idx, Index(full) as whole:
        assert count_runs(idx, where=where) == count_runs(whole, where=where)


def _rewrite_ledger(root: Path, project: str, keep: Callable[[bytes], bool]) -> None:
    path = Path(ledger_path(project_dir(root, project)))
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(line for line in lines if keep(line)))


def test_runs_the_ledger_lacks_are_read_the_old_way(
    stores: tuple[Path, Path], tmp_path: Path
) -> None:
    """A run of a store written before ledgers (no line), one rsync'd in from another store,
    a torn last line: each is read, and listed where its run.json puts it."""
    cold, full = stores
    oldest = ("--sort", "created_at", "--limit")  # (`--limit` alone lists the newest)
    first = _ids(_runs(_full_copy(cold, full), *oldest, "1"))[0]
    _rewrite_ledger(cold, "p0", lambda line: first.encode() not in line)
    _rewrite_ledger(cold, "p1", lambda line: first.encode() not in line)
    other = tmp_path / "other"
    run = flightlog.init(project="p1", dir=str(other), config={"i": -1}, reinit="create_new")
    run.log({"loss": 9.0})
    run.finish(quiet=True)
    join_unwaited()
    copied = cold / "runs" / "p1" / run.id
    shutil.copytree(Path(run.dir), copied)  # (rsync'd: no line in this store's ledger)
    meta = json.loads((copied / "run.json").read_text())
    (copied / "run.json").write_text(json.dumps({**meta, "created_at": 1.0}))
    path = Path(ledger_path(project_dir(cold, "p0")))
    path.write_bytes(path.read_bytes() + b"1.5 torn")
    want = _runs(_full_copy(cold, full), *oldest, "5")
    assert _ids(want)[:2] == [run.id, first]
    assert _runs(cold, *oldest, "5") == want


def test_lines_for_runs_whose_directories_are_gone_list_nothing(
    stores: tuple[Path, Path],
) -> None:
    """A run deleted before the cold listing, and a stub's run deleted after it."""
    cold, full = stores
    order = _ids(_runs(_full_copy(cold, full)))
    gone = next((cold / "runs").glob(f"p*/{order[0]}"))
    shutil.rmtree(gone)
    assert _runs(cold, "--limit", "5") == _runs(_full_copy(cold, full), "--limit", "5")
    later = next((cold / "runs").glob(f"p*/{order[-1]}"))
    shutil.rmtree(later)  # a stub now
    assert _runs(cold) == _runs(_full_copy(cold, full))
    with Index(cold, lazy=True) as idx:
        assert count_runs(idx) == RUNS - 2
        assert idx.stubs == 0


def test_a_wrong_start_in_the_ledger_does_not_reorder_the_listing(
    stores: tuple[Path, Path],
) -> None:
    """The ledger says the newest run started first (a hand-edited line): the run is read
    before it is printed, and placed by run.json. (A newest-first listing, `--limit` alone,
    trusts a start the ledger gives to be no earlier than the run's: init() writes both.)"""
    cold, full = stores
    newest = _ids(_runs(_full_copy(cold, full)))[-1]
    pdir = next(p for p in (cold / "runs").iterdir() if (p / newest).is_dir())
    append_created(pdir, newest, 2.0)  # (its last line: the one a reader takes)
    append_created(pdir, newest, 2.0)  # (and a duplicate)
    oldest = ("--sort", "created_at", "--limit", "3")
    assert _runs(cold, *oldest) == _runs(full, *oldest)
    assert _runs(cold) == _runs(full)


def test_any_other_reader_describes_the_stubs_a_cold_listing_left(
    stores: tuple[Path, Path],
) -> None:
    from flightlog.tui.runs_data import load_last_look

    cold, full = stores
    _full_copy(cold, full)
    _runs(cold, "--limit", "5")
    first_paint = load_last_look(cold, None, None)  # (the runs screen's, before its look)
    assert first_paint is not None and len(first_paint.rows) == RUNS
    assert all(r["state"] is not None for r in first_paint.rows)  # no stub shown
    with Index(cold) as idx, Index(full) as whole:
        assert idx.stubs == idx.partial == 0
        assert _no_dir(select_runs(idx)) == _no_dir(select_runs(whole))


def _no_dir(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "dir"} for r in rows]


def test_a_project_or_entity_filter_reads_the_stubs_whose_run_json_may_name_another(
    stores: tuple[Path, Path],
) -> None:
    """A stub's project and entity are its directory's, except a run under runs/<project>/
    whose run.json names an entity, and a run under an earlier server root's
    runs/<entity>.<project>/: a filter on either reads those before answering."""
    cold, full = stores
    src = next((cold / "runs" / "p0").glob("[!.]*"))
    meta = json.loads((src / "run.json").read_text())
    (src / "run.json").write_text(json.dumps({**meta, "entity": "alice"}))
    old = cold / "runs" / "team.p1"
    shutil.copytree(src, old / "oldrun01")
    (old / "oldrun01" / "run.json").write_text(
        json.dumps({**meta, "id": "oldrun01", "entity": "team", "project": "p1"})
    )
    (old / ".numbers").mkdir()
    append_created(old, "oldrun01", meta["created_at"])
    _full_copy(cold, full)
    _runs(cold, "--limit", "1")  # (the rest left as stubs)
    for query in (("--project", "p1"), ("--entity", "alice"), ("--entity", "team")):
        assert _runs(cold, *query) == _runs(full, *query)
    assert "oldrun01" in _runs(cold, "--project", "p1")


def test_a_store_written_before_ledgers_is_listed_from_its_run_json_files_alone(
    stores: tuple[Path, Path], reads: list[str]
) -> None:
    """No ledger: a cold listing reads each run's run.json for its start, and the rest of
    the files of the runs it prints only, and of a run whose run.json gives no start."""
    cold, full = stores
    for ledger in (cold / "runs").glob("*/.numbers/ledger"):
        ledger.unlink()
    unreadable = next((cold / "runs" / "p1").glob("[!.]*"))
    (unreadable / "run.json").write_text("{not json")
    want = _runs(_full_copy(cold, full), "--limit", "5")
    reads.clear()
    assert _runs(cold, "--limit", "5") == want
    assert sorted(set(reads)) == sorted([*_ids(want), unreadable.name])
    assert _runs(cold, "--sort", "name") == _runs(full, "--sort", "name")
