"""`flightlog.Api` in wandb's shapes: "entity/project" paths, MongoDB-style filters, wandb's
sort keys, `history(keys=, samples=, x_axis=, pandas=)`, `scan_history`, `summary_metrics`,
`display_name`, `lastHistoryStep`, `files()`, `url`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import flightlog
from flightlog._wandb_filters import translate


@pytest.fixture
def three_runs(store: Path) -> list[str]:
    ids = []
    for i, (lr, tags) in enumerate([(0.1, ["a"]), (0.01, ["b"]), (0.001, ["a", "c"])]):
        run = flightlog.init(
            project="p",
            name=f"run-{i}",
            config={"lr": lr, "opt": "adam"},
            tags=tags,
            reinit="finish_previous",
        )
        for step in range(10):
            run.log({"loss": lr * (10 - step), **({"val": step} if step % 3 == 0 else {})})
        run.summary["acc"] = 0.5 + i / 10
        ids.append(run.id)
        run.finish()
    return ids


def test_runs_takes_entity_project_paths_and_mongo_filters(
    store: Path, three_runs: list[str]
) -> None:
    api = flightlog.Api(store)
    assert [r.id for r in api.runs("me/p")] == three_runs  # the documented wandb form
    assert [r.name for r in api.runs("me/p", filters={"config.lr": {"$lt": 0.05}})] == [
        "run-1",
        "run-2",
    ]
    got = api.runs("p", filters={"$or": [{"tags": "c"}, {"display_name": {"$regex": "^run-0"}}]})
    assert [r.name for r in got] == ["run-0", "run-2"]
    got = api.runs("p", filters={"summary_metrics.acc": {"$gte": 0.6}, "config.opt.value": "adam"})
    assert [r.name for r in got] == ["run-1", "run-2"]
    got = api.runs("p", filters={"config.lr": {"$in": [0.1, 0.001]}}, order="-summary_metrics.acc")
    assert [r.name for r in got] == ["run-2", "run-0"]
    assert [r.name for r in api.runs("p", filters={"name": three_runs[1]})] == ["run-1"]
    assert api.runs("p", filters={"state": "finished", "config.missing": {"$exists": True}}) == []


def test_unsupported_mongo_filters_are_refused_by_name() -> None:
    with pytest.raises(flightlog.Error, match=r"operator '\$elemMatch'"):
        translate({"tags": {"$elemMatch": "a"}})
    with pytest.raises(flightlog.Error, match="cannot filter on wandb field 'sweep'"):
        translate({"sweep": "abc"})
    assert translate({"display_name": "it's"}) == "(name = 'it\\'s')"


def test_history_in_wandbs_shape(store: Path, three_runs: list[str]) -> None:
    pd = pytest.importorskip("pandas")
    run = flightlog.Api(store).run(f"me/p/{three_runs[0]}")
    df = run.history(keys=["val", "never"], pandas=True)
    assert isinstance(df, pd.DataFrame) and "loss" not in df
    assert list(df["_step"]) == [0, 3, 6, 9] and list(df["val"]) == [0, 3, 6, 9]
    sampled = run.history(samples=4)
    assert sampled.column("_step").to_pylist() == [0, 3, 6, 9]
    with pytest.raises(flightlog.Error, match="x_axis 'epoch'"):
        run.history(x_axis="epoch")
    rows = list(run.scan_history(keys=["val"], min_step=1, max_step=7))
    assert [r["_step"] for r in rows] == [3, 6]
    assert run.summary_metrics["acc"] == 0.5 and run.url == str(run.dir)
    assert (run.display_name, run.lastHistoryStep) == ("run-0", 9)


def test_created_at_is_wandbs_iso_string(store: Path, three_runs: list[str]) -> None:
    """wandb's `run.created_at` is "YYYY-MM-DDTHH:MM:SS" in UTC; scripts parse it with
    `datetime.fromisoformat` / `strptime` (an epoch float raised TypeError there) and
    filter runs by it."""
    api = flightlog.Api(store)
    run = api.run(f"p/{three_runs[0]}")
    started = datetime.strptime(run.created_at, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    assert abs(started.timestamp() - run.meta["created_at"]) < 1
    assert abs(started - datetime.now(UTC)) < timedelta(hours=1)
    later = api.runs("p", filters={"created_at": {"$gte": run.created_at}})
    assert run.id in [r.id for r in later]


def test_files_lists_and_downloads_what_the_run_kept(store: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    run = flightlog.init(project="f")
    run.save(str(tmp_path / "notes.txt"), base_path=str(tmp_path), policy="now")
    run.finish()
    api_run = flightlog.Api(store).run(run.path)
    names = [f.name for f in api_run.files()]
    assert "notes.txt" in names
    out = api_run.file("notes.txt").download(root=str(tmp_path / "dl"))
    assert out.read_text() == "hello"
