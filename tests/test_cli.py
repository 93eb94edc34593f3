"""Every `flightlog` command, as a user runs it (real subprocesses, the sample store)."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pyarrow.parquet as pq

import flightlog

from .conftest import cli, settled


def test_runs_table_lists_every_sample_run_with_states(samples: Path) -> None:
    res = cli("runs", "--root", str(samples), "--metric", "val/acc")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 13  # header + 12 runs
    assert "val/acc" in lines[0]
    assert sum("✗" in line for line in lines) == 1  # the diverged run failed
    assert sum("☠" in line for line in lines) == 1  # the killed run crashed


def test_runs_json_filters_and_sort(samples: Path) -> None:
    res = cli(
        "runs",
        "--root",
        str(samples),
        "--json",
        "--group",
        "adam-lr-sweep",
        "--where",
        "summary.val/acc >= 0.9 and config.lr > 1e-3",
        "--sort=-config.lr",
    )
    assert res.returncode == 0, res.stderr
    runs = json.loads(res.stdout)
    assert [r["config"]["lr"] for r in runs] == [0.03, 0.01, 0.003]
    assert all(r["group"] == "adam-lr-sweep" and r["summary"]["val/acc"] >= 0.9 for r in runs)
    res = cli("runs", "--root", str(samples), "--json", "--tag", "baseline", "--state", "finished")
    assert sorted(r["config"]["optimizer"] for r in json.loads(res.stdout)) == ["adam", "sgd"]
    res = cli(
        "runs",
        "--root",
        str(samples),
        "--json",
        "--where",
        "state = crashed or state = failed",
        "--sort",
        "name",
    )
    assert [r["state"] for r in json.loads(res.stdout)] == ["failed", "crashed"]


def test_bad_where_points_at_the_bad_token(samples: Path) -> None:
    res = cli("runs", "--root", str(samples), "--where", "summary.loss < 0.3 andd config.lr")
    assert res.returncode == 1
    assert "'andd' is not a keyword: did you mean 'and'?" in res.stderr
    caret_line = res.stderr.rstrip().splitlines()[-1]
    assert caret_line.index("^") == res.stderr.splitlines()[-2].index("andd")
    assert "Traceback" not in res.stderr


def test_show_by_name_id_and_project_id(samples: Path) -> None:
    run = flightlog.Api(samples).runs(filters="state = failed")[0]
    for ref in (run.name, run.id, f"digits-mlp/{run.id}"):
        res = cli("show", ref, "--root", str(samples))
        assert res.returncode == 0, res.stderr
        assert run.name in res.stdout and "failed" in res.stdout
        assert "FloatingPointError: loss diverged" in res.stdout
    res = cli("show", run.id, "--root", str(samples))
    assert "lr = 30" in res.stdout
    assert any(ch in res.stdout for ch in "▁▂▃▄▅▆▇█")  # metric sparklines
    assert "train/loss" in res.stdout


def test_show_ambiguous_name_lists_candidates(tmp_path: Path, store: Path) -> None:
    for project in ("a", "b"):
        flightlog.init(project=project, name="same-name", reinit=True).finish(quiet=True)
    res = cli("show", "same-name", "--root", str(store))
    assert res.returncode == 1
    assert "matches 2 runs" in res.stderr and "a/" in res.stderr and "b/" in res.stderr


def test_compare_shows_only_differing_config_and_summaries(samples: Path) -> None:
    runs = flightlog.Api(samples).runs(filters="tag = baseline", order="config.optimizer")
    res = cli("compare", runs[0].id, runs[1].id, "--root", str(samples), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(out["config_differences"]) == {"optimizer", "lr", "momentum", "betas"}
    assert out["config_differences"]["optimizer"] == ["adam", "sgd"]
    assert "val/acc" in out["summary"]
    res = cli("compare", runs[0].id, runs[1].id, "--root", str(samples))
    assert "config that differs" in res.stdout and "hidden" not in res.stdout


def test_export_csv_parquet_jsonl(samples: Path, tmp_path: Path) -> None:
    run = flightlog.Api(samples).runs(filters="tag = best-guess")[0]
    res = cli("export", run.id, "--root", str(samples), "--keys", "train/loss", "val/acc")
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(rows) == run.history(keys=["train/loss", "val/acc"]).num_rows
    assert set(rows[0]) == {"_step", "_timestamp", "_runtime", "_writer", "train/loss", "val/acc"}
    out = tmp_path / "h.parquet"
    assert (
        cli(
            "export", run.id, "--root", str(samples), "--format", "parquet", "-o", str(out)
        ).returncode
        == 0
    )
    assert pq.read_table(out).num_rows == run.history().num_rows
    res = cli("export", run.id, "--root", str(samples), "--format", "jsonl", "--keys", "epoch")
    assert json.loads(res.stdout.splitlines()[0])["epoch"] == 0
    res = cli("export", run.id, "--root", str(samples), "--keys", "nope")
    assert res.returncode == 1 and "no metric nope" in res.stderr


def test_sql_over_documented_views_and_read_only(samples: Path) -> None:
    res = cli(
        "sql",
        "SELECT r.name, max(h.value) AS best FROM history h JOIN runs r USING "
        "(run_key) WHERE h.key = 'val/acc' GROUP BY r.name ORDER BY best DESC LIMIT 1",
        "--root",
        str(samples),
        "--format",
        "json",
    )
    assert res.returncode == 0, res.stderr
    (best,) = json.loads(res.stdout)
    assert best["best"] > 0.95
    res = cli(
        "sql",
        "SELECT key, num FROM config WHERE key = 'lr' ORDER BY num LIMIT 2",
        "--root",
        str(samples),
        "--format",
        "csv",
    )
    assert res.stdout.splitlines() == ["key,num", "lr,0.0001", "lr,0.0003"]
    res = cli("sql", "SELECT count(*) FROM summary", "--root", str(samples))
    assert res.returncode == 0
    for bad in ("DELETE FROM runs", "CREATE TABLE x (a INT)", "COPY runs TO 'x.csv'"):
        res = cli("sql", bad, "--root", str(samples))
        assert res.returncode == 1 and "read-only" in res.stderr, bad
    res = cli("sql", "SELECT nope FROM runs", "--root", str(samples))
    assert res.returncode == 1 and "nope" in res.stderr and "Traceback" not in res.stderr


def test_index_rebuild_and_catch_up(samples: Path) -> None:
    res = cli("index", "--root", str(samples))
    assert "12 runs, 12 (re)indexed" in res.stdout, res.stdout + res.stderr
    res = cli("index", "--root", str(samples))
    assert "12 runs, 0 (re)indexed" in res.stdout
    res = cli("index", "--rebuild", "--root", str(samples))
    assert "12 runs, 12 (re)indexed" in res.stdout


def test_doctor_finds_and_repairs_without_deleting(samples: Path) -> None:
    crashed = flightlog.Api(samples).runs(filters="state = crashed")[0]
    open_segs = list((crashed.dir / "history").glob("*.arrows"))
    assert open_segs, "the killed sample run should have an open segment"
    finished = flightlog.Api(samples).runs(filters="state = finished")[0]
    sealed = next((finished.dir / "history").glob("*.parquet"))
    sealed.write_bytes(sealed.read_bytes()[:-100])  # truncated
    (finished.dir / "history" / "junk.tmp").write_text("left over")
    res = cli("doctor", "--root", str(samples))
    assert res.returncode == 1
    assert "unsealed-segment" in res.stdout and "corrupt-segment" in res.stdout
    assert "orphan-file" in res.stdout
    res = cli("doctor", "--repair", "--root", str(samples))
    assert "sealed" in res.stdout and "moved" in res.stdout
    assert res.returncode == 0, res.stdout
    assert not list((crashed.dir / "history").glob("*.arrows"))
    q = samples / "quarantine" / sealed.relative_to(samples)
    assert q.exists() and (q.parent / "junk.tmp").exists()  # set aside, not deleted
    rows = list(flightlog.Api(samples).run(crashed.path).scan_history())
    assert len(rows) == 161  # every complete batch of the killed run kept
    assert cli("doctor", "--root", str(samples)).returncode == 0


def test_no_store_and_empty_store_messages(tmp_path: Path) -> None:
    res = cli("runs", "--root", str(tmp_path / "nothing"))
    assert res.returncode == 1 and "no flightlog store" in res.stderr
    (tmp_path / "empty" / "runs").mkdir(parents=True)
    res = cli("runs", "--root", str(tmp_path / "empty"))
    assert res.returncode == 0 and "flightlog.init(" in res.stdout


def test_errors_are_one_line_and_debug_shows_the_traceback(samples: Path) -> None:
    res = cli("show", "missing", "--root", str(samples))
    assert res.returncode == 1
    assert res.stderr.count("\n") == 1 and "no run 'missing'" in res.stderr
    res = cli("--debug", "show", "missing", "--root", str(samples))
    assert "Traceback" in res.stderr


def test_doctor_checks_system_segments_too(store: Path) -> None:
    run = flightlog.init(project="p", settings={"stats_interval": 0.1})
    deadline = time.time() + 60
    while not list((Path(run.dir) / "system").glob("*.arrows")) and time.time() < deadline:
        time.sleep(0.05)  # the sampler has written a first sample
    run.finish(quiet=True)
    settled()  # the writer thread seals after finish()
    seg = next((Path(run.dir) / "system").glob("*.parquet"))
    seg.write_bytes(b"broken")
    res = cli("doctor", "--root", str(store))
    assert res.returncode == 1 and "corrupt-segment" in res.stdout and "system/" in res.stdout
