"""The index keeps run.json and the writers' state as the files hold them (store/reader.py
keeps the text it parsed): whatever their encoding, what a reader parses back from the
index is what the files say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import flightlog
from flightlog.store.index import Index

from .conftest import settled


def _one_run(store: Path) -> Path:
    run = flightlog.init(project="p", id="r1", config={"lr": 0.5, "note": "é"})
    run.log({"loss": 1.0})
    run.finish(quiet=True)
    settled()  # the writer's last state ('sealing' no more) is written after finish() returns
    return store / "runs" / "p" / "r1"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_meta_and_writers_read_back_from_the_index(store: Path, encoding: str) -> None:
    run_dir = _one_run(store)
    meta = json.loads((run_dir / "run.json").read_text())
    meta["notes"] = "naïve ✓"
    (run_dir / "run.json").write_text(json.dumps(meta, indent=2), encoding=encoding)
    writers = [json.loads(p.read_text()) for p in sorted((run_dir / "writers").glob("*.json"))]
    with Index(store, lazy=True) as idx:
        row = idx.con.execute(
            "SELECT name, notes, meta, writers FROM runs WHERE run_key = 'p/r1'"
        ).fetchone()
    assert row[:2] == (meta["name"], "naïve ✓")
    assert json.loads(row[2]) == meta
    assert json.loads(row[3]) == writers
